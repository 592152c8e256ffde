import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { loadConfig } from "../../src/config";
import { parseCsv } from "../../src/http/streaming-csv";
import { createLogger } from "../../src/platform/log/logger";
import { createNodeDatabase } from "../../src/platform/node/node-platform";
import { runAdmin } from "../support/admin-cli";

let dir: string;
let settings: Record<string, string>;

/** The admin CLI on this suite's own embedded data directory. */
const admin = (args: string[]) => runAdmin(args, settings);

async function* chunks(text: string) {
  yield text;
}

describe("npm run admin -- import / export", () => {
  let workspaceId: string;
  let imported: { id: string; slug: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgelink-transfer-"));
    settings = { PGLITE_DATA_DIR: join(dir, "pglite"), IMPORT_BATCH_SIZE: "200", EXPORT_PAGE_SIZE: "100" };
    const created = await admin(["workspace", "create", "--name", "Transfer", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    workspaceId = JSON.parse(created.stdout).workspace.id;
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("imports an NDJSON file: a result line per input line on stdout, a progress bar and a summary on stderr", async () => {
    const run = randomUUID().slice(0, 6);
    const lines = Array.from({ length: 3_000 }, (_, i) =>
      i === 1_000
        ? "{oops"
        : i === 2_000
          ? '{"url":"javascript:alert(1)"}'
          : JSON.stringify({ url: `https://example.com/${i}`, slug: `cli-${run}-${i}` }),
    );
    const file = join(dir, "links.ndjson");
    await writeFile(file, `${lines.join("\n")}\n`);
    const result = await admin(["import", file, "--workspace", workspaceId]);
    expect(result.code, result.stderr).toBe(1); // two lines were not created
    const results = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(results).toHaveLength(3_000);
    expect(results.filter((r) => r.status === "error").map((r) => r.line)).toEqual([1_001, 2_001]);
    expect(results.every((r, i) => r.line === i + 1)).toBe(true);
    imported = results.filter((r) => r.status === "created");
    expect(result.stderr).toMatch(/^import \[#{24}\] 100% 3,000 rows [\d,]+ rows\/s in \d+s$/m);
    expect(result.stderr).toContain("Imported 2998 links; 2 lines failed");
  }, 60_000);

  it("imports CSV (format from the extension) and exits 0 when every line was created", async () => {
    const file = join(dir, "links.csv");
    await writeFile(file, `url,title,tags\nhttps://example.com/csv,"Two\nlines",a;b\n`);
    const result = await admin(["import", file, "--workspace", workspaceId, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ line: 2, status: "created" });
    expect(result.stderr).toContain('{"import":{"imported":1,"failed":0,"aborted":null}}');
  }, 60_000);

  it("exports clicks to a file (CSV) or stdout (NDJSON, one link), with a counted progress bar", async () => {
    const db = await createNodeDatabase(loadConfig(settings), createLogger({ level: "silent" }));
    const base = Date.UTC(2026, 10, 27, 12);
    try {
      await ingestClicks(
        db.primary,
        Array.from({ length: 450 }, (_, i) => ({
          eventId: randomUUID(),
          linkId: imported[i % 3]!.id,
          workspaceId,
          occurredAt: base + Math.floor(i / 50) * 1_000,
          traffic: "human" as const,
          reason: "browser",
          country: "DE",
          device: "mobile",
          browser: "Safari, Mobile",
          os: "iOS",
          referrerHost: null,
          visitorHash: "h",
        })),
      );
    } finally {
      await db.close();
    }
    const out = join(dir, "clicks.csv");
    const range = ["--from", "2026-11-27", "--to", "2026-11-28"];
    const csv = await admin([
      "export",
      "--workspace",
      workspaceId,
      ...range,
      "--format",
      "csv",
      "--out",
      out,
    ]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toBe("");
    expect(csv.stderr).toMatch(/^export \[#{24}\] 100% 450 rows [\d,]+ rows\/s in \d+s$/m);
    expect(csv.stderr).toContain(`Exported 450 clicks to ${out}.`);
    const records = [];
    for await (const record of parseCsv(chunks(await readFile(out, "utf8")))) records.push(record);
    expect(records).toHaveLength(451);
    expect(records[1]!.fields[7]).toBe("Safari, Mobile");

    const one = await admin(["export", "--workspace", workspaceId, ...range, "--link", imported[0]!.id]);
    expect(one.code, one.stderr).toBe(0);
    const rows = one.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(150);
    expect(new Set(rows.map((r) => r.linkId))).toEqual(new Set([imported[0]!.id]));
  }, 60_000);

  it("refuses bad usage with exit 2 and a missing file with exit 1, one line each", async () => {
    const runs = await Promise.all([
      admin(["import", "--workspace", workspaceId]),
      admin(["import", "a.ndjson", "b.ndjson", "--workspace", workspaceId]),
      admin(["import", "a.ndjson", "--workspace", workspaceId, "--format", "xml"]),
      admin(["export", "--workspace", workspaceId, "--from", "2026-11-28", "--to", "2026-11-27"]),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^edgelink admin: .+ \(see npm run admin -- --help\)\n$/);
    }
    const missing = await admin(["import", join(dir, "nope.ndjson"), "--workspace", workspaceId]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("no such file");
  }, 60_000);
});
