import type { Logger } from 'pino';
import type { Database } from './db.ts';
import { truncate } from './text.ts';

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
      await this.prisma.authEvent.create({
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
