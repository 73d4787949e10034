import type { Logger } from 'pino';
import type { BackgroundTasks } from './background.ts';
import type { Config } from './config.ts';
import type { Database } from './db.ts';
import { consumeEmailToken, emailTokenLink, findEmailToken, issueEmailToken, retireEmailTokens } from './emailTokens.ts';
import { InvalidCredentialsError, InvalidTokenError, ValidationError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import type { Mailer } from './mail.ts';
import type { PasswordHasher } from './passwords/hasher.ts';
import { emailProblems, normalizeEmail } from './users.ts';
import { publicUserColumns, type PublicUser } from './userRows.ts';
import { endSessions, type Credential } from './sessions.ts';

type MailServices = {
  prisma: Database;
  mailer: Mailer;
  logger: Logger;
  background: BackgroundTasks;
  config: Pick<Config, 'emailVerificationUrl'>;
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A mail as text and as HTML, from paragraphs; `{link}` in a paragraph becomes the link. */
function compose(paragraphs: string[], link?: string): { text: string; html: string } {
  const text = paragraphs.map((paragraph) => (link ? paragraph.replace('{link}', link) : paragraph)).join('\n\n');
  const html = paragraphs
    .map((paragraph) => {
      const escaped = escapeHtml(paragraph);
      return `<p>${link ? escaped.replace('{link}', `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`) : escaped}</p>`;
    })
    .join('\n');
  return { text, html: `<!doctype html>\n<html><body>\n${html}\n</body></html>\n` };
}

/** Issues a verification token for the user's current address and mails its link there. */
export async function mailVerificationLink(services: MailServices, user: { id: number; email: string }): Promise<void> {
  const token = await issueEmailToken(services.prisma, { userId: user.id, purpose: 'VERIFY_EMAIL', email: user.email });
  const link = emailTokenLink(services.config.emailVerificationUrl, token);
  await services.mailer.send({
    to: user.email,
    subject: 'Verify your email address',
    ...compose(
      [
        `Please confirm that ${user.email} is your email address by opening this link within the next 24 hours:`,
        '{link}',
        'If you did not create an account, ignore this mail.',
      ],
      link,
    ),
  });
}

/**
 * Mails a verification link without making the caller wait: neither the token's write nor the SMTP
 * server's answer is on the request's path, so a slow or failing mail server cannot delay or fail
 * it. A failure is logged; `sendVerificationEmail` tries again. Returns the background work, for
 * callers that want to wait for it.
 */
export function mailVerificationLinkLater(services: MailServices, user: { id: number; email: string }): Promise<void> {
  return services.background.track(
    mailVerificationLink(services, user).catch((error) => {
      services.logger.error({ err: error, userId: user.id }, 'verification mail failed');
    }),
  );
}

/** The address of a signed-in user and whether it is verified (the rate limits count by address). */
export function verificationStatus(prisma: Database, userId: number): Promise<{ id: number; email: string; emailVerified: boolean }> {
  return prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, email: true, emailVerified: true } });
}

/** Mails a new link (retiring the earlier one) unless the address is verified already. */
export function resendVerificationLink(services: MailServices, user: { id: number; email: string; emailVerified: boolean }): void {
  if (!user.emailVerified) void mailVerificationLinkLater(services, user);
}

/**
 * Asks to move the account to `newEmail`: the current password must be right and the address
 * valid and free. The change itself waits for the link mailed to the new address (see
 * `verifyEmail`); the old address gets a notice without the link, so its owner learns of it.
 */
export async function requestEmailChange(
  services: MailServices & { hasher: PasswordHasher },
  userId: number,
  input: { newEmail: string; currentPassword: string },
): Promise<{ newEmail: string; delivered: Promise<void> }> {
  const account = await services.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true, passwordHash: true } });
  if (!(await services.hasher.verify(input.currentPassword, account.passwordHash))) throw new InvalidCredentialsError();
  const newEmail = normalizeEmail(input.newEmail);
  const problems = emailProblems(newEmail);
  if (problems.length === 0) {
    if (newEmail === account.email) problems.push('This is already your email address.');
    else if (await services.prisma.user.findUnique({ where: { email: newEmail }, select: { id: true } })) {
      problems.push('A user with that email already exists.');
    }
  }
  ValidationError.check({ newEmail: problems });

  const token = await issueEmailToken(services.prisma, { userId, purpose: 'CHANGE_EMAIL', email: newEmail });
  const link = emailTokenLink(services.config.emailVerificationUrl, token);
  const mails = [
    services.mailer.send({
      to: newEmail,
      subject: 'Confirm your new email address',
      ...compose(
        [
          // The old address stays out of this mail: a mistyped new address may belong to a stranger.
          `Someone asked to make this address, ${newEmail}, the email address of their account.`,
          'To confirm, open this link within the next 24 hours:',
          '{link}',
          'Until then the account keeps its current address. If it was not you, ignore this mail.',
        ],
        link,
      ),
    }),
    services.mailer.send({
      to: account.email,
      subject: 'Your email address is about to change',
      ...compose([
        `Someone signed in to your account asked to change its email address to ${newEmail}.`,
        'The change happens only when the link mailed to that address is opened, within 24 hours.',
        'If it was not you, change your password now: that cancels the change and signs out everywhere.',
      ]),
    }),
  ];
  const delivered = services.background.track(
    Promise.all(mails.map((mail) => mail.catch((error) => services.logger.error({ err: error, userId }, 'email change mail failed')))).then(
      () => undefined,
    ),
  );
  return { newEmail, delivered };
}

export type Verification = { user: PublicUser; changed: false } | { user: PublicUser; changed: true; previousEmail: string };

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/**
 * Uses a verification or email-change link. A verification link marks its address verified if it
 * is still the account's; an email-change link moves the account to the address it was mailed to,
 * marks it verified and ends the user's other sessions and refresh tokens (the requester's own
 * session, when it is the user's, stays). Unknown, used, expired or superseded links, inactive
 * accounts, and an address someone else took meanwhile are InvalidTokenError, and change nothing.
 */
export async function verifyEmail(
  services: { prisma: Database },
  token: string,
  requester: { userId: number | null; credential: Credential | null },
): Promise<Verification> {
  const row = await findEmailToken(services.prisma, token, ['VERIFY_EMAIL', 'CHANGE_EMAIL']);
  if (!row) throw new InvalidTokenError();
  const account = await services.prisma.user.findUnique({ where: { id: row.userId }, select: { email: true, isActive: true } });
  if (!account?.isActive) throw new InvalidTokenError();

  if (row.purpose === 'VERIFY_EMAIL') {
    // A link for an address the account no longer has proves nothing about the current one.
    if (row.email !== account.email) throw new InvalidTokenError();
    const user = await services.prisma.$transaction(async (tx) => {
      if (!(await consumeEmailToken(tx, row))) throw new InvalidTokenError();
      const { count } = await tx.user.updateMany({ where: { id: row.userId, email: row.email, isActive: true }, data: { emailVerified: true } });
      if (count === 0) throw new InvalidTokenError();
      return tx.user.findUniqueOrThrow({ where: { id: row.userId }, select: publicUserColumns });
    });
    return { user, changed: false };
  }

  const keep = requester.userId === row.userId ? requester.credential : null;
  try {
    const user = await services.prisma.$transaction(async (tx) => {
      if (!(await consumeEmailToken(tx, row))) throw new InvalidTokenError();
      const user = await tx.user.update({ where: { id: row.userId }, data: { email: row.email, emailVerified: true }, select: publicUserColumns });
      await retireEmailTokens(tx, row.userId, ['VERIFY_EMAIL']);
      for (const write of endSessions(tx, row.userId, keep)) await write;
      return user;
    });
    return { user, changed: true, previousEmail: account.email };
  } catch (error) {
    // Someone else has the address now (the unique index decides between simultaneous changes).
    if (isUniqueViolation(error)) throw new InvalidTokenError();
    throw error;
  }
}
