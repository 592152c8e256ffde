/**
 * The slice of `cloudflare:workers` these suites use. The project's tsconfig leaves out
 * @cloudflare/workers-types (its globals clash with the DOM lib that the portable code is typed
 * against), so the module the Workers runtime provides is declared here with DOM types.
 */
declare module "cloudflare:workers" {
  /** The Worker's bindings: wrangler.toml `[vars]` plus the test project's `miniflare.bindings`. */
  export const env: Record<string, unknown>;
  /** The Worker's own exports as loopback services; `exports.default.fetch` goes through its fetch handler. */
  export const exports: {
    default: { fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> };
  };
}
