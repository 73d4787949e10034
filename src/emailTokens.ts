import type { Database } from './db.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { digest, MAX_TOKEN_LENGTH, randomToken } from './opaqueTokens.ts';

/**
 * Single-use links sent by mail. One mechanism for every purpose: a random 256-bit token, stored
 * only as a SHA-256, bound to the user and to the address it was mailed to, valid for its purpose's
 * lifetime, used up by its first use, and retired by the next token of the same purpose.
 */
export type EmailTokenPurpose = 'PASSWORD_RESET' | 'VERIFY_EMAIL' | 'CHANGE_EMAIL';

export const EMAIL_TOKEN_TTL_MS: Record<EmailTokenPurpose, number> = {
  PASSWORD_RESET: 60 * 60 * 1000,
  VERIFY_EMAIL: 24 * 60 * 60 * 1000,
  CHANGE_EMAIL: 24 * 60 * 60 * 1000,
};

export interface EmailTokenRow {
  id: string;
  userId: number;
  purpose: EmailTokenPurpose;
  /** The address the link was mailed to. */
  email: string;
  expiresAt: Date;
}

type Writer = Database | Prisma.TransactionClient;

/** Issues a token for `email` and retires the user's earlier tokens of the same purpose. Returns the token itself, for the link. */
export async function issueEmailToken(
  prisma: Database,
  { userId, purpose, email }: { userId: number; purpose: EmailTokenPurpose; email: string },
): Promise<string> {
  const token = randomToken();
  await prisma.$transaction([
    prisma.emailToken.deleteMany({ where: { userId, purpose } }),
    prisma.emailToken.create({
      data: { id: digest(token), userId, purpose, email, expiresAt: new Date(Date.now() + EMAIL_TOKEN_TTL_MS[purpose]) },
    }),
  ]);
  return token;
}

/** The unexpired token of one of `purposes` that `token` names, or null; it stays unused. */
export async function findEmailToken(prisma: Database, token: string, purposes: EmailTokenPurpose[]): Promise<EmailTokenRow | null> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
  const row = await prisma.emailToken.findUnique({
    where: { id: digest(token) },
    select: { id: true, userId: true, purpose: true, email: true, expiresAt: true },
  });
  if (!row || !purposes.includes(row.purpose as EmailTokenPurpose) || row.expiresAt.getTime() <= Date.now()) return null;
  return row as EmailTokenRow;
}

/**
 * Uses up a token found by `findEmailToken`, in the caller's transaction: true for exactly one of
 * any number of simultaneous uses, false when it was used, retired or expired meanwhile.
 */
export async function consumeEmailToken(tx: Writer, row: Pick<EmailTokenRow, 'id'>): Promise<boolean> {
  const { count } = await tx.emailToken.deleteMany({ where: { id: row.id, expiresAt: { gt: new Date() } } });
  return count === 1;
}

/** Retires a user's tokens of these purposes (unrun, for the caller's transaction). */
export function retireEmailTokens(prisma: Writer, userId: number, purposes: EmailTokenPurpose[]) {
  return prisma.emailToken.deleteMany({ where: { userId, purpose: { in: purposes } } });
}

/** The link for a mail: the configured template with `{token}` replaced. */
export function emailTokenLink(template: string, token: string): string {
  return template.replace('{token}', encodeURIComponent(token));
}
