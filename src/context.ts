import type { AuthEventRecord } from './audit.ts';
import { clientInfo, cookieSession, type CookieSession, type HttpRequest, type ServerContext } from './http/request.ts';
import { RateLimitedError, type Operation, type Subject } from './rateLimits.ts';
import type { Services } from './services.ts';
import { sessionKey, type Credential } from './sessions.ts';
import type { ClientInfo } from './tokens.ts';
import type { PublicUser } from './userRows.ts';

export interface Viewer {
  id: number;
  isStaff: boolean;
}

/** What a request's resolvers see: the app's services, who is asking, and how. */
export interface Context extends Services {
  /** The client's address and user agent, as recorded with sessions and auth events. */
  client: ClientInfo;
  /** The request's cookie session, to start at sign-in and end at sign-out. */
  cookieSession: CookieSession;
  /** The signed-in user's id, or null for anonymous requests. */
  userId: number | null;
  /** How this request is signed in, or null. */
  credential: Credential | null;
  /**
   * The signed-in user's row, read with the credential (the cookie session or the token's sign-in)
   * at the start of this request (null: no such user), so `me` and the staff check need no query;
   * undefined when it was not read that way (a session started during this request).
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

/** Who a request's credential names, with the user's row when it was read with the credential. */
interface SignedIn {
  userId: number;
  credential: Credential;
  user: PublicUser | null | undefined;
}

/**
 * A bearer token, when sent, is the request's only credential: an invalid one makes the request
 * anonymous rather than falling back to a cookie.
 */
async function authenticate(services: Services, req: HttpRequest): Promise<SignedIn | null> {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const token = BEARER.exec(authorization)?.[1];
    const claims = token ? await services.tokens.verify(token) : null;
    return claims && { userId: claims.userId, credential: { kind: 'token', familyId: claims.familyId }, user: claims.user };
  }
  const userId = req.session?.userId;
  if (userId === undefined) return null;
  return { userId, credential: { kind: 'cookie', sessionKey: sessionKey(req.sessionID) }, user: req.session.user };
}

export async function createContext(services: Services, server: ServerContext): Promise<Context> {
  const { req } = server;
  const auth = await authenticate(services, req);
  const userId = auth?.userId ?? null;
  const loaded = auth?.user;
  const signedInUser = loaded === null || loaded?.id === userId ? loaded : undefined;
  const client = clientInfo(req);
  let viewer: Promise<Viewer | null> | undefined;
  const record = (event: AuthEventRecord) => services.audit.record({ actorId: userId, ...client, ...event });
  /** The account an attempt was about: the email's owner when one was tried, else the signed-in user. */
  const subjectAccount = async ({ email, userId: about }: { email?: string; userId?: number }) =>
    email === undefined
      ? (about ?? userId)
      : ((await services.prisma.user.findUnique({ where: { email }, select: { id: true } }).catch(() => null))?.id ?? null);
  // Named one by one rather than spread: a spread followed by more fields gave V8 a new hidden
  // class for every request's context (3-4 % of a read, most of it map transitions and their GC).
  return {
    config: services.config,
    prisma: services.prisma,
    hasher: services.hasher,
    tokens: services.tokens,
    mailer: services.mailer,
    rateLimits: services.rateLimits,
    audit: services.audit,
    logger: services.logger,
    directReads: services.directReads,
    sessions: services.sessions,
    secondFactors: services.secondFactors,
    background: services.background,
    storage: services.storage,
    client,
    cookieSession: cookieSession(server, { name: services.config.sessionCookieName, production: services.config.production }),
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
