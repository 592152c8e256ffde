import type { OpenAPIHono } from "@hono/zod-openapi";
import type { RequestIdVariables } from "hono/request-id";
import type { AuthContext } from "../auth/scopes";
import type { Services } from "../services";

/** Hono environment of every router: services and the request id reach handlers through `c.var`. */
export interface AppEnv {
  Variables: RequestIdVariables & { services: Services; auth: AuthContext };
}

export type AppRouter = OpenAPIHono<AppEnv>;
