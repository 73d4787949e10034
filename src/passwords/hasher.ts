import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { Piscina } from 'piscina';

const workerFile = new URL('./hashWorker.mjs', import.meta.url).href;

/** bcrypt reads only the first 72 bytes; longer passwords are refused rather than truncated. */
export const MAX_PASSWORD_BYTES = 72;

export function passwordTooLong(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
}

/** Hashes and checks passwords with bcrypt on a pool of worker threads. */
export class PasswordHasher {
  readonly cost: number;
  /** Hashes and checks done, for tests that must prove a check did or did not happen. */
  operations = 0;
  private readonly pool: Piscina;
  private dummyHash: string | undefined;

  constructor({ cost, threads }: { cost: number; threads: number }) {
    this.cost = cost;
    // The worker is plain JavaScript: without the parent's flags (`--import tsx`) each thread starts
    // faster and takes ~6 MB less memory.
    this.pool = new Piscina({ filename: workerFile, minThreads: threads, maxThreads: threads, idleTimeout: Infinity, execArgv: [] });
  }

  /** Starts every thread and prepares the dummy hash, so the first logins pay no start-up cost. */
  async warmUp(): Promise<void> {
    const threads = this.pool.options.maxThreads;
    const hashes = await Promise.all(
      Array.from({ length: threads }, () => this.hash(randomBytes(16).toString('base64url'))),
    );
    this.operations -= threads;
    this.dummyHash = hashes[0];
  }

  hash(password: string): Promise<string> {
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
    this.operations += 1;
    const matches: boolean = await this.pool.run({ password: candidate, hash: target }, { name: 'verify' });
    return matches && hash != null && candidate === password;
  }

  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.cost;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
