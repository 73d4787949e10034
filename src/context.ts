import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AuditLog, AuthEventRecord } from './audit.ts';
import type { BackgroundTasks } from './background.ts';
import type { Config } from './config.ts';
import type { Database, DirectReads } from './db.ts';
import type { Mailer } from './mail.ts';
import type { PasswordHasher } from './passwords/hasher.ts';
import type { SignInStepDeps } from './secondFactor/signInStep.ts';
import { RateLimitedError, type Operation, type RateLimits, type Subject } from './rateLimits.ts';
import { sessionUser } from './sessionStore.ts';
import type { TokenService } from './tokens.ts';
import type { PublicUser } from './users.ts';
import { clientInfo, sessionKey, type Credential } from './userSessions.ts';

/** What every request's resolvers share: the app's services plus the request itself. */
export interface Services {
  config: Config;
  prisma: Database;
  hasher: PasswordHasher;
  tokens: TokenService;
  mailer: Mailer;
  rateLimits: RateLimits;
  audit: AuditLog;
  logger: Logger;
  /** Prepared reads without Prisma, for the hottest lookups (see `DirectReads`). */
  directReads: DirectReads;
  /** TOTP secrets' encryption and the passkeys' relying party. */
  secondFactors: SignInStepDeps;
  /** Work that outlives its request (mails); close() waits for it. */
  background: BackgroundTasks;
}

export interface Viewer {
  id: number;
  isStaff: boolean;
}

export interface Context extends Services {
  req: Request;
  res: Response;
  /** The signed-in user's id, or null for anonymous requests. */
  userId: number | null;
  /** How this request is signed in, or null. */
  credential: Credential | null;
  /**
   * The signed-in user's row as read with the cookie session at the start of this request (null:
   * no such user), so `me` and the staff check need no query; undefined for other credentials.
   */
  sessionUser: PublicUser | null | undefined;
  /** The signed-in user's flags, loaded once per request when a field needs them. */
  viewer: () => Promise<Viewer | null>;
  /**
   * Runs a rate-limited operation for this request's client IP and the account it is about: the
   * signed-in user unless `subject.userId` names another (a second factor answered before sign-in).
   */
  guard: <T>(operation: Operation, subject: Omit<Subject, 'ip'>, run: () => Promise<T>) => Promise<T>;
  /** Records an auth event with this request's address and user agent; the actor defaults to the signed-in user. */
  record: (event: AuthEventRecord) => Promise<void>;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * A bearer token, when sent, is the request's only credential: an invalid one makes the request
 * anonymous rather than falling back to a cookie.
 */
async function authenticate(services: Services, req: Request): Promise<{ userId: number; credential: Credential } | null> {
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    const token = BEARER.exec(authorization)?.[1];
    const claims = token ? await services.tokens.verify(token) : null;
    return claims && { userId: claims.userId, credential: { kind: 'token', familyId: claims.familyId } };
  }
  const userId = req.session?.userId;
  return userId === undefined ? null : { userId, credential: { kind: 'cookie', sessionKey: sessionKey(req.sessionID) } };
}

export async function createContext(services: Services, req: Request, res: Response): Promise<Context> {
  const auth = await authenticate(services, req);
  const userId = auth?.userId ?? null;
  const loaded = auth?.credential.kind === 'cookie' ? sessionUser(req) : undefined;
  const signedInUser = loaded === null || loaded?.id === userId ? loaded : undefined;
  let viewer: Promise<Viewer | null> | undefined;
  const record = (event: AuthEventRecord) => services.audit.record({ actorId: userId, ...clientInfo(req), ...event });
  /** The account an attempt was about: the email's owner when one was tried, else the signed-in user. */
  const subjectAccount = async ({ email, userId: about }: { email?: string; userId?: number }) =>
    email === undefined
      ? (about ?? userId)
      : ((await services.prisma.user.findUnique({ where: { email }, select: { id: true } }).catch(() => null))?.id ?? null);
  return {
    ...services,
    req,
    res,
    userId,
    credential: auth?.credential ?? null,
    sessionUser: signedInUser,
    guard: async (operation, subject, run) => {
      try {
        const about = 'userId' in subject ? subject.userId : (userId ?? undefined);
        return await services.rateLimits.guard(operation, { ip: req.ip ?? 'unknown', ...subject, userId: about }, run);
      } catch (error) {
        if (error instanceof RateLimitedError) {
          await record({ kind: 'RATE_LIMITED', userId: await subjectAccount(subject), email: subject.email });
        }
        throw error;
      }
    },
    record,
    viewer: () =>
      (viewer ??=
        userId === null
          ? Promise.resolve(null)
          : signedInUser !== undefined
            ? Promise.resolve(signedInUser?.isActive ? { id: signedInUser.id, isStaff: signedInUser.isStaff } : null)
            : services.prisma.user.findFirst({ where: { id: userId, isActive: true }, select: { id: true, isStaff: true } })),
  };
}
