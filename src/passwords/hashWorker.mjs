// Runs in piscina worker threads: bcrypt is pure CPU, and on the main thread it would stall every
// other request for the length of a hash. Native bcrypt runs here too, with its synchronous calls:
// its asynchronous ones would run on libuv's thread pool, which cannot be given a lower priority.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { workerData } from 'node:worker_threads';
import bcryptjs from 'bcryptjs';
import { isWorkerThread } from 'piscina';

const require = createRequire(import.meta.url);

// Below the event loop's priority (nice 5; Linux sets it per thread): when logins and reads compete
// for the cores, the reads keep their latency and hashing takes most of the rest (measurements in
// docs/performance.md). Only in the pool's threads: tests import `chooseBcrypt` on their own thread.
if (isWorkerThread) {
  try {
    os.setPriority(5);
  } catch {
    // Not permitted here: hashing still works, at normal priority.
  }
}

/** The installed version of a package (bcryptjs does not export its package.json). */
function packageVersion(name) {
  for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (manifest.name === name) return manifest.version;
    }
  }
  return 'unknown';
}

/**
 * @typedef {object} Bcrypt
 * @property {string} name  the package
 * @property {string} version
 * @property {boolean} native
 * @property {string} [fallbackReason]  why the native package was not used, when it was wanted
 * @property {(password: string, cost: number) => string} hash
 * @property {(password: string, hash: string) => boolean} verify
 */

/** @returns {Bcrypt} */
function pureJavaScript(fallbackReason) {
  return {
    name: 'bcryptjs',
    version: packageVersion('bcryptjs'),
    native: false,
    ...(fallbackReason ? { fallbackReason } : {}),
    hash: (password, cost) => bcryptjs.hashSync(password, cost),
    verify: (password, hash) => bcryptjs.compareSync(password, hash),
  };
}

/**
 * The `bcrypt` package: the same algorithm, hashes as `$2b$`, reads `$2a$` and `$2b$`.
 * @returns {Bcrypt}
 */
function native(bcrypt) {
  return {
    name: 'bcrypt',
    version: packageVersion('bcrypt'),
    native: true,
    hash: (password, cost) => bcrypt.hashSync(password, cost),
    // `$2y$` (PHP's crypt_blowfish) is the same algorithm as `$2b$`, but `bcrypt` answers false for
    // it: such hashes (imported from PHP, accepted by bcryptjs) are checked under the `$2b$` name.
    verify: (password, hash) => bcrypt.compareSync(password, hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash),
  };
}

/**
 * The bcrypt implementation for `preference` (BCRYPT_IMPLEMENTATION): `auto` takes the native
 * `bcrypt` package when it loads (the prebuilt binary it ships for this platform, through Node-API)
 * and bcryptjs otherwise; `native` refuses to go without it; `bcryptjs` never tries it. Both produce
 * and accept the same hashes. Tests pass a `requireNative` that fails the way a missing binary does.
 * @returns {Bcrypt}
 */
export function chooseBcrypt(preference = 'auto', requireNative = () => require('bcrypt')) {
  if (preference === 'bcryptjs') return pureJavaScript();
  try {
    return native(requireNative());
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (preference === 'native') throw new Error(`BCRYPT_IMPLEMENTATION=native, but the bcrypt package cannot be loaded: ${reason}`);
    return pureJavaScript(`the bcrypt package cannot be loaded: ${reason}`);
  }
}

/** @type {Bcrypt | undefined} */
let chosen;
/** Chosen on first use, so that a refusal fails a task (and the pool's warm-up) rather than the thread. */
function bcrypt() {
  chosen ??= chooseBcrypt(workerData?.implementation);
  return chosen;
}

export function hash({ password, cost }) {
  return bcrypt().hash(password, cost);
}

export function verify({ password, hash }) {
  return bcrypt().verify(password, hash);
}

/**
 * A first hash, and which implementation this thread uses (without its functions, which cannot be
 * posted back). A task of a hash's length: the pool's run-time histogram bounds the queue by it.
 */
export function warmUp({ password, cost }) {
  const { name, version, native, fallbackReason } = bcrypt();
  return { hash: bcrypt().hash(password, cost), implementation: { name, version, native, ...(fallbackReason ? { fallbackReason } : {}) } };
}
