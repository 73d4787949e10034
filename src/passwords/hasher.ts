import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { Piscina } from 'piscina';
import type { BcryptPreference } from '../config.ts';
import type { warmUp } from './hashWorker.mjs';

const workerFile = new URL('./hashWorker.mjs', import.meta.url).href;

/** bcrypt reads only the first 72 bytes; longer passwords are refused rather than truncated. */
export const MAX_PASSWORD_BYTES = 72;

export function passwordTooLong(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
}

/** The hash queue is full: the request is refused rather than left waiting longer than allowed. */
export class HashQueueFullError extends Error {
  override name = 'HashQueueFullError';
  constructor(readonly retryAfterSeconds: number) {
    super(`The service is busy. Try again in ${retryAfterSeconds} seconds.`);
  }
}

/** The bcrypt implementation the hashing threads use. */
export type BcryptImplementation = ReturnType<typeof warmUp>['implementation'];

export interface HasherOptions {
  cost: number;
  threads: number;
  /** Which bcrypt the threads use (see `chooseBcrypt` in hashWorker.mjs); `auto` by default. */
  implementation?: BcryptPreference;
  /**
   * Work allowed to wait in the queue. A flood of sign-ins must not queue without bound: each
   * waiting request holds its memory (2,000 queued logins took a process from ~140 to 260 MB) and
   * the last of them would wait for minutes. Beyond it, hashes are refused at once.
   */
  maxWaitMs?: number;
}

/** Hashes and checks passwords with bcrypt on a pool of worker threads. */
export class PasswordHasher {
  readonly cost: number;
  /** Known once `warmUp` has run. */
  implementation: BcryptImplementation | undefined;
  /** Hashes and checks done, for tests that must prove a check did or did not happen. */
  operations = 0;
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly maxWaitMs: number;
  private dummyHash: string | undefined;
  /** The pool's median time a hash, and when it was read (see `hashMs`). */
  private medianMs = 0;
  private medianReadAt = -Infinity;

  constructor({ cost, threads, maxWaitMs = Infinity, implementation = 'auto' }: HasherOptions) {
    this.cost = cost;
    this.threads = threads;
    this.maxWaitMs = maxWaitMs;
    // The worker is plain JavaScript: without the parent's flags (`--import tsx`) each thread starts
    // faster and takes ~6 MB less memory.
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      execArgv: [],
      workerData: { implementation },
      // Checks start in the order they were asked for. Without it piscina 5 puts a task it cannot
      // hand to a busy thread at the back of the queue, so during a steady flood of logins some
      // waited until the flood ended (30 s and more, observed). Upstream: piscinajs/piscina#1031;
      // the next major makes this the default (piscinajs/piscina#1114), and then it can go.
      stricterFIFO: true,
    });
  }

  /**
   * Starts every thread, learns which bcrypt they use, and prepares the dummy hash, so the first
   * logins pay no start-up cost. Rejects when BCRYPT_IMPLEMENTATION=native and it cannot load.
   */
  async warmUp(): Promise<void> {
    const threads = this.pool.options.maxThreads;
    const results: ReturnType<typeof warmUp>[] = await Promise.all(
      Array.from({ length: threads }, () => this.pool.run({ password: randomBytes(16).toString('base64url'), cost: this.cost }, { name: 'warmUp' })),
    );
    this.implementation = results[0]!.implementation;
    this.dummyHash = results[0]!.hash;
  }

  async hash(password: string): Promise<string> {
    this.admit();
    this.operations += 1;
    return this.pool.run({ password, cost: this.cost }, { name: 'hash' });
  }

  /**
   * Checks a password against a stored hash. With no stored hash (unknown account) it checks
   * against a dummy hash of the same cost, so an unknown email takes as long as a wrong password.
   */
  async verify(password: string, hash: string | null | undefined): Promise<boolean> {
    if (!this.dummyHash) await this.warmUp();
    const target = hash ?? this.dummyHash!;
    // Over-long input still costs one check, so its answer takes the usual time.
    const candidate = passwordTooLong(password) ? '' : password;
    this.admit();
    this.operations += 1;
    const matches: boolean = await this.pool.run({ password: candidate, hash: target }, { name: 'verify' });
    return matches && hash != null && candidate === password;
  }

  /** Refuses a new hash when the queue already holds more than `maxWaitMs` of work. */
  private admit(): void {
    const queued = this.pool.queueSize;
    if (queued === 0) return;
    const waitMs = (queued / this.threads) * this.hashMs();
    if (waitMs > this.maxWaitMs) throw new HashQueueFullError(Math.ceil(waitMs / 1000));
  }

  /**
   * How long a hash takes, as the pool's median, read at most once a second: piscina builds a whole
   * summary of its histogram (percentiles, deviation) at each read, which during a flood of logins
   * cost 0.3 ms a login.
   */
  private hashMs(): number {
    const now = performance.now();
    if (now - this.medianReadAt >= 1000) {
      this.medianMs = this.pool.histogram.runTime.p50;
      this.medianReadAt = now;
    }
    return this.medianMs;
  }

  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.cost;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
