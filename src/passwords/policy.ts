import { longerThan, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH } from '../limits.ts';
import { isCommonPassword } from './commonPasswords.ts';
import { MAX_PASSWORD_BYTES, passwordTooLong } from './hasher.ts';

export const MIN_PASSWORD_LENGTH = 8;
const MAX_SIMILARITY = 0.7;

export interface PasswordContext {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

/** Length of the longest common substring, with its positions: one step of Ratcliff/Obershelp. */
function longestMatch(a: string, b: string): { i: number; j: number; size: number } {
  let best = { i: 0, j: 0, size: 0 };
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j += 1) {
      if (a[i - 1] === b[j - 1]) {
        current[j] = previous[j - 1]! + 1;
        if (current[j]! > best.size) best = { i: i - current[j]!, j: j - current[j]!, size: current[j]! };
      }
    }
    previous = current;
  }
  return best;
}

function matchingCharacters(a: string, b: string): number {
  const { i, j, size } = longestMatch(a, b);
  if (size === 0) return 0;
  return size + matchingCharacters(a.slice(0, i), b.slice(0, j)) + matchingCharacters(a.slice(i + size), b.slice(j + size));
}

/**
 * An upper bound of similarity() in linear time (difflib's quick_ratio): twice the characters the
 * two strings share, counted with multiplicity, over their total length.
 */
function quickSimilarity(a: string, b: string): number {
  const total = a.length + b.length;
  if (total === 0) return 1;
  // By UTF-16 unit, as similarity() compares them.
  const available = new Map<number, number>();
  for (let j = 0; j < b.length; j += 1) available.set(b.charCodeAt(j), (available.get(b.charCodeAt(j)) ?? 0) + 1);
  let shared = 0;
  for (let i = 0; i < a.length; i += 1) {
    const left = available.get(a.charCodeAt(i)) ?? 0;
    if (left > 0) {
      available.set(a.charCodeAt(i), left - 1);
      shared += 1;
    }
  }
  return (2 * shared) / total;
}

/** The similarity ratio of Python's difflib.SequenceMatcher, which Django's validator uses. */
export function similarity(a: string, b: string): number {
  const total = a.length + b.length;
  return total === 0 ? 1 : (2 * matchingCharacters(a, b)) / total;
}

function tooSimilar(password: string, value: string): boolean {
  const lowered = password.toLowerCase();
  const parts = [value, ...value.split(/\W+/)].map((part) => part.toLowerCase()).filter((part) => part.length > 0);
  return parts.some((part) => {
    // As Django: a short attribute cannot make a much longer password weak.
    if (lowered.length >= 10 * part.length && part.length < (MAX_SIMILARITY / 2) * lowered.length) return false;
    // The exact ratio is quadratic; the linear bound settles most parts, all those of very
    // different lengths among them.
    return quickSimilarity(lowered, part) >= MAX_SIMILARITY && similarity(lowered, part) >= MAX_SIMILARITY;
  });
}

/** Every rule the password breaks, as messages for one field error (empty when it is fine). */
export async function passwordProblems(password: string, context: PasswordContext = {}): Promise<string[]> {
  const problems: string[] = [];
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (passwordTooLong(password)) {
    problems.push(`This password is too long. It must be at most ${MAX_PASSWORD_BYTES} bytes.`);
  }
  if (/^\d+$/.test(password)) {
    problems.push('This password is entirely numeric.');
  }
  if (await isCommonPassword(password)) {
    problems.push('This password is too common.');
  }
  // The similarity check costs the product of the lengths, so it looks only at values within their
  // limits: an over-long password or attribute has failed its own rule already.
  if (passwordTooLong(password)) return problems;
  const attributes: [string, string | null | undefined, number][] = [
    ['email address', context.email, MAX_EMAIL_LENGTH],
    ['first name', context.firstName, MAX_NAME_LENGTH],
    ['last name', context.lastName, MAX_NAME_LENGTH],
  ];
  for (const [label, value, limit] of attributes) {
    if (value && !longerThan(value, limit) && tooSimilar(password, value)) {
      problems.push(`The password is too similar to the ${label}.`);
    }
  }
  return problems;
}
