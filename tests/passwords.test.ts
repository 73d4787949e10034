import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashQueueFullError, PasswordHasher } from '../src/passwords/hasher.ts';
import { chooseBcrypt } from '../src/passwords/hashWorker.mjs';
import { startTestApp, TEST_PASSWORD } from './helpers/app.ts';
import { capturingLogger } from './helpers/logs.ts';
import { isCommonPassword } from '../src/passwords/commonPasswords.ts';
import { passwordProblems, similarity } from '../src/passwords/policy.ts';

describe('password policy', () => {
  it('accepts a long, uncommon passphrase', async () => {
    expect(await passwordProblems('correct horse battery staple', { email: 'bob@example.com', firstName: 'Bob' })).toEqual([]);
  });

  it('reports every broken rule at once', async () => {
    expect(await passwordProblems('123456')).toEqual([
      'This password is too short. It must contain at least 8 characters.',
      'This password is entirely numeric.',
      'This password is too common.',
    ]);
  });

  it('counts characters, not bytes, for the minimum and bytes for the bcrypt maximum', async () => {
    expect(await passwordProblems('ééééééé€')).toEqual([]);
    expect(await passwordProblems('a'.repeat(72))).toEqual([]);
    expect(await passwordProblems('a'.repeat(73))).toEqual(['This password is too long. It must be at most 72 bytes.']);
  });

  it('knows tens of thousands of common passwords, case-insensitively', async () => {
    for (const common of ['password', 'Password', 'iloveyou', 'qwertyuiop', 'starwars']) {
      expect(await passwordProblems(common)).toContain('This password is too common.');
    }
  });

  it('finds every word of the common-password list, and none of their near neighbours', async () => {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    const words = new Set(dictionary['passwords-common'].map((word) => String(word).toLowerCase()));
    const neighbours = [...words].flatMap((word) => [`${word}~`, word.slice(0, -1)]).filter((word) => !words.has(word.trim()));
    let found = 0;
    for (const word of words) if (await isCommonPassword(word)) found += 1;
    let foundNeighbours = 0;
    for (const word of neighbours) if (await isCommonPassword(word)) foundNeighbours += 1;
    expect(found).toBe(words.size);
    expect(neighbours.length).toBeGreaterThan(40_000);
    expect(foundNeighbours).toBe(0);
  });

  it('measures similarity like difflib.SequenceMatcher.ratio', () => {
    expect(similarity('abcd', 'bcde')).toBe(0.75);
    expect(similarity('', '')).toBe(1);
    expect(similarity('abc', 'xyz')).toBe(0);
  });

  it('refuses passwords too similar to the email or names, and ignores short attributes', async () => {
    expect(await passwordProblems('jsmith.example', { email: 'jsmith@example.com' })).toContain(
      'The password is too similar to the email address.',
    );
    expect(await passwordProblems('Christopher1', { lastName: 'Christopher' })).toContain('The password is too similar to the last name.');
    expect(await passwordProblems('a perfectly long passphrase', { firstName: 'Al' })).toEqual([]);
  });
});

describe('password hasher', () => {
  const hasher = new PasswordHasher({ cost: 10, threads: 1 });
  afterAll(() => hasher.close());

  it('hashes with bcrypt at the configured cost and verifies', async () => {
    const hash = await hasher.hash('a fine passphrase');
    expect(bcrypt.getRounds(hash)).toBe(10);
    expect(await hasher.verify('a fine passphrase', hash)).toBe(true);
    expect(await hasher.verify('another passphrase', hash)).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(hasher.needsRehash(bcrypt.hashSync('x', 4))).toBe(true);
  });

  it('never accepts a missing hash, while still spending one check on it', async () => {
    const before = hasher.operations;
    expect(await hasher.verify('anything at all', null)).toBe(false);
    expect(hasher.operations - before).toBe(1);
  });

  it('does not let bcrypt truncation accept a longer password with the same first 72 bytes', async () => {
    const base = 'b'.repeat(72);
    const hash = await hasher.hash(base);
    expect(await hasher.verify(`${base}extra`, hash)).toBe(false);
  });
});

describe('password policy on hostile input', () => {
  it('reports only the length rule for a 100 KB password, skipping the quadratic similarity check', async () => {
    const problems = await passwordProblems('x'.repeat(100_000), { email: `${'y'.repeat(240)}@example.com`, firstName: 'z'.repeat(150) });
    expect(problems).toEqual(['This password is too long. It must be at most 72 bytes.']);
  });
});

describe('password hasher under a flood', () => {
  const hasher = new PasswordHasher({ cost: 10, threads: 1, maxWaitMs: 300 });
  afterAll(() => hasher.close());

  it('refuses new work once the queue holds more than maxWaitMs of it, and accepts again when it drains', async () => {
    await hasher.warmUp();
    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => hasher.hash(`flood passphrase ${i}`)));
    const hashed = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(hashed.length).toBeGreaterThan(1);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((reason) => reason instanceof HashQueueFullError && reason.retryAfterSeconds >= 1)).toBe(true);
    expect(await hasher.verify('flood passphrase 0', (hashed[0] as PromiseFulfilledResult<string>).value)).toBe(true);
  });
});

describe('password hasher queue order', () => {
  const hasher = new PasswordHasher({ cost: 10, threads: 1 });
  afterAll(() => hasher.close());

  // A check that waits behind others must not be passed over by later ones: piscina 5 put a task
  // it could not start at the back of the queue, and in a steady flood some logins never started.
  it('starts waiting checks in the order they were asked for', async () => {
    await hasher.warmUp();
    const hash = await hasher.hash('queued passphrase');
    const finished: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => hasher.verify('queued passphrase', hash).then(() => finished.push(i))));
    expect(finished).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('native bcrypt beside bcryptjs', () => {
  const native = new PasswordHasher({ cost: 10, threads: 1 });
  const javaScript = new PasswordHasher({ cost: 10, threads: 1, implementation: 'bcryptjs' });
  const password = 'ünïcode and a long passphrase, 42';
  beforeAll(() => Promise.all([native.warmUp(), javaScript.warmUp()]));
  afterAll(() => Promise.all([native.close(), javaScript.close()]));

  it('uses the native bcrypt package where it loads, and bcryptjs when BCRYPT_IMPLEMENTATION=bcryptjs', () => {
    expect(native.implementation).toEqual({ name: 'bcrypt', version: '6.0.0', native: true });
    expect(javaScript.implementation).toEqual({ name: 'bcryptjs', version: '3.0.3', native: false });
  });

  it('each accepts the other’s hashes, as $2a$, $2b$ and $2y$, and refuses a wrong password', async () => {
    const hashes = [await native.hash(password), await javaScript.hash(password)];
    for (const hash of hashes) {
      expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
      for (const prefix of ['$2a$', '$2b$', '$2y$']) {
        const variant = `${prefix}${hash.slice(4)}`;
        for (const hasher of [native, javaScript]) {
          expect(await hasher.verify(password, variant), `${hasher.implementation!.name} ${variant}`).toBe(true);
          expect(await hasher.verify(`${password}!`, variant)).toBe(false);
        }
      }
    }
  });

  it('falls back to bcryptjs when the native package cannot load, and BCRYPT_IMPLEMENTATION=native refuses to start', () => {
    // A binary built for another platform fails to load as a missing or incompatible one does.
    const foreignBinary = () => createRequire(import.meta.url)('bcrypt/prebuilds/darwin-arm64/bcrypt.node');
    const fallback = chooseBcrypt('auto', foreignBinary);
    expect(fallback).toMatchObject({ name: 'bcryptjs', native: false, fallbackReason: expect.stringMatching(/^the bcrypt package cannot be loaded: .+/) });
    const hash = fallback.hash(password, 4);
    expect(chooseBcrypt('auto').verify(password, hash)).toBe(true);
    expect(fallback.verify(password, chooseBcrypt('auto').hash(password, 4))).toBe(true);
    expect(() => chooseBcrypt('native', foreignBinary)).toThrow(/^BCRYPT_IMPLEMENTATION=native, but the bcrypt package cannot be loaded: /);
    expect(chooseBcrypt('native')).toMatchObject({ name: 'bcrypt', native: true });
  });
});

describe('signing in with either implementation', () => {
  it('logs the implementation at start-up, and each app signs in users whose hash the other made', async () => {
    const nativeLog = capturingLogger('info');
    const javaScriptLog = capturingLogger('info');
    const nativeApp = await startTestApp({}, { logger: nativeLog.logger });
    const javaScriptApp = await startTestApp({ BCRYPT_IMPLEMENTATION: 'bcryptjs' }, { logger: javaScriptLog.logger });
    try {
      const startUp = (lines: string[]) => lines.map((line) => JSON.parse(line)).find((entry) => /^password hashing/.test(entry.msg));
      expect(startUp(nativeLog.lines)).toMatchObject({ level: 30, bcrypt: 'bcrypt', msg: 'password hashing: bcrypt 6.0.0 (native), cost 10, 1 thread(s)' });
      expect(startUp(javaScriptLog.lines)).toMatchObject({
        level: 30,
        bcrypt: 'bcryptjs',
        msg: 'password hashing: bcryptjs 3.0.3 (JavaScript), cost 10, 1 thread(s)',
      });
      for (const [from, to] of [
        [nativeApp, javaScriptApp],
        [javaScriptApp, nativeApp],
      ] as const) {
        const email = `hashed-by-${from.services.hasher.implementation!.name}@example.com`;
        const passwordHash = await from.services.hasher.hash(TEST_PASSWORD);
        await to.services.prisma.user.create({ data: { email, passwordHash } });
        const signedIn = await to.client().login(email, TEST_PASSWORD);
        expect(signedIn.headers.getSetCookie().some((cookie) => cookie.startsWith('sid='))).toBe(true);
        await expect(to.client().login(email, `${TEST_PASSWORD}x`)).rejects.toThrow(`login failed for ${email}`);
      }
    } finally {
      await Promise.all([nativeApp.stop(), javaScriptApp.stop()]);
    }
  });
});
