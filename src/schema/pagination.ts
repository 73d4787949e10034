import { MAX_PAGE_SIZE } from '../pages.ts';
import { badUserInput } from './errors.ts';

/**
 * Checks what Pothos lets through on integer-keyed connections: it clamps an oversized page
 * instead of refusing it, and decodes a cursor without checking the id's type, so a forged one
 * would reach SQL. Returns the query, its cursor's id now known to be a row id.
 */
export function checkPage<Query extends { cursor?: { id?: unknown } }>(
  args: { first?: number | null; last?: number | null },
  query: Query,
): Omit<Query, 'cursor'> & { cursor?: { id: number } } {
  for (const name of ['first', 'last'] as const) {
    const size = args[name];
    if (size != null && (size < 0 || size > MAX_PAGE_SIZE)) {
      throw badUserInput(`${name} must be between 0 and ${MAX_PAGE_SIZE}`);
    }
  }
  const id = query.cursor?.id;
  if (query.cursor && !(Number.isSafeInteger(id) && (id as number) > 0)) throw badUserInput('Invalid cursor');
  return query as Omit<Query, 'cursor'> & { cursor?: { id: number } };
}
