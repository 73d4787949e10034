import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import { HashQueueFullError, PasswordHasher } from '../src/passwords/hasher.ts';
import { passwordProblems, similarity } from '../src/passwords/policy.ts';

describe('password policy', () => {
  it('accepts a long, uncommon passphrase', () => {
    expect(passwordProblems('correct horse battery staple', { email: 'bob@example.com', firstName: 'Bob' })).toEqual([]);
  });

  it('reports every broken rule at once', () => {
    expect(passwordProblems('123456')).toEqual([
      'This password is too short. It must contain at least 8 characters.',
      'This password is entirely numeric.',
      'This password is too common.',
    ]);
  });

  it('counts characters, not bytes, for the minimum and bytes for the bcrypt maximum', () => {
    expect(passwordProblems('ééééééé€')).toEqual([]);
    expect(passwordProblems('a'.repeat(72))).toEqual([]);
    expect(passwordProblems('a'.repeat(73))).toEqual(['This password is too long. It must be at most 72 bytes.']);
  });

  it('knows tens of thousands of common passwords, case-insensitively', () => {
    for (const common of ['password', 'Password', 'iloveyou', 'qwertyuiop', 'starwars']) {
      expect(passwordProblems(common)).toContain('This password is too common.');
    }
  });

  it('measures similarity like difflib.SequenceMatcher.ratio', () => {
    expect(similarity('abcd', 'bcde')).toBe(0.75);
    expect(similarity('', '')).toBe(1);
    expect(similarity('abc', 'xyz')).toBe(0);
  });

  it('refuses passwords too similar to the email or names, and ignores short attributes', () => {
    expect(passwordProblems('jsmith.example', { email: 'jsmith@example.com' })).toContain(
      'The password is too similar to the email address.',
    );
    expect(passwordProblems('Christopher1', { lastName: 'Christopher' })).toContain('The password is too similar to the last name.');
    expect(passwordProblems('a perfectly long passphrase', { firstName: 'Al' })).toEqual([]);
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
  it('reports only the length rule for a 100 KB password, skipping the quadratic similarity check', () => {
    const problems = passwordProblems('x'.repeat(100_000), { email: `${'y'.repeat(240)}@example.com`, firstName: 'z'.repeat(150) });
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
