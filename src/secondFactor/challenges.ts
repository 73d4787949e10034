import type { Database } from '../db.ts';
import { digest, MAX_TOKEN_LENGTH, randomToken } from '../opaqueTokens.ts';

/**
 * SIGN_IN: a password was right, a second factor is due. PASSKEY_SIGN_IN: a passkey alone.
 * PASSKEY_SIGN_IN_NOBODY: a passkey sign-in for an email without passkeys, which nothing answers.
 * PASSKEY_REGISTRATION: a signed-in user adding a passkey.
 */
export type ChallengePurpose = 'SIGN_IN' | 'PASSKEY_SIGN_IN' | 'PASSKEY_SIGN_IN_NOBODY' | 'PASSKEY_REGISTRATION';

export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** Wrong answers a challenge survives; the next one ends it. */
export const MAX_CHALLENGE_FAILURES = 5;

export interface Challenge {
  /** The database key: a SHA-256 of what the client holds. */
  key: string;
  purpose: ChallengePurpose;
  userId: number | null;
  tokens: boolean;
  webauthnChallenge: string | null;
  expiresAt: Date;
}

/**
 * Stores a challenge in the database, so that any instance can take the answer, and returns the
 * opaque string the client sends back (only its hash is stored).
 */
export async function createChallenge(
  prisma: Database,
  fields: { purpose: ChallengePurpose; userId: number | null; tokens?: boolean; webauthnChallenge?: string },
): Promise<{ challenge: string; expiresAt: Date }> {
  const challenge = randomToken();
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
  await prisma.secondFactorChallenge.create({
    data: {
      id: digest(challenge),
      purpose: fields.purpose,
      userId: fields.userId,
      tokens: fields.tokens ?? false,
      webauthnChallenge: fields.webauthnChallenge ?? null,
      expiresAt,
    },
  });
  return { challenge, expiresAt };
}

/** A live challenge of this purpose, or null (unknown, used, expired, worn out by wrong answers). */
export async function findChallenge(
  prisma: Database,
  challenge: string,
  purposes: ChallengePurpose[],
): Promise<Challenge | null> {
  if (challenge.length === 0 || challenge.length > MAX_TOKEN_LENGTH) return null;
  const key = digest(challenge);
  const row = await prisma.secondFactorChallenge.findUnique({ where: { id: key } });
  if (!row || !purposes.includes(row.purpose as ChallengePurpose) || row.failures >= MAX_CHALLENGE_FAILURES || row.expiresAt.getTime() <= Date.now()) return null;
  return {
    key,
    purpose: row.purpose as ChallengePurpose,
    userId: row.userId,
    tokens: row.tokens,
    webauthnChallenge: row.webauthnChallenge,
    expiresAt: row.expiresAt,
  };
}

/**
 * Ends a challenge at its first success: true for exactly one caller, so two simultaneous right
 * answers give one sign-in.
 */
export async function consumeChallenge(prisma: Database, challenge: Challenge): Promise<boolean> {
  const { count } = await prisma.secondFactorChallenge.deleteMany({
    where: { id: challenge.key, failures: { lt: MAX_CHALLENGE_FAILURES }, expiresAt: { gt: new Date() } },
  });
  return count === 1;
}

/** Ends a user's earlier challenges of one purpose (one passkey registration at a time). */
export async function dropChallenges(prisma: Database, userId: number, purpose: ChallengePurpose): Promise<void> {
  await prisma.secondFactorChallenge.deleteMany({ where: { userId, purpose } });
}

/** Counts a wrong answer; the fifth ends the challenge. */
export async function failChallenge(prisma: Database, challenge: Challenge): Promise<void> {
  await prisma.secondFactorChallenge.updateMany({ where: { id: challenge.key }, data: { failures: { increment: 1 } } });
  await prisma.secondFactorChallenge.deleteMany({ where: { id: challenge.key, failures: { gte: MAX_CHALLENGE_FAILURES } } });
}
