import { type SQLWrapper, sql } from "drizzle-orm";
import type { Database } from "../../src/platform/db/database";

/** A node of a plan, as Postgres' JSON EXPLAIN names its fields. */
export interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  "Conflict Arbiter Indexes"?: string[];
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/**
 * EXPLAINs `query` — the very drizzle query object a repository awaits, parameters included, or a
 * statement it sent — inside a transaction, optionally with sequential scans priced out (`SET
 * LOCAL`, so it never leaks to another use of a pooled connection). No ANALYZE: a data-modifying
 * statement is planned, never run.
 */
export async function explain(db: Database, query: SQLWrapper, options: { noSeqScan?: boolean } = {}) {
  return db.primary.transaction(async (tx) => {
    if (options.noSeqScan) await tx.execute(sql`set local enable_seqscan = off`);
    const result = (await tx.execute(sql`explain (format json) ${query}`)) as unknown as
      | { rows: Record<string, unknown>[] }
      | Record<string, unknown>[];
    const rows = Array.isArray(result) ? result : result.rows;
    const raw = rows[0]!["QUERY PLAN"];
    const [root] = (typeof raw === "string" ? JSON.parse(raw) : raw) as [{ Plan: PlanNode }];
    const nodes = nodesOf(root.Plan);
    return {
      nodes,
      types: nodes.map((node) => node["Node Type"]),
      indexes: nodes.flatMap((node) => (node["Index Name"] ? [node["Index Name"]] : [])),
      seqScans: nodes.filter((node) => node["Node Type"] === "Seq Scan").map((node) => node["Relation Name"]),
      /** The plan's shape, for assertion messages. */
      text: JSON.stringify(root.Plan, [
        "Node Type",
        "Index Name",
        "Relation Name",
        "Index Cond",
        "Filter",
        "Plans",
      ]),
    };
  });
}
