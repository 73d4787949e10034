// Types of hashWorker.mjs (plain JavaScript, loaded by path by the pool) for the code that imports it.
import type { BcryptPreference } from '../config.ts';

export interface Bcrypt {
  name: 'bcrypt' | 'bcryptjs';
  version: string;
  native: boolean;
  fallbackReason?: string;
  hash(password: string, cost: number): string;
  verify(password: string, hash: string): boolean;
}

export function chooseBcrypt(preference?: BcryptPreference, requireNative?: () => unknown): Bcrypt;
export function hash(task: { password: string; cost: number }): string;
export function verify(task: { password: string; hash: string }): boolean;
export function warmUp(task: { password: string; cost: number }): { hash: string; implementation: Omit<Bcrypt, 'hash' | 'verify'> };
