import type pg from 'pg';
import {
  RateLimiterCluster,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { InvalidCredentialsError, InvalidSecondFactorError, InvalidTokenError } from './errors.ts';
import type { LimitName, Rate, Rates } from './rates.ts';

export type Operation =
  | 'login'
  | 'register'
  | 'requestPasswordReset'
  | 'resetPassword'
  | 'refreshTokens'
  | 'changePassword'
  | 'verifySecondFactor'
  | 'startPasskeySignIn'
  | 'finishPasskeySignIn'
  | 'confirmTotpSetup'
  | 'secondFactorSettings'
  | 'verifyEmail'
  | 'sendVerificationEmail'
  | 'changeEmail';

/** Who is trying: the keys the limits count by. */
export interface Subject {
  ip: string;
  email?: string;
  userId?: number;
}

interface Policy {
  /** Spent by every attempt, before it runs. */
  attempts: LimitName[];
  /**
   * Reserved by every attempt before it runs, kept when it fails with one of `failsWith`, given
   * back otherwise; while one is used up (by failures and attempts still running), attempts are
   * refused unrun.
   */
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
  // A second factor is guessed at like a password: per account (all IPs) and per IP.
  verifySecondFactor: {
    attempts: ['ipAttempts'],
    failures: ['secondFactorFailures', 'ipFailures'],
    failsWith: [InvalidSecondFactorError, InvalidTokenError],
    clearOnSuccess: ['secondFactorFailures'],
  },
  startPasskeySignIn: { attempts: ['ipAttempts'], failures: [], failsWith: [], clearOnSuccess: [] },
  finishPasskeySignIn: {
    attempts: [],
    failures: ['secondFactorFailures', 'ipFailures'],
    failsWith: [InvalidCredentialsError, InvalidTokenError],
    clearOnSuccess: ['secondFactorFailures'],
  },
  // Signed in: a stolen session guessing at a set-up code or at the current password.
  confirmTotpSetup: { attempts: [], failures: ['userFailures'], failsWith: [InvalidSecondFactorError], clearOnSuccess: [] },
  secondFactorSettings: {
    attempts: [],
    failures: ['userFailures'],
    failsWith: [InvalidCredentialsError],
    clearOnSuccess: ['userFailures'],
  },
  verifyEmail: { attempts: ['ipAttempts'], failures: ['ipFailures'], failsWith: [InvalidTokenError], clearOnSuccess: [] },
  sendVerificationEmail: { attempts: ['userMails', 'verificationMails'], failures: [], failsWith: [], clearOnSuccess: [] },
  // The subject's email is the account's own address: a wrong password here counts like a failed
  // sign-in to that account (and a locked account cannot change its email either).
  changeEmail: {
    attempts: ['ipAttempts', 'userMails'],
    failures: ['userFailures', 'emailIpFailures', 'emailFailures', 'ipFailures'],
    failsWith: [InvalidCredentialsError],
    clearOnSuccess: ['userFailures'],
  },
};

/** The order counters are taken in: the client's own (its IP, its session's user) before those every client shares. */
const SCOPE_ORDER: Record<LimitName, number> = {
  ipAttempts: 0,
  refreshIp: 0,
  emailIpFailures: 1,
  ipFailures: 2,
  userFailures: 3,
  userMails: 3,
  emailFailures: 4,
  secondFactorFailures: 4,
  resetMails: 4,
  verificationMails: 4,
};
const byScope = (a: { name: LimitName }, b: { name: LimitName }) => SCOPE_ORDER[a.name] - SCOPE_ORDER[b.name];

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
    case 'verificationMails':
      return email ?? null;
    case 'userFailures':
    case 'secondFactorFailures':
    case 'userMails':
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

/** The counter's state when it has no point left; null otherwise, or when the store cannot say. */
async function usedUp(limiter: RateLimiterAbstract, key: string, rate: Rate): Promise<RateLimiterRes | null> {
  const res = await limiter.get(key).catch(() => null);
  return res && res.consumedPoints >= rate.points ? res : null;
}

function retryAfter(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

interface Counter {
  name: LimitName;
  limiter: RateLimiterAbstract;
  rate: Rate;
  key: string;
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
        return key === null ? [] : [{ name, ...this.limiters.get(name)!, key }];
      });

    // A point of every failure limit is reserved before the attempt runs, in one atomic step per
    // counter, so that attempts running at the same time cannot all read the same count and all
    // get past it: at most `points` attempts are ever checked. A failure keeps its point; any
    // other outcome gives it back.
    const failures = keyed(policy.failures);
    await this.spend(operation, subject, [...failures, ...keyed(policy.attempts)].sort(byScope));

    let result: T;
    try {
      result = await run();
    } catch (error) {
      if (!policy.failsWith.some((failure) => error instanceof failure)) await this.giveBack(failures);
      throw error;
    }
    const cleared = new Set(policy.clearOnSuccess);
    await Promise.all([
      ...keyed(policy.clearOnSuccess).map(({ limiter, key }) => limiter.delete(key)),
      this.giveBack(failures.filter(({ name }) => !cleared.has(name))),
    ]);
    return result;
  }

  /**
   * Consumes a point of each counter, or none: a refusal gives back what it took. The counters
   * are taken one after another, the client's own first (`byScope`), and a refusal stops there:
   * a flood that one client's own limit turns away never holds, even for a moment, the points of
   * a limit every client shares.
   */
  private async spend(operation: Operation, subject: Subject, counters: Counter[]): Promise<void> {
    for (const [i, { limiter, key }] of counters.entries()) {
      try {
        await limiter.consume(key);
      } catch (error) {
        // A refused consume counted its point too; a store that failed may not have, so it keeps it.
        const refused = error instanceof RateLimiterRes;
        await this.giveBack(counters.slice(0, refused ? i + 1 : i));
        if (!refused) throw error;
        // The wait it names is the longest of the limits used up, so a retry after it is not refused by the next one.
        const rest = await Promise.all(counters.slice(i + 1).map(({ limiter, key, rate }) => usedUp(limiter, key, rate)));
        const longest = rest.reduce<RateLimiterRes>((a, b) => (b && b.msBeforeNext > a.msBeforeNext ? b : a), error);
        throw new RateLimitedError(retryAfter(longest), operation, subject);
      }
    }
  }

  /**
   * Returns a reserved point. Never throws: the attempt's own outcome matters more, and a point
   * the store failed to take back stays spent until the window ends, on the safe side.
   */
  private async giveBack(counters: Counter[]): Promise<void> {
    await Promise.all(
      counters.map(async ({ limiter, key }) => {
        const res = await limiter.reward(key);
        // The window ended while the attempt ran: a fresh counter below zero would be a free attempt.
        if (res.consumedPoints < 0) await limiter.delete(key);
      }).map((returned) => returned.catch(() => undefined)),
    );
  }
}
