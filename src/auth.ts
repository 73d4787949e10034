import type { DirectReads } from './db.ts';
import { InvalidCredentialsError, ValidationError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import { passwordProblems } from './passwords/policy.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail, type AccountDeps } from './users.ts';
import { publicUserColumns, USER_COLUMNS_SQL, userFromRow, type Flag, type PublicUser, type RawUserRow } from './userRows.ts';
import { endSessions, type Credential } from './sessions.ts';

export type Authentication =
  /** The password was right and nothing more is asked: the login is recorded. */
  | { outcome: 'signedIn'; user: PublicUser }
  /** The password was right, and the account has a second factor to ask for. */
  | { outcome: 'secondFactor'; userId: number }
  /** The account id (when the email names one) is for the audit log only. */
  | { outcome: 'failed'; accountId: number | null };

/**
 * Checks an email and password. Unknown emails, wrong passwords and inactive accounts all fail
 * after one bcrypt check each, so neither the answer nor its timing tells them apart. Whether the
 * account has a second factor is read in the same query as the hash, so a sign-in without one
 * costs what it always did. On success it upgrades the hash when the configured cost changed, and
 * records the login unless a second factor is still to come.
 */
export async function authenticate(
  services: AccountDeps & { directReads: DirectReads },
  rawEmail: string,
  password: string,
): Promise<Authentication> {
  const email = normalizeEmail(rawEmail);
  const account = email.length > 0 && email.length <= MAX_EMAIL_LENGTH ? await readAccount(services.directReads, email) : null;
  const passwordMatches = await services.hasher.verify(password, account?.passwordHash);
  if (!account || !passwordMatches || !account.user.isActive) return { outcome: 'failed', accountId: account?.user.id ?? null };

  const passwordHash = services.hasher.needsRehash(account.passwordHash) ? await services.hasher.hash(password) : undefined;
  if (account.hasSecondFactor) {
    if (passwordHash) await services.prisma.user.update({ where: { id: account.user.id }, data: { passwordHash }, select: { id: true } });
    return { outcome: 'secondFactor', userId: account.user.id };
  }
  // The row read above answers the login: an update that returns nothing is the cheapest write
  // Prisma has (docs/performance.md), and `isActive` in its filter still refuses an account
  // deactivated while its password was being checked.
  const lastLogin = new Date();
  const { count } = await services.prisma.user.updateMany({ where: { id: account.user.id, isActive: true }, data: { lastLogin, passwordHash } });
  if (count === 0) return { outcome: 'failed', accountId: account.user.id };
  return { outcome: 'signedIn', user: { ...account.user, lastLogin } };
}

const ACCOUNT_BY_EMAIL_SQL = `SELECT ${USER_COLUMNS_SQL}, u."passwordHash", u."hasSecondFactor" FROM "User" u WHERE u."email" = ?`;

/**
 * The account a password check is about, with the row a successful login answers with, as one
 * prepared statement: every sign-in starts here, and Prisma's query costs several times the
 * statement (docs/performance.md).
 */
async function readAccount(reads: DirectReads, email: string) {
  const row = await reads.get<RawUserRow & { passwordHash: string; hasSecondFactor: Flag }>(ACCOUNT_BY_EMAIL_SQL, email);
  const user = row && userFromRow(row);
  return user && { user, passwordHash: row.passwordHash, hasSecondFactor: Boolean(row.hasSecondFactor) };
}

/**
 * Records the login of a user who has just proved who they are some other way than a password
 * alone (second factor, passkey); null when the account is gone or inactive by now.
 */
export async function recordLogin(services: Pick<AccountDeps, 'prisma'>, userId: number): Promise<PublicUser | null> {
  try {
    return await services.prisma.user.update({
      where: { id: userId, isActive: true },
      data: { lastLogin: new Date() },
      select: publicUserColumns,
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return null;
    throw error;
  }
}

/** Whether a signed-in user's current password is this one (for changes that need it again). */
export async function checkCurrentPassword(
  services: AccountDeps,
  userId: number,
  password: string,
): Promise<boolean> {
  const account = await services.prisma.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
  return services.hasher.verify(password, account?.passwordHash);
}

export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
}

/**
 * A signed-in user's new password, given their current one. Every session and token sign-in of
 * the user ends with it, in one transaction, except the token sign-in the change was made with:
 * a cookie session ends too, and the caller starts a new one under a new id (an HTTP matter).
 */
export async function changePassword(
  services: AccountDeps,
  userId: number,
  change: PasswordChange,
  current: Credential | null,
): Promise<PublicUser> {
  const account = await services.prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: { passwordHash: true, email: true, firstName: true, lastName: true },
  });
  if (!(await services.hasher.verify(change.currentPassword, account.passwordHash))) throw new InvalidCredentialsError();
  ValidationError.check({ newPassword: await passwordProblems(change.newPassword, account) });
  const passwordHash = await services.hasher.hash(change.newPassword);
  const keep = current?.kind === 'token' ? current : null;
  const [user] = await services.prisma.$transaction([
    services.prisma.user.update({ where: { id: userId }, data: { passwordHash }, select: publicUserColumns }),
    ...endSessions(services.prisma, userId, keep),
  ]);
  return user;
}
