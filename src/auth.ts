import type { Services } from './context.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail, publicUserColumns, type PublicUser } from './users.ts';

/**
 * Checks an email and password. Unknown emails, wrong passwords and inactive accounts all answer
 * null after one bcrypt check each, so neither the answer nor its timing tells them apart.
 * On success it records the login and upgrades the hash when the configured cost changed.
 */
export async function authenticate(
  services: Pick<Services, 'prisma' | 'hasher'>,
  rawEmail: string,
  password: string,
): Promise<PublicUser | null> {
  const email = normalizeEmail(rawEmail);
  const account =
    email.length > 0 && email.length <= MAX_EMAIL_LENGTH
      ? await services.prisma.user.findUnique({ where: { email }, select: { id: true, passwordHash: true, isActive: true } })
      : null;
  const passwordMatches = await services.hasher.verify(password, account?.passwordHash);
  if (!account || !passwordMatches || !account.isActive) return null;

  const passwordHash = services.hasher.needsRehash(account.passwordHash) ? await services.hasher.hash(password) : undefined;
  return services.prisma.user.update({
    where: { id: account.id },
    data: { lastLogin: new Date(), passwordHash },
    select: publicUserColumns,
  });
}
