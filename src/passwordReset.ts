import type { Config } from './config.ts';
import type { Logger } from 'pino';
import type { Mailer } from './mail.ts';
import { InvalidTokenError, ValidationError } from './errors.ts';
import { digest, MAX_TOKEN_LENGTH, randomToken } from './opaqueTokens.ts';
import { passwordProblems } from './passwords/policy.ts';
import { endSessions } from './userSessions.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail, publicUserColumns, type AccountDeps, type PublicUser } from './users.ts';

export const RESET_TOKEN_TTL_MS = 60 * 60 * 1000;

interface ResetServices extends AccountDeps {
  mailer: Mailer;
  logger: Logger;
  config: Pick<Config, 'passwordResetUrl'>;
}

/**
 * Answers after the same single lookup whether or not the account exists; storing the token and
 * sending the mail happen afterwards, so neither the answer nor its timing reveals an account.
 * Returns the background work, for callers that want to wait for it.
 */
export async function requestPasswordReset(
  services: ResetServices,
  rawEmail: string,
): Promise<{ userId: number | null; delivered: Promise<void> }> {
  const email = normalizeEmail(rawEmail);
  const user =
    email.length > 0 && email.length <= MAX_EMAIL_LENGTH
      ? await services.prisma.user.findUnique({ where: { email }, select: { id: true, email: true, isActive: true } })
      : null;
  if (!user?.isActive) return { userId: user?.id ?? null, delivered: Promise.resolve() };
  const delivered = sendResetMail(services, user).catch((error) => {
    services.logger.error({ err: error, userId: user.id }, 'password reset mail failed');
  });
  return { userId: user.id, delivered };
}

async function sendResetMail(services: ResetServices, user: { id: number; email: string }): Promise<void> {
  const token = randomToken();
  // A new request invalidates the user's earlier, unused tokens.
  await services.prisma.$transaction([
    services.prisma.passwordResetToken.deleteMany({ where: { userId: user.id } }),
    services.prisma.passwordResetToken.create({
      data: { id: digest(token), userId: user.id, expiresAt: new Date(Date.now() + RESET_TOKEN_TTL_MS) },
    }),
  ]);
  const link = services.config.passwordResetUrl.replace('{token}', encodeURIComponent(token));
  await services.mailer.send({
    to: user.email,
    subject: 'Reset your password',
    text: [
      'Someone asked to reset the password of your account.',
      '',
      `To choose a new password, open this link within the next hour: ${link}`,
      '',
      'If it was not you, ignore this mail: your password stays as it is.',
    ].join('\n'),
  });
}

/** Sets a new password with a reset token, which is used up; every session of the user ends. */
export async function resetPassword(
  services: AccountDeps,
  token: string,
  newPassword: string,
): Promise<PublicUser> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError();
  const id = digest(token);
  const stored = await services.prisma.passwordResetToken.findUnique({
    where: { id },
    select: { userId: true, expiresAt: true, user: { select: { email: true, firstName: true, lastName: true, isActive: true } } },
  });
  if (!stored || stored.expiresAt.getTime() <= Date.now() || !stored.user.isActive) throw new InvalidTokenError();
  // A weak password leaves the token unused, so the user can try again from the same link.
  ValidationError.check({ newPassword: passwordProblems(newPassword, stored.user) });
  const passwordHash = await services.hasher.hash(newPassword);

  return services.prisma.$transaction(async (tx) => {
    const { count } = await tx.passwordResetToken.deleteMany({ where: { id, expiresAt: { gt: new Date() } } });
    if (count === 0) throw new InvalidTokenError();
    const user = await tx.user.update({ where: { id: stored.userId }, data: { passwordHash }, select: publicUserColumns });
    for (const write of endSessions(tx, stored.userId)) await write;
    return user;
  });
}
