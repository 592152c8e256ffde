import { z } from "@hono/zod-openapi";

/** Everything an API key can be allowed to do. `keys:admin` manages the workspace's keys. */
export const scopes = ["links:read", "links:write", "analytics:read", "keys:admin"] as const;
export type Scope = (typeof scopes)[number];
export const scopeSchema = z.enum(scopes);

/** Who is calling: set by the auth middleware on every `/api/v1` request it lets through. */
export interface AuthContext {
  workspaceId: string;
  keyId: string;
  scopes: readonly Scope[];
  /** How the caller proved it: its API key, or a token exchanged for one (`POST /auth/token`). */
  credential?: "api-key" | "token";
  /** The API key's own expiry (epoch ms; null: none), which a token exchanged for it never outlives. */
  keyExpiresAt?: number | null;
}
