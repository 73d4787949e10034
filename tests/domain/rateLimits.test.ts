// Rate limits (src/rateLimits.ts) called directly, with the counters the app uses on this
// database: in-process on SQLite, the RateLimit table shared by instances on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCredentialsError } from '../../src/errors.ts';
import { memoryLimiters, postgresLimiters, RateLimitedError, RateLimits, type Operation, type Subject } from '../../src/rateLimits.ts';
import { DEFAULT_RATES, type Rates } from '../../src/rates.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';

let parts: DomainParts;
beforeAll(async () => {
  parts = await domainParts();
});
afterAll(() => parts?.close());

const RATES: Rates = { ...DEFAULT_RATES, ipAttempts: { points: 6, seconds: 60 }, emailIpFailures: { points: 3, seconds: 60 } };

function limits(enabled = true, rates: Rates = RATES) {
  return new RateLimits(enabled, rates, parts.pool ? postgresLimiters(parts.pool) : memoryLimiters);
}

/** A client and an account no other test uses. */
function stranger(): Subject {
  const n = () => Math.floor(Math.random() * 250) + 1;
  return { ip: `198.51.${n()}.${n()}`, email: `${randomUUID()}@limits.test` };
}

/** Runs `operation` for `subject`; the attempt fails with `outcome` when it is an error. Says whether it ran and how it ended. */
async function attempt(rateLimits: RateLimits, operation: Operation, subject: Subject, outcome: 'ok' | Error) {
  let ran = false;
  try {
    await rateLimits.guard(operation, subject, async () => {
      ran = true;
      if (outcome !== 'ok') throw outcome;
    });
    return { ran, result: 'ok' as const };
  } catch (error) {
    return { ran, result: error };
  }
}

describe('failures', () => {
  it('refuses an account’s sign-ins from one client, unrun, once its failures are used up', async () => {
    const rateLimits = limits();
    const subject = stranger();
    for (let i = 0; i < 3; i += 1) {
      expect(await attempt(rateLimits, 'login', subject, new InvalidCredentialsError())).toMatchObject({ ran: true });
    }
    const refused = await attempt(rateLimits, 'login', subject, 'ok');
    expect(refused.ran).toBe(false);
    expect(refused.result).toBeInstanceOf(RateLimitedError);
    expect((refused.result as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
    expect((refused.result as RateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another account from the same client, and the same account from another client, go on.
    expect(await attempt(rateLimits, 'login', { ...subject, email: stranger().email }, 'ok')).toMatchObject({ ran: true, result: 'ok' });
    expect(await attempt(rateLimits, 'login', { ...subject, ip: stranger().ip }, 'ok')).toMatchObject({ ran: true, result: 'ok' });
  });

  it('counts only the failures of the operation: other errors give their point back', async () => {
    const rateLimits = limits();
    const subject = stranger();
    for (let i = 0; i < 5; i += 1) {
      expect(await attempt(rateLimits, 'login', subject, new Error('the database went away'))).toMatchObject({ ran: true });
    }
    expect(await attempt(rateLimits, 'login', subject, new InvalidCredentialsError())).toMatchObject({ ran: true });
  });

  it('forgets an account’s failures after a success', async () => {
    const rateLimits = limits();
    const subject = stranger();
    for (let i = 0; i < 2; i += 1) await attempt(rateLimits, 'login', subject, new InvalidCredentialsError());
    expect(await attempt(rateLimits, 'login', subject, 'ok')).toMatchObject({ ran: true, result: 'ok' });
    for (let i = 0; i < 3; i += 1) {
      expect(await attempt(rateLimits, 'login', subject, new InvalidCredentialsError())).toMatchObject({ ran: true });
    }
    expect(await attempt(rateLimits, 'login', subject, 'ok')).toMatchObject({ ran: false });
  });

  it('lets no more attempts run than the limit allows when they all come at once', async () => {
    const rateLimits = limits();
    const subject = stranger();
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => attempt(rateLimits, 'login', subject, new InvalidCredentialsError())));
    expect(outcomes.filter(({ ran }) => ran)).toHaveLength(3);
    expect(outcomes.filter(({ result }) => result instanceof RateLimitedError)).toHaveLength(9);
  });

  it('lets attempts turned away by one client’s limit take nothing from the account’s limit for other clients', async () => {
    const rateLimits = limits(true, { ...RATES, ipAttempts: { points: 100, seconds: 60 }, emailFailures: { points: 5, seconds: 60 } });
    const guesser = stranger();
    // Three guesses from one client still running: its limit for this account is used up.
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const started: Promise<void>[] = [];
    const running = Array.from({ length: 3 }, () => {
      let ran!: () => void;
      started.push(new Promise<void>((resolve) => (ran = resolve)));
      return rateLimits.guard('login', guesser, async () => {
        ran();
        await gate;
        throw new InvalidCredentialsError();
      });
    });
    await Promise.all(started);
    // Its further guesses, sent together with the owner's attempt from elsewhere, are refused
    // without reserving any of the account's 5 failures for all clients, so the owner's runs.
    const outcomes = await Promise.all([
      ...Array.from({ length: 10 }, () => attempt(rateLimits, 'login', guesser, 'ok')),
      attempt(rateLimits, 'login', { ...guesser, ip: stranger().ip }, 'ok'),
    ]);
    const owner = outcomes.pop();
    const refused = outcomes;
    finish();
    await Promise.allSettled(running);
    expect(owner).toEqual({ ran: true, result: 'ok' });
    expect(refused.every(({ ran, result }) => !ran && result instanceof RateLimitedError)).toBe(true);
  });
  it('names the longest wait of the limits used up, so a retry after it is not refused again', async () => {
    const rateLimits = limits(true, { ...RATES, emailFailures: { points: 3, seconds: 3600 } });
    const subject = stranger();
    for (let i = 0; i < 3; i += 1) await attempt(rateLimits, 'login', subject, new InvalidCredentialsError());
    // This client's limit for the account (60 s) and the account's for every client (an hour) are both used up.
    const refused = await attempt(rateLimits, 'login', subject, 'ok');
    expect(refused.ran).toBe(false);
    expect((refused.result as RateLimitedError).retryAfterSeconds).toBeGreaterThan(3500);
  });
});

describe('attempts', () => {
  it('counts every guarded operation of a client, whatever its outcome, and refuses beyond the limit', async () => {
    const rateLimits = limits();
    const { ip } = stranger();
    const outcomes = [];
    for (let i = 0; i < 7; i += 1) outcomes.push(await attempt(rateLimits, 'register', { ip, email: stranger().email }, i % 2 ? 'ok' : new Error('refused')));
    expect(outcomes.map(({ ran }) => ran)).toEqual([true, true, true, true, true, true, false]);
    expect(outcomes[6]!.result).toBeInstanceOf(RateLimitedError);
  });

  it('limits reset mails per address, from any client', async () => {
    const rateLimits = limits(true, { ...RATES, resetMails: { points: 2, seconds: 60 } });
    const { email } = stranger();
    const ran = [];
    for (let i = 0; i < 3; i += 1) ran.push((await attempt(rateLimits, 'requestPasswordReset', { ip: stranger().ip, email }, 'ok')).ran);
    expect(ran).toEqual([true, true, false]);
  });

  it('refuses nothing when rate limits are off', async () => {
    const rateLimits = limits(false);
    const subject = stranger();
    for (let i = 0; i < 10; i += 1) {
      expect(await attempt(rateLimits, 'login', subject, new InvalidCredentialsError())).toMatchObject({ ran: true });
    }
  });
});
