import type { Database } from '../db.ts';
import type { Prisma, User } from '../generated/prisma/client.ts';
import { endSessions } from '../sessions.ts';

export type SecondFactorMethod = 'TOTP' | 'RECOVERY_CODE' | 'PASSKEY';

type Tx = Database | Prisma.TransactionClient;

/** What a user can answer a sign-in challenge with. */
export async function methodsOf(prisma: Tx, userId: number): Promise<SecondFactorMethod[]> {
  const [totp, codes, passkeys] = await Promise.all([
    prisma.totpFactor.findUnique({ where: { userId }, select: { secret: true } }),
    prisma.recoveryCode.count({ where: { userId } }),
    prisma.passkey.count({ where: { userId } }),
  ]);
  const methods: SecondFactorMethod[] = [];
  if (totp?.secret) methods.push('TOTP');
  if (codes > 0) methods.push('RECOVERY_CODE');
  if (passkeys > 0) methods.push('PASSKEY');
  return methods;
}

/**
 * Recomputes `User.hasSecondFactor` from the factors themselves (an authenticator app or a
 * passkey). Without either, leftover recovery codes are deleted: they only stand in for a factor.
 * Runs inside the caller's transaction, after its change.
 */
export async function refreshSecondFactorFlag(tx: Prisma.TransactionClient, userId: number): Promise<boolean> {
  const [totp, passkeys] = await Promise.all([
    tx.totpFactor.findUnique({ where: { userId }, select: { secret: true } }),
    tx.passkey.count({ where: { userId } }),
  ]);
  const has = Boolean(totp?.secret) || passkeys > 0;
  await tx.user.update({ where: { id: userId }, data: { hasSecondFactor: has }, select: { id: true } });
  if (!has) await tx.recoveryCode.deleteMany({ where: { userId } });
  return has;
}

export interface SecondFactorSummary {
  totpEnabled: boolean;
  recoveryCodesLeft: number;
  passkeys: { id: string; name: string; createdAt: Date; lastUsedAt: Date | null }[];
}

export async function summary(prisma: Database, userId: number): Promise<SecondFactorSummary> {
  const [totp, recoveryCodesLeft, passkeys] = await Promise.all([
    prisma.totpFactor.findUnique({ where: { userId }, select: { secret: true } }),
    prisma.recoveryCode.count({ where: { userId } }),
    prisma.passkey.findMany({
      where: { userId },
      select: { id: true, name: true, createdAt: true, lastUsedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  ]);
  return { totpEnabled: Boolean(totp?.secret), recoveryCodesLeft, passkeys };
}

/**
 * Removes every factor of a user (a lost device) and ends their sessions, refresh tokens and
 * pending challenges. Returns the user as they are then, or null when no such user exists.
 */
export async function resetSecondFactors(prisma: Database, userId: number): Promise<User | null> {
  const reset = await prisma.$transaction(async (tx) => {
    const { count } = await tx.user.updateMany({ where: { id: userId }, data: { hasSecondFactor: false } });
    if (count === 0) return false;
    await tx.totpFactor.deleteMany({ where: { userId } });
    await tx.recoveryCode.deleteMany({ where: { userId } });
    await tx.passkey.deleteMany({ where: { userId } });
    await tx.secondFactorChallenge.deleteMany({ where: { userId } });
    for (const write of endSessions(tx, userId)) await write;
    return true;
  });
  return reset ? prisma.user.findUniqueOrThrow({ where: { id: userId } }) : null;
}
