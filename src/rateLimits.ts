import type pg from 'pg';
import {
  RateLimiterCluster,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { InvalidCredentialsError, InvalidTokenError } from './errors.ts';

export interface Rate {
  points: number;
  seconds: number;
}

export const DEFAULT_RATES = {
  /** Guarded operations (each one a password check, a mail or an account) per client IP. */
  ipAttempts: { points: 10, seconds: 60 },
  /** Failed sign-ins and bad tokens per client IP: a slow credential-stuffing run. */
  ipFailures: { points: 100, seconds: 24 * 60 * 60 },
  /** Consecutive failed sign-ins for one email from one IP: guessing one account's password. */
  emailIpFailures: { points: 5, seconds: 15 * 60 },
  /** Failed sign-ins for one email from all IPs together: a distributed guess at one account. */
  emailFailures: { points: 20, seconds: 60 * 60 },
  /** Password reset mails per address, so nobody's inbox can be flooded. */
  resetMails: { points: 3, seconds: 60 * 60 },
  /** Token refreshes per client IP; apps behind one NAT refresh every few minutes each. */
  refreshIp: { points: 60, seconds: 60 },
  /** Wrong current passwords in changePassword per user: a stolen session guessing the password. */
  userFailures: { points: 5, seconds: 15 * 60 },
} satisfies Record<string, Rate>;

export type LimitName = keyof typeof DEFAULT_RATES;
export type Rates = Record<LimitName, Rate>;

export type Operation = 'login' | 'register' | 'requestPasswordReset' | 'resetPassword' | 'refreshTokens' | 'changePassword';

/** Who is trying: the keys the limits count by. */
export interface Subject {
  ip: string;
  email?: string;
  userId?: number;
}

interface Policy {
  /** Spent by every attempt, before it runs. */
  attempts: LimitName[];
  /** Spent by an attempt that fails with one of `failsWith`; while one is used up, attempts are refused unrun. */
  failures: LimitName[];
  failsWith: (abstract new (...args: never[]) => Error)[];
  /** Forgotten after a success, so a user's own typos do not pile up. */
  clearOnSuccess: LimitName[];
}

const POLICIES: Record<Operation, Policy> = {
  login: {
    attempts: ['ipAttempts'],
    failures: ['emailIpFailures', 'emailFailures', 'ipFailures'],
    failsWith: [InvalidCredentialsError],
    clearOnSuccess: ['emailIpFailures', 'emailFailures'],
  },
  register: { attempts: ['ipAttempts'], failures: [], failsWith: [], clearOnSuccess: [] },
  requestPasswordReset: { attempts: ['ipAttempts', 'resetMails'], failures: [], failsWith: [], clearOnSuccess: [] },
  resetPassword: { attempts: ['ipAttempts'], failures: ['ipFailures'], failsWith: [InvalidTokenError], clearOnSuccess: [] },
  refreshTokens: { attempts: ['refreshIp'], failures: ['ipFailures'], failsWith: [InvalidTokenError], clearOnSuccess: [] },
  changePassword: {
    attempts: [],
    failures: ['userFailures'],
    failsWith: [InvalidCredentialsError],
    clearOnSuccess: ['userFailures'],
  },
};

function keyFor(limit: LimitName, { ip, email: rawEmail, userId }: Subject): string | null {
  // Bounded, so an oversized input cannot become an oversized key.
  const email = rawEmail?.slice(0, 320);
  switch (limit) {
    case 'ipAttempts':
    case 'ipFailures':
    case 'refreshIp':
      return ip;
    case 'emailIpFailures':
      return email === undefined ? null : `${email}\n${ip}`;
    case 'emailFailures':
    case 'resetMails':
      return email ?? null;
    case 'userFailures':
      return userId === undefined ? null : String(userId);
  }
}

export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(
    readonly retryAfterSeconds: number,
    readonly operation: Operation,
    readonly subject: Subject,
  ) {
    super(`Too many attempts. Try again in ${retryAfterSeconds} seconds.`);
  }
}

export type LimiterFactory = (name: LimitName, rate: Rate) => RateLimiterAbstract;

/** In-process counters: right for one process; several instances need a shared store. */
export const memoryLimiters: LimiterFactory = (name, rate) =>
  new RateLimiterMemory({ keyPrefix: name, points: rate.points, duration: rate.seconds });

/**
 * Counters kept in memory by the primary process of a node:cluster (WEB_CONCURRENCY > 1 on
 * SQLite; src/server.ts), asked over IPC, so that every worker counts against the same limits.
 */
export const clusterLimiters: LimiterFactory = (name, rate) =>
  new RateLimiterCluster({ keyPrefix: name, points: rate.points, duration: rate.seconds, timeoutMs: 5000 });

/**
 * Counters in PostgreSQL's RateLimit table (created by the migrations), shared by every instance;
 * each count is one atomic upsert. Expired rows are pruned with the sessions.
 */
export function postgresLimiters(pool: pg.Pool): LimiterFactory {
  return (name, rate) =>
    new RateLimiterPostgres({
      storeClient: pool,
      storeType: 'pool',
      tableName: 'RateLimit',
      tableCreated: true,
      clearExpiredByTimeout: false,
      keyPrefix: name,
      points: rate.points,
      duration: rate.seconds,
    });
}

function retryAfter(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * Counts each execution of a guarded operation (so aliases in one request count one by one) and
 * refuses, before any password is checked, once a limit is used up. Blocks last as long as the
 * limit's window: nobody can be locked out for longer than that by someone else's failures.
 */
export class RateLimits {
  private readonly limiters: Map<LimitName, { limiter: RateLimiterAbstract; rate: Rate }>;

  constructor(
    readonly enabled: boolean,
    rates: Rates,
    createLimiter: LimiterFactory = memoryLimiters,
  ) {
    this.limiters = new Map(
      (Object.entries(rates) as [LimitName, Rate][]).map(([name, rate]) => [name, { limiter: createLimiter(name, rate), rate }]),
    );
  }

  async guard<T>(operation: Operation, subject: Subject, run: () => Promise<T>): Promise<T> {
    if (!this.enabled) return run();
    const policy = POLICIES[operation];
    const keyed = (names: LimitName[]) =>
      names.flatMap((name) => {
        const key = keyFor(name, subject);
        return key === null ? [] : [{ ...this.limiters.get(name)!, key }];
      });

    for (const { limiter, rate, key } of keyed(policy.failures)) {
      const used = await limiter.get(key);
      if (used && used.consumedPoints >= rate.points) throw new RateLimitedError(retryAfter(used), operation, subject);
    }
    for (const { limiter, key } of keyed(policy.attempts)) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) throw new RateLimitedError(retryAfter(rejection), operation, subject);
        throw rejection;
      }
    }

    try {
      const result = await run();
      await Promise.all(keyed(policy.clearOnSuccess).map(({ limiter, key }) => limiter.delete(key)));
      return result;
    } catch (error) {
      if (policy.failsWith.some((failure) => error instanceof failure)) {
        // Counting past the limit is expected here; the next attempt is the one refused.
        await Promise.all(keyed(policy.failures).map(({ limiter, key }) => limiter.penalty(key)));
      }
      throw error;
    }
  }
}
