/**
 * What the service accepts as text. A JSON string may hold a lone UTF-16 surrogate ("\ud800"),
 * which is no Unicode character: neither database can store it, and it would reach bcrypt as
 * U+FFFD. PostgreSQL cannot store U+0000 in text either, and no name, email, password or token
 * needs it, so it is refused on every database alike.
 */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const NULL_CHARACTER = 'Null characters are not allowed.';
export const NOT_UNICODE = 'Enter valid text: this value contains an unpaired surrogate, which is not a Unicode character.';

/** Why a string is not acceptable text, or null when it is. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return NULL_CHARACTER;
  if (UNPAIRED_SURROGATE.test(value)) return NOT_UNICODE;
  return null;
}

/** The first `max` UTF-16 units of a string, without cutting a surrogate pair in two. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export interface TextProblem {
  /** Where the string is: argument name, then input field names and list indexes. */
  path: (string | number)[];
  message: string;
}

interface Visit {
  value: unknown;
  key: string | number;
  parent: Visit | null;
}

function pathOf(visit: Visit): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Visit | null = visit; at; at = at.parent) path.push(at.key);
  return path.reverse();
}

/**
 * Every string in a value (arguments as GraphQL coerced them: objects, lists, scalars) that is not
 * acceptable text, in the order they appear. Walks breadth-first without recursion and keeps each
 * path as a link to its parent, so neither a deeply nested value nor a long list costs more than
 * its size.
 */
export function findTextProblems(root: Record<string, unknown>): TextProblem[] {
  const problems: TextProblem[] = [];
  const queue: Visit[] = Object.entries(root).map(([key, value]) => ({ value, key, parent: null }));
  for (let index = 0; index < queue.length; index += 1) {
    const visit = queue[index]!;
    const { value } = visit;
    if (typeof value === 'string') {
      const message = textProblem(value);
      if (message) problems.push({ path: pathOf(visit), message });
    } else if (Array.isArray(value)) {
      value.forEach((item, key) => queue.push({ value: item, key, parent: visit }));
    } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const [key, item] of Object.entries(value)) queue.push({ value: item, key, parent: visit });
    }
  }
  return problems;
}
