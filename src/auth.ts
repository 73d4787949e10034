import { MAX_EMAIL_LENGTH, normalizeEmail, publicUserColumns, type AccountDeps, type PublicUser } from './users.ts';

export type Authentication = { user: PublicUser; accountId: number } | { user: null; accountId: number | null };

/**
 * Checks an email and password. Unknown emails, wrong passwords and inactive accounts all fail
 * after one bcrypt check each, so neither the answer nor its timing tells them apart; the account
 * id comes back for the audit log only. On success it records the login and upgrades the hash
 * when the configured cost changed.
 */
export async function authenticate(
  services: AccountDeps,
  rawEmail: string,
  password: string,
): Promise<Authentication> {
  const email = normalizeEmail(rawEmail);
  const account =
    email.length > 0 && email.length <= MAX_EMAIL_LENGTH
      ? await services.prisma.user.findUnique({ where: { email }, select: { id: true, passwordHash: true, isActive: true } })
      : null;
  const passwordMatches = await services.hasher.verify(password, account?.passwordHash);
  if (!account || !passwordMatches || !account.isActive) return { user: null, accountId: account?.id ?? null };

  const passwordHash = services.hasher.needsRehash(account.passwordHash) ? await services.hasher.hash(password) : undefined;
  const user = await services.prisma.user.update({
    where: { id: account.id },
    data: { lastLogin: new Date(), passwordHash },
    select: publicUserColumns,
  });
  return { user, accountId: user.id };
}
