import type { Config } from './config.ts';
import type { Logger } from 'pino';
import type { Mailer } from './mail.ts';
import type { BackgroundTasks } from './background.ts';
import { consumeEmailToken, emailTokenLink, findEmailToken, issueEmailToken } from './emailTokens.ts';
import { InvalidTokenError, ValidationError } from './errors.ts';
import { passwordProblems } from './passwords/policy.ts';
import { endSessions } from './sessions.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail, type AccountDeps } from './users.ts';
import { publicUserColumns, type PublicUser } from './userRows.ts';

interface ResetServices extends AccountDeps {
  mailer: Mailer;
  logger: Logger;
  background: BackgroundTasks;
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
  const delivered = services.background.track(
    sendResetMail(services, user).catch((error) => {
      services.logger.error({ err: error, userId: user.id }, 'password reset mail failed');
    }),
  );
  return { userId: user.id, delivered };
}

async function sendResetMail(services: ResetServices, user: { id: number; email: string }): Promise<void> {
  const token = await issueEmailToken(services.prisma, { userId: user.id, purpose: 'PASSWORD_RESET', email: user.email });
  const link = emailTokenLink(services.config.passwordResetUrl, token);
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

/**
 * Sets a new password with a reset token, which is used up; every session of the user ends. The
 * link proved control of the mailbox it went to, so that address, if still the account's, is
 * verified too.
 */
export async function resetPassword(services: AccountDeps, token: string, newPassword: string): Promise<PublicUser> {
  const stored = await findEmailToken(services.prisma, token, ['PASSWORD_RESET']);
  const user = stored
    ? await services.prisma.user.findUnique({
        where: { id: stored.userId },
        select: { email: true, firstName: true, lastName: true, isActive: true },
      })
    : null;
  if (!stored || !user?.isActive) throw new InvalidTokenError();
  // A weak password leaves the token unused, so the user can try again from the same link.
  ValidationError.check({ newPassword: await passwordProblems(newPassword, user) });
  const passwordHash = await services.hasher.hash(newPassword);

  return services.prisma.$transaction(async (tx) => {
    if (!(await consumeEmailToken(tx, stored))) throw new InvalidTokenError();
    // Only while the account still has the address the link went to.
    await tx.user.updateMany({ where: { id: stored.userId, email: stored.email }, data: { emailVerified: true } });
    const updated = await tx.user.update({ where: { id: stored.userId }, data: { passwordHash }, select: publicUserColumns });
    for (const write of endSessions(tx, stored.userId)) await write;
    return updated;
  });
}
