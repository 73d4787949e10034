import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * 49,000 most common passwords, from the zxcvbn-ts project's common-language dictionary, lower-cased,
 * sorted and joined by newlines, with where each one starts.
 */
interface SortedWords {
  text: string;
  starts: Uint32Array;
}

const listFile = createRequire(import.meta.url).resolve('@zxcvbn-ts/language-common/dist/passwords.json.cjs');

// The package ships the list compressed, and unpacking it makes ~10 MB of short-lived strings that
// grow the heap of whichever thread unpacks it, for good. A thread of its own unpacks it and exits,
// and hands over one string and its offsets (~0.6 MB, against ~3.7 MB for a Set of the words).
const UNPACK = `
const { parentPort, workerData } = require('node:worker_threads');
const words = [...new Set(require(workerData).map((word) => String(word).toLowerCase()))].sort();
const starts = new Uint32Array(words.length + 1);
for (let i = 0; i < words.length; i += 1) starts[i + 1] = starts[i] + words[i].length + 1;
parentPort.postMessage({ text: words.join('\\n') + '\\n', starts }, [starts.buffer]);
`;

function unpack(): Promise<SortedWords> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(UNPACK, { eval: true, workerData: listFile });
    worker.once('message', (words: SortedWords) => {
      resolve(words);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`unpacking the common passwords ended (exit code ${code})`)));
  });
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
  loaded ??= unpack().catch((error: unknown) => {
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
