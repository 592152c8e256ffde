// Shared by the baselines: the link map, the answers edgelink gives, and the cluster wrapper.
import cluster from "node:cluster";

/** The one hot link (same slug and target as the one seeded into edgelink), from the harness. */
export const links = new Map([
  [process.env.BENCH_SLUG ?? "hot", process.env.BENCH_TARGET ?? "https://example.com/landing"],
]);
// redirect-mix: the same BENCH_MIX_LINKS links the harness inserts into edgelink's Postgres,
// `/<BENCH_MIX_PREFIX><n>` → `<BENCH_TARGET>/<n>` for n = 1..BENCH_MIX_LINKS.
for (let n = 1; n <= Number(process.env.BENCH_MIX_LINKS ?? 0); n += 1) {
  links.set(`${process.env.BENCH_MIX_PREFIX ?? "m"}${n}`, `${process.env.BENCH_TARGET}/${n}`);
}
/** edgelink's default `cacheControl` for a link. */
export const cacheControl = "private, max-age=0";
export const port = Number(process.env.PORT ?? 3000);
export const host = process.env.HOST ?? "127.0.0.1";

/** A problem body shaped like edgelink's 404 (same type, title and fields, no request id). */
export const notFound = (slug) =>
  JSON.stringify({
    type: "https://edgelink.dev/problems/not-found",
    title: "Not found",
    status: 404,
    detail: `No link /${slug}.`,
    code: "NOT_FOUND",
    instance: `/${slug}`,
  });

/** Runs `serve` once (WORKERS unset or 1) or in a node:cluster of WORKERS workers sharing the port. */
export function run(serve) {
  const workers = Number(process.env.WORKERS ?? 1);
  if (workers > 1 && cluster.isPrimary) {
    for (let i = 0; i < workers; i += 1) cluster.fork();
    process.on("SIGTERM", () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
      process.exit(0);
    });
    return;
  }
  process.on("SIGTERM", () => process.exit(0));
  serve(() => console.log(JSON.stringify({ msg: "listening", pid: process.pid, port })));
}
