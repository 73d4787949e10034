import session from 'express-session';
import type { Database, DirectReads } from './db.ts';
import { retireEmailTokens } from './emailTokens.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { digest } from './opaqueTokens.ts';
import { USER_COLUMNS_SQL, userFromRow, type RawUserRow, type PublicUser } from './userRows.ts';

declare module 'express-session' {
  interface SessionData {
    userId: number;
    userAgent: string | null;
    ipAddress: string | null;
    /** When the store last recorded activity; kept out of the stored data. */
    lastSeenAt: number;
    /**
     * The signed-in user's row, read with the session in the same statement (null: the session
     * names no existing user), so `me` and the staff check need no query; not enumerable, so
     * express-session neither hashes it on every request nor hands it back to `set`, and absent
     * from a session started during this request.
     */
    user: PublicUser | null;
  }
}

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

/** Ends every cookie session, token sign-in and pending mailed change of the user, this one included. */
export async function endAllSessions(prisma: Database, userId: number): Promise<void> {
  await prisma.$transaction(endSessions(prisma, userId));
}

type Callback<T = void> = (error?: unknown, value?: T) => void;

type StoredSession = session.SessionData;

export interface SessionStoreOptions {
  /** Activity is written at most this often per session, so reads stay reads. */
  touchIntervalMs?: number;
  maxAgeMs: number;
  /** Sessions are read here, without Prisma (see `DirectReads`). */
  reads: DirectReads;
}

/** A stored session with its user's row (null: the session names no existing user). */
interface SessionWithUser {
  data: string;
  expiresAt: Date;
  lastSeenAt: Date;
  user: PublicUser | null;
}

/** A raw row: timestamps differ by database (SQLite has no dates), so they are normalized. */
interface SessionRow extends RawUserRow {
  data: string;
  expiresAt: Date | string;
  lastSeenAt: Date | string;
}

const SESSION_WITH_USER_SQL = `
  SELECT s."data", s."expiresAt", s."lastSeenAt", ${USER_COLUMNS_SQL}
  FROM "Session" s LEFT JOIN "User" u ON u."id" = s."userId"
  WHERE s."id" = ?`;

/** The session stored under `key` and its user, in one statement. */
async function readSessionWithUser(reads: DirectReads, key: string): Promise<SessionWithUser | null> {
  const row = await reads.get<SessionRow>(SESSION_WITH_USER_SQL, key);
  if (!row) return null;
  return {
    data: row.data,
    expiresAt: new Date(row.expiresAt),
    lastSeenAt: new Date(row.lastSeenAt),
    user: userFromRow(row),
  };
}

/** An express-session store on the project's own Session table. */
export class PrismaSessionStore extends session.Store {
  private readonly touchIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly reads: DirectReads;
  /** Put on the store by express-session's middleware: a new session, under a new id, on `req`. */
  declare generate: (req: Parameters<session.Store['regenerate']>[0]) => void;
  /** What was last written of each session object, its cookie aside (express-session saves twice at login). */
  private readonly written = new WeakMap<object, string>();

  constructor(
    private readonly prisma: Database,
    options: SessionStoreOptions,
  ) {
    super();
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.maxAgeMs = options.maxAgeMs;
    this.reads = options.reads;
  }

  /**
   * Reads the session and its user in one statement: every signed-in request starts here, and
   * `me` and the staff check then need no query of their own (the session's `user`). Raw SQL on
   * the direct reads, not Prisma: a Prisma query costs several times the statement itself, and a
   * relation would be a second statement (docs/performance.md).
   */
  override get(sid: string, callback: Callback<StoredSession | null>): void {
    const key = sessionKey(sid);
    readSessionWithUser(this.reads, key)
      .then(async (stored) => {
        if (!stored) return callback(null, null);
        if (stored.expiresAt.getTime() <= Date.now()) {
          await this.prisma.session.deleteMany({ where: { id: key } });
          return callback(null, null);
        }
        callback(null, { ...JSON.parse(stored.data), lastSeenAt: stored.lastSeenAt.getTime(), user: stored.user });
      })
      .catch((error) => callback(error));
  }

  override createSession(req: Parameters<session.Store['createSession']>[0], stored: StoredSession): session.Session & StoredSession {
    // Taken off the object `get` returned, which express-session also hashes.
    const { user } = stored;
    delete (stored as Partial<StoredSession>).user;
    const created = super.createSession(req, stored);
    Object.defineProperty(created, 'user', { value: user, enumerable: false });
    return created;
  }

  override set(sid: string, stored: StoredSession, callback?: Callback): void {
    const { lastSeenAt, ...data } = stored;
    // express-session saves the session a sign-in started once more at the end of that request
    // (regenerating hides the first save from it), its cookie's expiry moved on by a few ms: with
    // nothing else changed, there is nothing to write.
    const { cookie: _cookie, ...content } = data;
    const written = JSON.stringify(content);
    if (this.written.get(stored) === written) return void callback?.();
    const fields = {
      data: JSON.stringify(data),
      userId: data.userId ?? null,
      userAgent: data.userAgent ?? null,
      ipAddress: data.ipAddress ?? null,
      expiresAt: this.expiresAt(stored),
      lastSeenAt: new Date(),
    };
    // A session that is already stored is only ever updated: if it was ended meanwhile (logout
    // elsewhere, deactivation), a late save at the end of its request must not bring it back. One
    // that is not has a new random id (see `regenerate`), so it is inserted, and not read back.
    const write = this.isStored(stored)
      ? this.prisma.session.updateMany({ where: { id: sessionKey(sid) }, data: fields })
      : this.prisma.session.createMany({ data: { id: sessionKey(sid), ...fields, createdAt: fields.lastSeenAt } });
    write
      .then(() => {
        this.written.set(stored, written);
        callback?.();
      })
      .catch((error) => callback?.(error));
  }

  /**
   * A session never stored (a browser's first sign-in) already has a fresh, unguessable id, which
   * express-session never takes from an unknown cookie: there is no row to delete.
   */
  override regenerate(req: Parameters<session.Store['regenerate']>[0], callback: (error?: unknown) => void): void {
    if (req.session && !this.isStored(req.session as unknown as StoredSession)) {
      this.generate(req);
      return void callback();
    }
    super.regenerate(req, callback);
  }

  /** Read from the table by this request (`get` adds lastSeenAt), or written by it. */
  private isStored(stored: StoredSession): boolean {
    return stored.lastSeenAt !== undefined || this.written.has(stored);
  }

  override destroy(sid: string, callback?: Callback): void {
    this.prisma.session
      .deleteMany({ where: { id: sessionKey(sid) } })
      .then(() => callback?.())
      .catch((error) => callback?.(error));
  }

  override touch(sid: string, stored: StoredSession, callback?: Callback): void {
    if (stored.lastSeenAt && Date.now() - stored.lastSeenAt < this.touchIntervalMs) {
      callback?.();
      return;
    }
    this.prisma.session
      .updateMany({ where: { id: sessionKey(sid) }, data: { lastSeenAt: new Date() } })
      .then(() => callback?.())
      .catch((error) => callback?.(error));
  }

  private expiresAt(stored: StoredSession): Date {
    const expires = stored.cookie?.expires;
    return expires ? new Date(expires) : new Date(Date.now() + this.maxAgeMs);
  }
}
