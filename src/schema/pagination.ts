import { badUserInput } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/**
 * Checks what Pothos lets through on integer-keyed connections: it clamps an oversized page
 * instead of refusing it, and decodes a cursor without checking the id's type, so a forged one
 * would reach SQL.
 */
export function checkPage(args: { first?: number | null; last?: number | null }, query: { cursor?: { id?: unknown } }): void {
  for (const name of ['first', 'last'] as const) {
    const size = args[name];
    if (size != null && (size < 0 || size > MAX_PAGE_SIZE)) {
      throw badUserInput(`${name} must be between 0 and ${MAX_PAGE_SIZE}`);
    }
  }
  const id = query.cursor?.id;
  if (query.cursor && !(Number.isSafeInteger(id) && (id as number) > 0)) throw badUserInput('Invalid cursor');
}
