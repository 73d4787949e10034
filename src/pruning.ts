import type { Database } from './db.ts';

/**
 * Deletes what has expired, in every table that holds expiring rows: sessions, token families,
 * refresh tokens, mailed links, rate-limit counters, second-factor challenges. Reads already
 * ignore expired rows; this keeps the tables small.
 */
export async function pruneExpired(prisma: Database): Promise<number> {
  const now = new Date();
  const counts = await prisma.$transaction([
    prisma.session.deleteMany({ where: { expiresAt: { lte: now } } }),
    prisma.tokenFamily.deleteMany({ where: { expiresAt: { lte: now } } }),
    prisma.refreshToken.deleteMany({ where: { expiresAt: { lte: now } } }),
    prisma.emailToken.deleteMany({ where: { expiresAt: { lte: now } } }),
    prisma.rateLimit.deleteMany({ where: { expire: { lte: BigInt(now.getTime()) } } }),
    prisma.secondFactorChallenge.deleteMany({ where: { expiresAt: { lte: now } } }),
  ]);
  return counts.reduce((total, { count }) => total + count, 0);
}
