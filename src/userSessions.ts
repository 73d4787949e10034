import type { Request } from 'express';
import type { Database } from './db.ts';
import { retireEmailTokens } from './emailTokens.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { digest } from './opaqueTokens.ts';
import type { ClientInfo } from './tokens.ts';

const MAX_USER_AGENT_LENGTH = 512;

/** Sessions are stored under a hash of their id, so a leaked table holds no usable cookies. */
export const sessionKey = digest;

/** How a request proved who it is: a cookie session or an access token's family. */
export type Credential = { kind: 'cookie'; sessionKey: string } | { kind: 'token'; familyId: string };

/** A cookie session or a token family, as the user sees it in their list of sessions. */
export interface UserSession {
  id: string;
  current: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ipAddress: string | null;
}

// Public ids say which table they name; a cookie session's is the hash it is stored under.
const COOKIE_PREFIX = 'c_';
const TOKEN_PREFIX = 't_';

export function clientInfo(req: Request): ClientInfo {
  return { userAgent: req.get('user-agent')?.slice(0, MAX_USER_AGENT_LENGTH) ?? null, ipAddress: req.ip ?? null };
}

function callback(run: (done: (error?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((error) => (error ? reject(error) : resolve())));
}

/** Starts a signed-in cookie session under a new id, so an id planted before sign-in is useless. */
export async function startCookieSession(req: Request, userId: number): Promise<Credential> {
  await callback((done) => req.session.regenerate(done));
  Object.assign(req.session, { userId, ...clientInfo(req) });
  await callback((done) => req.session.save(done));
  return { kind: 'cookie', sessionKey: sessionKey(req.sessionID) };
}

export function destroyCookieSession(req: Request): Promise<void> {
  return callback((done) => req.session.destroy(done));
}

export async function listSessions(prisma: Database, userId: number, current: Credential | null): Promise<UserSession[]> {
  const now = new Date();
  const columns = { id: true, createdAt: true, lastSeenAt: true, expiresAt: true, userAgent: true, ipAddress: true } as const;
  const [cookies, families] = await Promise.all([
    prisma.session.findMany({ where: { userId, expiresAt: { gt: now } }, select: columns }),
    prisma.tokenFamily.findMany({ where: { userId, expiresAt: { gt: now } }, select: columns }),
  ]);
  return [
    ...cookies.map((row) => ({
      ...row,
      id: COOKIE_PREFIX + row.id,
      current: current?.kind === 'cookie' && current.sessionKey === row.id,
    })),
    ...families.map((row) => ({
      ...row,
      id: TOKEN_PREFIX + row.id,
      current: current?.kind === 'token' && current.familyId === row.id,
    })),
  ].sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime());
}

/** Ends one of the user's own sessions; another user's id ends nothing. */
export async function revokeSession(prisma: Database, userId: number, id: string): Promise<boolean> {
  if (id.startsWith(COOKIE_PREFIX)) {
    const { count } = await prisma.session.deleteMany({ where: { id: id.slice(COOKIE_PREFIX.length), userId } });
    return count > 0;
  }
  if (id.startsWith(TOKEN_PREFIX)) {
    const { count } = await prisma.tokenFamily.deleteMany({ where: { id: id.slice(TOKEN_PREFIX.length), userId } });
    return count > 0;
  }
  return false;
}

/**
 * The writes that end every cookie session, token family, pending password reset and pending email
 * change of a user, sparing the credential in `keep`: whatever made the user end their sessions
 * (a new password, a lost device) also cancels what someone else may have set in motion with them.
 * Returned unrun, to go into the caller's transaction.
 */
export function endSessions(
  prisma: Database | Prisma.TransactionClient,
  userId: number,
  keep: Credential | null = null,
) {
  return [
    prisma.session.deleteMany({
      where: { userId, ...(keep?.kind === 'cookie' ? { id: { not: keep.sessionKey } } : {}) },
    }),
    prisma.tokenFamily.deleteMany({
      where: { userId, ...(keep?.kind === 'token' ? { id: { not: keep.familyId } } : {}) },
    }),
    retireEmailTokens(prisma, userId, ['PASSWORD_RESET', 'CHANGE_EMAIL']),
  ];
}

/** Deletes what has expired: sessions, token families, refresh and reset tokens, rate-limit counters, challenges. */
/** Deletes what has expired: sessions, token families, refresh tokens, mailed links, rate-limit counters. */
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
