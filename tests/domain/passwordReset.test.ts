// Password reset (src/passwordReset.ts) called directly: a real database, the real hasher, and its
// mails sent over SMTP to a real server on a loopback port.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth.ts';
import { BackgroundTasks } from '../../src/background.ts';
import { InvalidTokenError, ValidationError } from '../../src/errors.ts';
import { createMailer, type Mailer } from '../../src/mail.ts';
import { requestPasswordReset, resetPassword } from '../../src/passwordReset.ts';
import { createUser } from '../../src/users.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';
import { closedPort, linkToken, startMailbox, waitForLogEntry, type Mailbox } from '../helpers/mail.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const NEW_PASSWORD = 'Purple-Monkey-Dishwasher-4';
const RESET_URL = 'https://app.test/reset?token=';

let mailbox: Mailbox;
let parts: DomainParts;
let mailer: Mailer;
let reset: Parameters<typeof requestPasswordReset>[0];

beforeAll(async () => {
  mailbox = await startMailbox();
  parts = await domainParts({ SMTP_URL: `smtp://127.0.0.1:${mailbox.port}`, PASSWORD_RESET_URL: `${RESET_URL}{token}` });
  mailer = createMailer(parts.config, parts.logger);
  reset = { ...parts, mailer, background: new BackgroundTasks() };
});
afterAll(async () => {
  mailer?.close();
  await parts?.close();
  await mailbox?.close();
});

let user: { id: number; email: string };
beforeEach(async () => {
  user = await createUser(parts, { email: `${randomUUID()}@reset.test`, password: PASSWORD });
});

async function storedTokens(userId: number) {
  return parts.prisma.emailToken.count({ where: { userId, purpose: 'PASSWORD_RESET' } });
}

/** Asks for a reset and returns the token of the link mailed. */
async function mailedToken(email = user.email): Promise<string> {
  const { delivered } = await requestPasswordReset(reset, email);
  await delivered;
  return linkToken((await mailbox.next(email)).body, RESET_URL);
}

describe('requestPasswordReset', () => {
  it('mails an active account a link with a fresh token, and names the account', async () => {
    const { userId, delivered } = await requestPasswordReset(reset, `  ${user.email.toUpperCase()} `);
    expect(userId).toBe(user.id);
    await delivered;
    const mail = await mailbox.next(user.email);
    expect(mail.headers.get('subject')).toBe('Reset your password');
    expect(linkToken(mail.body, RESET_URL)).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(await storedTokens(user.id)).toBe(1);
  });

  it('stores nothing and mails nothing for an unknown, inactive or impossible address, and says which account it was', async () => {
    const inactive = await createUser(parts, { email: `${randomUUID()}@reset.test`, password: PASSWORD, isActive: false });
    const before = mailbox.received.length;
    const tokensBefore = await parts.prisma.emailToken.count();
    for (const [email, expected] of [
      [`${randomUUID()}@reset.test`, null],
      [inactive.email, inactive.id],
      ['', null],
      [`${'x'.repeat(250)}@reset.test`, null],
    ] as const) {
      const { userId, delivered } = await requestPasswordReset(reset, email);
      await delivered;
      expect(userId, email).toBe(expected);
    }
    expect(await parts.prisma.emailToken.count()).toBe(tokensBefore);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mailbox.received.length).toBe(before);
  });

  it('a new request retires the earlier link', async () => {
    const first = await mailedToken();
    const second = await mailedToken();
    expect(await storedTokens(user.id)).toBe(1);
    await expect(resetPassword(parts, first, NEW_PASSWORD)).rejects.toThrow(InvalidTokenError);
    await expect(resetPassword(parts, second, NEW_PASSWORD)).resolves.toMatchObject({ id: user.id });
  });

  it('answers before the mail is sent, and a mail that fails is logged, not thrown', async () => {
    const down = createMailer({ smtpUrl: `smtp://127.0.0.1:${await closedPort()}`, mailFrom: 'no-reply@reset.test' }, parts.logger);
    try {
      const { userId, delivered } = await requestPasswordReset({ ...reset, mailer: down }, user.email);
      expect(userId).toBe(user.id);
      await expect(delivered).resolves.toBeUndefined();
      const entry = await waitForLogEntry(parts.logs, (line) => line.msg === 'password reset mail failed');
      expect(entry.userId).toBe(user.id);
    } finally {
      down.close();
    }
  });
});

describe('resetPassword', () => {
  it('sets the new password, uses the token up, ends every session and verifies the address the link went to', async () => {
    const token = await mailedToken();
    const expiresAt = new Date(Date.now() + 60_000);
    await parts.prisma.session.create({ data: { id: randomUUID(), userId: user.id, data: '{}', expiresAt } });
    await parts.prisma.tokenFamily.create({ data: { id: randomUUID(), userId: user.id, expiresAt } });

    const updated = await resetPassword(parts, token, NEW_PASSWORD);
    expect(updated).toMatchObject({ id: user.id, email: user.email, emailVerified: true });
    expect(updated).not.toHaveProperty('passwordHash');
    expect((await authenticate(parts, user.email, NEW_PASSWORD)).outcome).toBe('signedIn');
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('failed');
    expect(await parts.prisma.session.count({ where: { userId: user.id } })).toBe(0);
    expect(await parts.prisma.tokenFamily.count({ where: { userId: user.id } })).toBe(0);
    await expect(resetPassword(parts, token, 'Another-Fine-Passphrase-7')).rejects.toThrow(InvalidTokenError);
  });

  it('refuses a weak password with a ValidationError and leaves the token usable', async () => {
    const token = await mailedToken();
    const error = await resetPassword(parts, token, 'short').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fieldErrors.map(({ field }) => field)).toEqual(['newPassword']);
    expect((await authenticate(parts, user.email, PASSWORD)).outcome).toBe('signedIn');
    await expect(resetPassword(parts, token, NEW_PASSWORD)).resolves.toMatchObject({ id: user.id });
  });

  it.each([
    ['an unknown token', async () => 'not-a-token-anyone-was-given'],
    ['an empty token', async () => ''],
    [
      'an expired token',
      async () => {
        const token = await mailedToken();
        await parts.prisma.emailToken.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
        return token;
      },
    ],
    [
      'the token of an account deactivated since',
      async () => {
        const token = await mailedToken();
        await parts.prisma.user.update({ where: { id: user.id }, data: { isActive: false } });
        return token;
      },
    ],
  ])('refuses %s with InvalidTokenError and changes nothing', async (_case, tokenFor) => {
    const token = await tokenFor();
    await expect(resetPassword(parts, token, NEW_PASSWORD)).rejects.toThrow(InvalidTokenError);
    const { passwordHash } = await parts.prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { passwordHash: true } });
    expect(await parts.hasher.verify(PASSWORD, passwordHash)).toBe(true);
  });

  it('does not verify an address the account no longer has', async () => {
    const token = await mailedToken();
    const newEmail = `${randomUUID()}@reset.test`;
    await parts.prisma.user.update({ where: { id: user.id }, data: { email: newEmail } });
    expect(await resetPassword(parts, token, NEW_PASSWORD)).toMatchObject({ email: newEmail, emailVerified: false });
  });

  it('lets exactly one of two simultaneous uses of a token through', async () => {
    const token = await mailedToken();
    const outcomes = await Promise.allSettled([resetPassword(parts, token, NEW_PASSWORD), resetPassword(parts, token, 'Another-Fine-Passphrase-7')]);
    expect(outcomes.filter(({ status }) => status === 'fulfilled')).toHaveLength(1);
    const [refused] = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(refused!.reason).toBeInstanceOf(InvalidTokenError);
  });
});
