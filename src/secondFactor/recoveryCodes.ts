import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db.ts';
import type { Prisma } from '../generated/prisma/client.ts';

export const RECOVERY_CODE_COUNT = 10;
// Crockford's base32 without look-alikes: easy to read off paper and type back.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const MAX_CODE_LENGTH = 64;

/** 16 characters of 5 bits each: 80 random bits, shown as xxxx-xxxx-xxxx-xxxx. */
function newCode(): string {
  const bytes = randomBytes(16);
  const chars = [...bytes].map((byte) => ALPHABET[byte & 31]!);
  return [0, 4, 8, 12].map((at) => chars.slice(at, at + 4).join('')).join('-');
}

function normalize(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * What is stored in place of a code. A fast hash is enough here, unlike for passwords: each code
 * carries 80 random bits, so even a billion guesses a second against a stolen table would take
 * millions of years per code, and a slow hash would only slow down every sign-in that uses one.
 * The user id goes in, so equal codes of two users (never expected) would not collide.
 */
function codeDigest(userId: number, code: string): string {
  return createHash('sha256').update(`${userId}:${normalize(code)}`).digest('base64url');
}

/** Replaces every recovery code of a user with 10 new ones, returned in clear this once. */
export async function replaceRecoveryCodes(tx: Prisma.TransactionClient, userId: number): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await tx.recoveryCode.deleteMany({ where: { userId } });
  await tx.recoveryCode.createMany({ data: codes.map((code) => ({ id: codeDigest(userId, code), userId })) });
  return codes;
}

export function regenerateRecoveryCodes(prisma: Database, userId: number): Promise<string[]> {
  return prisma.$transaction((tx) => replaceRecoveryCodes(tx, userId));
}

/** Uses up a code: true once per code, even for simultaneous attempts (one delete wins). */
export async function useRecoveryCode(prisma: Database, userId: number, code: string): Promise<boolean> {
  if (code.length === 0 || code.length > MAX_CODE_LENGTH) return false;
  const { count } = await prisma.recoveryCode.deleteMany({ where: { id: codeDigest(userId, code), userId } });
  return count === 1;
}
