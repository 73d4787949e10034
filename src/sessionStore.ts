import session from 'express-session';
import type { Database } from './db.ts';
import { digest } from './opaqueTokens.ts';

declare module 'express-session' {
  interface SessionData {
    userId: number;
    userAgent: string | null;
    ipAddress: string | null;
    /** When the store last recorded activity; kept out of the stored data. */
    lastSeenAt: number;
  }
}

/** Sessions are stored under a hash of their id, so a leaked table holds no usable cookies. */
export const sessionKey = digest;

type Callback<T = void> = (error?: unknown, value?: T) => void;
type StoredSession = session.SessionData;

export interface SessionStoreOptions {
  /** Activity is written at most this often per session, so reads stay reads. */
  touchIntervalMs?: number;
  maxAgeMs: number;
}

/** An express-session store on the project's own Session table. */
export class PrismaSessionStore extends session.Store {
  private readonly touchIntervalMs: number;
  private readonly maxAgeMs: number;

  constructor(
    private readonly prisma: Database,
    options: SessionStoreOptions,
  ) {
    super();
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.maxAgeMs = options.maxAgeMs;
  }

  override get(sid: string, callback: Callback<StoredSession | null>): void {
    this.prisma.session
      .findUnique({ where: { id: sessionKey(sid) }, select: { data: true, expiresAt: true, lastSeenAt: true } })
      .then(async (row) => {
        if (!row) return callback(null, null);
        if (row.expiresAt.getTime() <= Date.now()) {
          await this.prisma.session.deleteMany({ where: { id: sessionKey(sid) } });
          return callback(null, null);
        }
        callback(null, { ...JSON.parse(row.data), lastSeenAt: row.lastSeenAt.getTime() });
      })
      .catch((error) => callback(error));
  }

  override set(sid: string, stored: StoredSession, callback?: Callback): void {
    const { lastSeenAt: _lastSeenAt, ...data } = stored;
    const fields = {
      data: JSON.stringify(data),
      userId: data.userId ?? null,
      userAgent: data.userAgent ?? null,
      ipAddress: data.ipAddress ?? null,
      expiresAt: this.expiresAt(stored),
      lastSeenAt: new Date(),
    };
    this.prisma.session
      .upsert({ where: { id: sessionKey(sid) }, create: { id: sessionKey(sid), ...fields }, update: fields })
      .then(() => callback?.())
      .catch((error) => callback?.(error));
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
