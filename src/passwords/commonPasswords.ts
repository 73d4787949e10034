import { readFile } from 'node:fs/promises';

/**
 * 49,000 most common passwords, from the zxcvbn-ts project's common-language dictionary, lower-cased,
 * sorted and joined by newlines (written at install by scripts/commonPasswords.ts), with where
 * each one starts: ~0.6 MB, against ~3.7 MB for a Set of the words.
 */
interface SortedWords {
  text: string;
  starts: Uint32Array;
}

// Beside this module in src/, and beside the built code in dist/ (scripts/build.ts copies it).
const listFile = new URL('./common-passwords.txt', import.meta.url);

async function load(): Promise<SortedWords> {
  let text: string;
  try {
    text = await readFile(listFile, 'utf8');
  } catch (error) {
    throw new Error(`the common-password list ${listFile.pathname} cannot be read (npm install writes it): ${(error as Error).message}`);
  }
  const starts = [0];
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return { text, starts: Uint32Array.from(starts) };
}

/** The word at `index` compared with `word`, by UTF-16 unit as `sort()` orders them, without copying it. */
function compareAt(words: SortedWords, index: number, word: string): number {
  const start = words.starts[index]!;
  const length = words.starts[index + 1]! - start - 1;
  for (let i = 0; i < Math.min(length, word.length); i += 1) {
    const difference = words.text.charCodeAt(start + i) - word.charCodeAt(i);
    if (difference !== 0) return difference;
  }
  return length - word.length;
}

let loaded: Promise<SortedWords> | undefined;

/** Whether the password is one of the common ones, case aside. The list is read at the first call. */
export async function isCommonPassword(password: string): Promise<boolean> {
  loaded ??= load().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  const words = await loaded;
  const word = password.trim().toLowerCase();
  let low = 0;
  let high = words.starts.length - 2;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const order = compareAt(words, middle, word);
    if (order === 0) return true;
    if (order < 0) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}
