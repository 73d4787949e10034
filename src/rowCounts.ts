import type { DatabaseProvider } from './config.ts';
import type { Database, DirectReads } from './db.ts';

/**
 * The tables whose rows the RowCount table counts. The migration `row_counts` keeps it with
 * triggers: on SQLite in slot 0; on PostgreSQL each connection adds its inserts and deletes to a
 * row of its own (slot = its backend pid), so writers never queue on one counter.
 */
export type CountedTable = 'User' | 'AuthEvent';

/** How many rows `table` holds, read from its counter rows whatever the table's size. */
export async function countAllRows(reads: DirectReads, table: CountedTable): Promise<number> {
  const row = await reads.get<{ count: number | bigint | string | null }>(`SELECT SUM("rows") AS "count" FROM "RowCount" WHERE "table" = ?`, table);
  // PostgreSQL's SUM of a bigint is a numeric, which `pg` returns as a string.
  return Number(row?.count ?? 0);
}

/**
 * Folds the per-connection counter rows into slot 0 on PostgreSQL, so a count reads few rows
 * however many connections have come and gone. One statement, so a reader sees the rows either
 * before or after it. Rows a running transaction holds are skipped (folded next time): this never
 * waits on a writer, and so never deadlocks with one. Returns how many rows it folded.
 */
export async function foldRowCounts(prisma: Database, provider: DatabaseProvider): Promise<number> {
  if (provider !== 'postgresql') return 0;
  const [{ folded }] = await prisma.$queryRawUnsafe<[{ folded: number }]>(`
    WITH "gone" AS (
      DELETE FROM "RowCount" WHERE ("table", "slot") IN (
        SELECT "table", "slot" FROM "RowCount" WHERE "slot" <> 0 FOR UPDATE SKIP LOCKED)
      RETURNING "table", "rows"
    ), "sums" AS (
      SELECT "table", SUM("rows") AS "rows", COUNT(*) AS "folded" FROM "gone" GROUP BY "table"
    ), "updated" AS (
      UPDATE "RowCount" AS "base" SET "rows" = "base"."rows" + "sums"."rows"
      FROM "sums" WHERE "base"."table" = "sums"."table" AND "base"."slot" = 0
    )
    SELECT COALESCE(SUM("folded"), 0)::int AS "folded" FROM "sums"`);
  return folded;
}
