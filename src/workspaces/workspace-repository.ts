import { eq } from "drizzle-orm";
import { workspaces } from "../../db/schema";
import type { Database } from "../platform/db/database";

export type Workspace = typeof workspaces.$inferSelect;

/** Workspaces are the tenants: every other row belongs to exactly one. */
export function createWorkspaceRepository(db: Database) {
  return {
    async create(input: { name: string }): Promise<Workspace> {
      const [row] = await db.primary.insert(workspaces).values({ name: input.name }).returning();
      return row!;
    },

    async findById(id: string): Promise<Workspace | null> {
      const [row] = await db.primary.select().from(workspaces).where(eq(workspaces.id, id)).limit(1);
      return row ?? null;
    },
  };
}

export type WorkspaceRepository = ReturnType<typeof createWorkspaceRepository>;
