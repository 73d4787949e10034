import { Secret, TOTP } from 'otpauth';
import type { Database } from '../db.ts';
import { refreshSecondFactorFlag } from './factors.ts';
import { replaceRecoveryCodes } from './recoveryCodes.ts';
import type { SecretBox } from './secretBox.ts';

/** RFC 6238 as every authenticator app implements it. */
const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** The current time step and one either side, for clocks a little off and slow typists. */
const WINDOW = 1;

export interface TotpDeps {
  prisma: Database;
  box: SecretBox;
}

function totp(secret: string, issuer = '', label = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS, secret: Secret.fromBase32(secret) });
}

/**
 * The time step a code belongs to, or null when it matches none within the window. The check is
 * otpauth's (constant-time comparison); only the step bookkeeping is ours.
 */
function matchingStep(secret: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totp(secret).validate({ token: code, timestamp: now, window: WINDOW });
  return delta === null ? null : Math.floor(now / 1000 / PERIOD_SECONDS) + delta;
}

/**
 * Accepts a step only when it is later than the last accepted one, in one conditional write: a
 * code (and every earlier one) works once per user, also for simultaneous attempts.
 */
async function claimStep(prisma: Database, userId: number, step: number): Promise<boolean> {
  const { count } = await prisma.totpFactor.updateMany({ where: { userId, lastStep: { lt: step } }, data: { lastStep: step } });
  return count === 1;
}

/**
 * A new secret, kept pending (encrypted) until confirmed; an app already on stays on meanwhile.
 * The app lists it under the issuer and the user's email.
 */
export async function startTotpSetup(deps: TotpDeps, userId: number, issuer: string): Promise<{ secret: string; otpauthUri: string }> {
  const user = await deps.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, email: true } });
  const secret = new Secret({ size: 20 }).base32;
  const pendingSecret = deps.box.seal(secret, user.id);
  await deps.prisma.totpFactor.upsert({
    where: { userId: user.id },
    create: { userId: user.id, pendingSecret },
    update: { pendingSecret },
  });
  return { secret, otpauthUri: totp(secret, issuer, user.email).toString() };
}

/**
 * Turns the pending secret on when the code matches it: the code's step counts as used, recovery
 * codes are replaced and returned. Null for a wrong code or when no set-up is pending.
 */
export async function confirmTotpSetup(deps: TotpDeps, userId: number, code: string): Promise<string[] | null> {
  const row = await deps.prisma.totpFactor.findUnique({ where: { userId }, select: { pendingSecret: true } });
  const secret = row?.pendingSecret ? deps.box.open(row.pendingSecret, userId) : null;
  const step = secret ? matchingStep(secret, code) : null;
  if (step === null) return null;
  return deps.prisma.$transaction(async (tx) => {
    // Only the set-up that was checked, and only with a step not used before.
    const { count } = await tx.totpFactor.updateMany({
      where: { userId, pendingSecret: row!.pendingSecret, lastStep: { lt: step } },
      data: { secret: row!.pendingSecret, pendingSecret: null, lastStep: step, enabledAt: new Date() },
    });
    if (count === 0) return null;
    await refreshSecondFactorFlag(tx, userId);
    return replaceRecoveryCodes(tx, userId);
  });
}

/** Checks a code against the user's app; true at most once per code. */
export async function verifyTotp(deps: TotpDeps, userId: number, code: string): Promise<boolean> {
  const row = await deps.prisma.totpFactor.findUnique({ where: { userId }, select: { secret: true } });
  if (!row?.secret) return false;
  const secret = deps.box.open(row.secret, userId);
  const step = secret ? matchingStep(secret, code) : null;
  if (step === null || !(await claimStep(deps.prisma, userId, step))) return false;
  if (deps.box.needsResealing(row.secret)) {
    // Key rotation: a secret moves to the first key the next time it is used.
    await deps.prisma.totpFactor.updateMany({ where: { userId, secret: row.secret }, data: { secret: deps.box.seal(secret!, userId) } });
  }
  return true;
}

/** Turns the app off (a pending set-up goes too). False when it was not on. */
export async function disableTotp(prisma: Database, userId: number): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.totpFactor.deleteMany({ where: { userId, secret: { not: null } } });
    if (count === 0) return false;
    await refreshSecondFactorFlag(tx, userId);
    return true;
  });
}
