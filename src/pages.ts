import type { DirectReads } from './db.ts';
import { countAllRows, type CountedTable } from './rowCounts.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** One condition of a list or its count: SQL valid on SQLite and PostgreSQL with `?` placeholders, and its values. */
export type SqlCondition = readonly [sql: string, ...params: unknown[]];

/**
 * A list's total. Without conditions it is the table's count that triggers keep (src/rowCounts.ts):
 * even a plain count takes ~100 ms for a million rows on PostgreSQL.
 *
 * With conditions it is one plain `SELECT COUNT(*) ... WHERE` on the direct-read connection.
 * Prisma's `count()` (and `aggregate`) counts the rows of a `SELECT id ... LIMIT ? OFFSET ?`
 * subquery, which the database cannot flatten: it produces every matching row one by one, where a
 * plain count counts an index's entries. The conditions must select exactly the rows of the list's
 * Prisma `where`. Booleans are bound as 1/0, which both databases read as the column's boolean.
 */
export async function countRows(reads: DirectReads, table: CountedTable, conditions: readonly SqlCondition[]): Promise<number> {
  if (conditions.length === 0) return countAllRows(reads, table);
  const { where, params } = whereClause(conditions);
  const row = await reads.get<{ count: number | bigint | string }>(`SELECT COUNT(*) AS "count" FROM "${table}"${where}`, ...params);
  // PostgreSQL's COUNT is a bigint, which `pg` returns as a string.
  return Number(row?.count ?? 0);
}

/** ` WHERE` and the conditions joined with AND (nothing for none), and their values in order. */
export function whereClause(conditions: readonly SqlCondition[]): { where: string; params: unknown[] } {
  return {
    where: conditions.length === 0 ? '' : ` WHERE ${conditions.map(([sql]) => sql).join(' AND ')}`,
    params: conditions.flatMap(([, ...values]) => values.map((value) => (typeof value === 'boolean' ? Number(value) : value))),
  };
}
