import type { Logger } from 'pino';
import type { Database, DirectReads } from './db.ts';
import type { AuthEvent, Prisma } from './generated/prisma/client.ts';
import { countRows, type SqlCondition } from './pages.ts';
import { truncate } from './text.ts';
import { parseUserId } from './users.ts';

export const AUTH_EVENT_KINDS = [
  'REGISTERED',
  'LOGIN_SUCCEEDED',
  'LOGIN_FAILED',
  'LOGOUT',
  'TOKENS_ISSUED',
  'TOKENS_REFRESHED',
  'REFRESH_TOKEN_REUSED',
  'PASSWORD_CHANGED',
  'PASSWORD_RESET_REQUESTED',
  'PASSWORD_RESET',
  'SESSION_REVOKED',
  'USER_CREATED',
  'USER_UPDATED',
  'USER_DELETED',
  'RATE_LIMITED',
  'SECOND_FACTOR_ENABLED',
  'SECOND_FACTOR_DISABLED',
  'SECOND_FACTOR_FAILED',
  'RECOVERY_CODE_USED',
  'PASSKEY_ADDED',
  'PASSKEY_REMOVED',
  'EMAIL_VERIFIED',
  'EMAIL_CHANGE_REQUESTED',
  'EMAIL_CHANGED',
] as const;

export type AuthEventKind = (typeof AUTH_EVENT_KINDS)[number];

export interface AuthEventRecord {
  kind: AuthEventKind;
  /** The account the event is about. */
  userId?: number | null;
  /** Who did it: the user, a staff member, or null for an anonymous request. */
  actorId?: number | null;
  /** The address that was tried, also when it names no account. */
  email?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
}

const MAX_EMAIL_LENGTH = 254;

/** Records what happened to accounts. Never a password or a token; never fails the caller. */
export class AuditLog {
  constructor(
    private readonly prisma: Database,
    private readonly logger: Logger,
  ) {}

  async record(event: AuthEventRecord): Promise<void> {
    try {
      // `createMany` of one: the event is not read back, and an insert that returns nothing costs
      // less than `create` (docs/performance.md).
      await this.prisma.authEvent.createMany({
        data: {
          kind: event.kind,
          userId: event.userId ?? null,
          actorId: event.actorId ?? null,
          // A cut through a surrogate pair would leave text no database stores.
          email: event.email == null ? null : truncate(event.email, MAX_EMAIL_LENGTH),
          ipAddress: event.ipAddress ?? null,
          userAgent: event.userAgent ?? null,
        },
      });
    } catch (error) {
      this.logger.error({ err: error, kind: event.kind, userId: event.userId }, 'could not record an auth event');
    }
  }

  async prune(retentionMs: number): Promise<number> {
    const { count } = await this.prisma.authEvent.deleteMany({ where: { at: { lt: new Date(Date.now() - retentionMs) } } });
    return count;
  }
}

/** Which events a staff member looks at; every condition is optional. */
export interface AuthEventFilter {
  /** Events about this user: an id the API handed out (anything else matches no event). */
  userId?: string | number | null;
  kind?: AuthEventKind | null;
}

/** A window of the log, newest first, as Prisma reads it (see `UserWindow` in userDirectory.ts). */
export interface AuthEventWindow {
  take?: number;
  skip?: number;
  cursor?: { id: number };
  select?: Prisma.AuthEventSelect | null;
  include?: Prisma.AuthEventInclude | null;
}

function authEventWhere(filter: AuthEventFilter | null | undefined): { userId?: number; kind?: AuthEventKind } {
  // An id the API never gave out names no user, so it matches no event.
  const userId = filter?.userId == null ? undefined : (parseUserId(filter.userId) ?? -1);
  return { userId, kind: filter?.kind ?? undefined };
}

/** The events in `window` of the log that `filter` selects, newest first. */
export async function findAuthEvents(
  deps: { prisma: Database },
  filter: AuthEventFilter | null | undefined,
  window: AuthEventWindow,
): Promise<AuthEvent[]> {
  return deps.prisma.authEvent.findMany({ ...window, where: authEventWhere(filter), orderBy: { id: 'desc' } } as Prisma.AuthEventFindManyArgs);
}

/** How many events `filter` selects, whatever the page. */
export async function countAuthEvents(deps: { directReads: DirectReads }, filter: AuthEventFilter | null | undefined): Promise<number> {
  const { userId, kind } = authEventWhere(filter);
  const conditions: SqlCondition[] = [
    ...(userId !== undefined ? [['"userId" = ?', userId] as const] : []),
    ...(kind !== undefined ? [['"kind" = ?', kind] as const] : []),
  ];
  return countRows(deps.directReads, 'AuthEvent', conditions);
}
