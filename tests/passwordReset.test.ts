import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { capturingLogger } from './helpers/logs.ts';
import { closedPort, startMailbox, waitForLogEntry, type Mailbox, type ReceivedMail } from './helpers/mail.ts';
import { Login, Me } from './operations/auth.ts';
import { loginOutcome } from './helpers/actors.ts';
import { RequestPasswordReset, ResetPassword } from './operations/passwordReset.ts';
import { ObtainTokenPair, RefreshTokenPair } from './operations/tokens.ts';

const MAIL_FROM = 'auth@example.test';
const RESET_URL = 'https://app.example/reset?token={token}';
const LINK_PREFIX = RESET_URL.replace('{token}', '');
const LINK_PATTERN = /https:\/\/app\.example\/reset\?token=([A-Za-z0-9_%.~-]+)/;
const NEW_PASSWORD = 'Quiet-Lantern-Orbit-47';
const HOUR_MS = 60 * 60 * 1000;

function within<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function tokenFrom(mail: ReceivedMail): string {
  const match = LINK_PATTERN.exec(mail.body);
  if (!match) throw new Error(`no reset link in mail body:\n${mail.body}`);
  return decodeURIComponent(match[1]!);
}

let mailbox: Mailbox;
let app: TestApp;

beforeAll(async () => {
  mailbox = await startMailbox();
  app = await startTestApp({
    SMTP_URL: `smtp://127.0.0.1:${mailbox.port}`,
    MAIL_FROM,
    PASSWORD_RESET_URL: RESET_URL,
  });
});
afterAll(async () => {
  await app?.stop();
  await mailbox?.close();
});

async function requestReset(email: string, client: TestClient = app.client()) {
  const result = await client.request(RequestPasswordReset, { email });
  expect(result.errors).toBeUndefined();
  expect(result.data).toEqual({ requestPasswordReset: true });
}

/** Asks for a reset link for `email` and returns the token from the mail it receives. */
async function mailedToken(email: string): Promise<string> {
  await requestReset(email);
  return tokenFrom(await mailbox.next(email));
}

function reset(token: string, newPassword = NEW_PASSWORD, client: TestClient = app.client()) {
  return client.request(ResetPassword, { input: { token, newPassword } });
}

async function passwordHashOf(email: string) {
  const { passwordHash } = await app.services.prisma.user.findUniqueOrThrow({ where: { email }, select: { passwordHash: true } });
  return passwordHash;
}

const invalidToken = { __typename: 'InvalidTokenError', message: expect.stringMatching(/\S/) };

describe('requestPasswordReset', () => {
  it('answers true for every email and mails a link only to an active account', async () => {
    const active = await app.createUser({ email: 'reset-active@example.test' });
    const inactive = await app.createUser({ email: 'reset-inactive@example.test', isActive: false });

    await requestReset('nobody-here@example.test');
    await requestReset(inactive.email);
    await requestReset('not an email');
    await requestReset(`${'a'.repeat(300)}@example.test`);
    await requestReset(active.email);

    const mail = await mailbox.next(active.email);
    expect(mail.headers.get('to')).toBe(active.email);
    expect(mail.envelopeTo).toEqual([active.email]);
    expect(mail.headers.get('from')).toBe(MAIL_FROM);
    const token = tokenFrom(mail);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(mail.body).toContain(RESET_URL.replace('{token}', token));
    expect(mail.body).not.toContain('{token}');

    const others = ['nobody-here@example.test', inactive.email, 'not an email'];
    expect(mailbox.received.filter((received) => others.includes(received.headers.get('to')!))).toEqual([]);
    const rows = await app.services.prisma.emailToken.findMany({ where: { purpose: 'PASSWORD_RESET' }, select: { userId: true } });
    expect(rows).toEqual([{ userId: active.id }]);
  });

  it('matches the email case-insensitively and trimmed', async () => {
    const { email } = await app.createUser({ email: 'mixed.case@example.test' });
    await requestReset('  Mixed.CASE@Example.TEST \t');
    const mail = await mailbox.next(email);
    expect(mail.headers.get('to')).toBe(email);
    expect((await reset(tokenFrom(mail))).data?.resetPassword).toMatchObject({ __typename: 'User', email });
  });

  it('stores only a hash of the token, which expires after one hour', async () => {
    const user = await app.createUser({ email: 'hashed-token@example.test' });
    const before = Date.now();
    const token = await mailedToken(user.email);
    const after = Date.now();

    const rows = await app.services.prisma.emailToken.findMany({ where: { userId: user.id } });
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.id).not.toBe(token);
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row.expiresAt.getTime()).toBeGreaterThanOrEqual(before + HOUR_MS - 1_000);
    expect(row.expiresAt.getTime()).toBeLessThanOrEqual(after + HOUR_MS + 1_000);
  });

  it('invalidates the earlier token when a new one is requested', async () => {
    const { email } = await app.createUser({ email: 'two-requests@example.test' });
    const first = await mailedToken(email);
    const second = await mailedToken(email);
    expect(second).not.toBe(first);

    expect((await reset(first)).data?.resetPassword).toEqual(invalidToken);
    expect((await reset(second)).data?.resetPassword).toMatchObject({ __typename: 'User', email });
  });

  it('answers without waiting for the mail to be delivered', async () => {
    const { email } = await app.createUser({ email: 'slow-mail@example.test' });
    const release = mailbox.hold();
    try {
      const result = await within(
        app.client().request(RequestPasswordReset, { email }),
        2_000,
        'requestPasswordReset waited for the SMTP server',
      );
      expect(result.data).toEqual({ requestPasswordReset: true });
      expect(mailbox.received.filter((mail) => mail.headers.get('to') === email)).toEqual([]);
    } finally {
      release();
    }
    expect(tokenFrom(await mailbox.next(email))).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  });

  it('answers exactly true, with nothing else in the body', async () => {
    const { email } = await app.createUser({ email: 'exact-body@example.test' });
    const response = await app.client().fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(RequestPasswordReset), variables: { email } }),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"data":{"requestPasswordReset":true}}');
    const token = tokenFrom(await mailbox.next(email));
    expect([...response.headers.values()].join('\n')).not.toContain(token);
  });
});

describe('resetPassword', () => {
  it('sets the new password, uses up the token and ends every session of the user', async () => {
    const email = 'reset-ok@example.test';
    const browser = await app.signedIn({ email });
    const laptop = app.client();
    await laptop.login(email, TEST_PASSWORD);
    const tokens = await app.client().request(ObtainTokenPair, { input: { email, password: TEST_PASSWORD } });
    const refreshToken = (tokens.data?.obtainTokens as { refreshToken: string }).refreshToken;
    expect((await browser.request(Me)).data?.me).toMatchObject({ email });
    expect((await laptop.request(Me)).data?.me).toMatchObject({ email });

    const token = await mailedToken(email);
    const result = await reset(token);
    expect(result.errors).toBeUndefined();
    expect(result.data?.resetPassword).toMatchObject({ __typename: 'User', email, isActive: true });
    expect(JSON.stringify(result)).not.toContain(token);
    expect(JSON.stringify(result)).not.toContain(NEW_PASSWORD);

    expect(await loginOutcome(app.client(), email, NEW_PASSWORD)).toBe('User');
    expect(await loginOutcome(app.client(), email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect((await browser.request(Me)).data?.me).toBeNull();
    expect((await laptop.request(Me)).data?.me).toBeNull();
    expect((await app.client().request(RefreshTokenPair, { refreshToken })).data?.refreshTokens.__typename).toBe(
      'InvalidTokenError',
    );

    const hash = await passwordHashOf(email);
    expect((await reset(token, 'Another-Fresh-Passphrase-8')).data?.resetPassword).toEqual(invalidToken);
    expect(await passwordHashOf(email)).toBe(hash);
  });

  describe('a weak new password', () => {
    const email = 'margaret.hamilton@example.test';
    let token: string;
    let hash: string;
    let client: TestClient;

    beforeAll(async () => {
      client = await app.signedIn({ email });
      token = await mailedToken(email);
      hash = await passwordHashOf(email);
    });

    it.each([
      ['too common', 'sunshine1', 'This password is too common.'],
      ['entirely numeric', '4815162342108', 'This password is entirely numeric.'],
      ['similar to the email', 'margaret.hamilton', 'The password is too similar to the email address.'],
      ['too short', 'Sh0rt!', 'This password is too short. It must contain at least 8 characters.'],
    ])('that is %s is a ValidationError on newPassword and changes nothing', async (_rule, password, message) => {
      const result = await reset(token, password);
      expect(result.errors).toBeUndefined();
      const outcome = result.data?.resetPassword;
      expect(outcome).toMatchObject({ __typename: 'ValidationError', message: expect.stringMatching(/\S/) });
      const { fieldErrors } = outcome as { fieldErrors: { field: string; messages: string[] }[] };
      expect(fieldErrors).toEqual([{ field: 'newPassword', messages: expect.arrayContaining([message]) }]);
      expect(await passwordHashOf(email)).toBe(hash);
      expect((await client.request(Me)).data?.me).toMatchObject({ email });
    });

    it('leaves the token usable for a good password', async () => {
      expect((await reset(token)).data?.resetPassword).toMatchObject({ __typename: 'User', email });
      expect(await loginOutcome(app.client(), email, NEW_PASSWORD)).toBe('User');
    });
  });

  describe('an invalid token', () => {
    const email = 'pending-reset@example.test';
    let token: string;
    let hash: string;
    let client: TestClient;

    beforeAll(async () => {
      client = await app.signedIn({ email });
      token = await mailedToken(email);
      hash = await passwordHashOf(email);
    });

    it.each([
      ['unknown', 'Zm9yZ2VkLXRva2VuLXRoYXQtd2FzLW5ldmVyLWlzc3VlZA'],
      ['empty', ''],
      ['500 characters long', 'x'.repeat(500)],
      ['the stored hash instead of the token', 'hash'],
    ])('%s gives InvalidTokenError and changes nothing', async (_case, presented) => {
      const tokenValue =
        presented === 'hash'
          ? (await app.services.prisma.emailToken.findFirstOrThrow({ where: { user: { email } } })).id
          : presented;
      expect((await reset(tokenValue)).data?.resetPassword).toEqual(invalidToken);
      expect(await passwordHashOf(email)).toBe(hash);
      expect((await client.request(Me)).data?.me).toMatchObject({ email });
      expect(await app.services.prisma.emailToken.count({ where: { user: { email } } })).toBe(1);
    });

    it('leaves the pending token working', async () => {
      expect((await reset(token)).data?.resetPassword).toMatchObject({ __typename: 'User', email });
    });

    it('expired gives InvalidTokenError and changes nothing', async () => {
      const expiredEmail = 'expired-reset@example.test';
      const expiredClient = await app.signedIn({ email: expiredEmail });
      const expired = await mailedToken(expiredEmail);
      const before = await passwordHashOf(expiredEmail);
      await app.services.prisma.emailToken.updateMany({
        where: { user: { email: expiredEmail } },
        data: { expiresAt: new Date(Date.now() - 1_000) },
      });

      expect((await reset(expired)).data?.resetPassword).toEqual(invalidToken);
      expect(await passwordHashOf(expiredEmail)).toBe(before);
      expect(await loginOutcome(app.client(), expiredEmail, TEST_PASSWORD)).toBe('User');
      expect((await expiredClient.request(Me)).data?.me).toMatchObject({ email: expiredEmail });
    });

    it('of a user deactivated after the mail was sent gives InvalidTokenError', async () => {
      const deactivatedEmail = 'deactivated-reset@example.test';
      await app.createUser({ email: deactivatedEmail });
      const pending = await mailedToken(deactivatedEmail);
      const before = await passwordHashOf(deactivatedEmail);
      await app.services.prisma.user.update({ where: { email: deactivatedEmail }, data: { isActive: false } });

      expect((await reset(pending)).data?.resetPassword).toEqual(invalidToken);
      expect(await passwordHashOf(deactivatedEmail)).toBe(before);
    });
  });
});

describe('mail delivery', () => {
  it('without SMTP_URL writes the mail with its link to the log', async () => {
    const { lines, logger } = capturingLogger('info');
    const logged = await startTestApp({ PASSWORD_RESET_URL: RESET_URL }, { logger });
    try {
      const { email } = await logged.createUser({ email: 'console-mail@example.test' });
      const result = await logged.client().request(RequestPasswordReset, { email });
      expect(result.data).toEqual({ requestPasswordReset: true });

      const entry = await waitForLogEntry(lines, (candidate) => JSON.stringify(candidate).includes(LINK_PREFIX));
      expect(entry.level).toBe(30);
      const match = LINK_PATTERN.exec(JSON.stringify(entry));
      const token = decodeURIComponent(match![1]!);
      expect(JSON.stringify(entry)).toContain(email);

      const reset = await logged.client().request(ResetPassword, { input: { token, newPassword: NEW_PASSWORD } });
      expect(reset.data?.resetPassword).toMatchObject({ __typename: 'User', email });
    } finally {
      await logged.stop();
    }
  });

  it('when the SMTP server cannot be reached still answers true, keeps serving and logs an error', async () => {
    const { lines, logger } = capturingLogger('info');
    const port = await closedPort();
    const unreachable = await startTestApp(
      { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM, PASSWORD_RESET_URL: RESET_URL },
      { logger },
    );
    try {
      const { email } = await unreachable.createUser({ email: 'no-smtp@example.test' });
      const result = await unreachable.client().request(RequestPasswordReset, { email });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ requestPasswordReset: true });

      const entry = await waitForLogEntry(lines, (candidate) => candidate.level >= 50);
      expect(entry.level).toBe(50);
      expect(JSON.stringify(entry)).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(lines)).not.toContain(LINK_PREFIX);

      const health = await fetch(`${unreachable.url}/health`);
      expect(health.status).toBe(200);
      const again = await unreachable.client().request(RequestPasswordReset, { email: 'someone-else@example.test' });
      expect(again.data).toEqual({ requestPasswordReset: true });
    } finally {
      await unreachable.stop();
    }
  });
});
