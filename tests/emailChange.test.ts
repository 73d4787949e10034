import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { linkToken, startMailbox, type Mailbox, type ReceivedMail } from './helpers/mail.ts';
import { ChangeEmail, VerifyEmail } from './operations/email.ts';
import { ChangePassword } from './operations/account.ts';
import { ObtainTokenPair, RefreshTokenPair } from './operations/tokens.ts';
import { Login, Me, Register } from './operations/auth.ts';
import { ResetPassword } from './operations/passwordReset.ts';

const MAIL_FROM = 'auth@example.test';
const VERIFY_URL = 'https://app.example/verify-email?token={token}';
const VERIFY_PREFIX = VERIFY_URL.replace('{token}', '');
const WRONG_PASSWORD = 'Not-The-Password-42';
const NEW_PASSWORD = 'Quiet-Lantern-Orbit-47';
const invalidToken = { __typename: 'InvalidTokenError', message: 'The token is invalid or has expired.' };

let mailbox: Mailbox;
let app: TestApp;

beforeAll(async () => {
  mailbox = await startMailbox();
  app = await startTestApp({ SMTP_URL: `smtp://127.0.0.1:${mailbox.port}`, MAIL_FROM, EMAIL_VERIFICATION_URL: VERIFY_URL });
});
afterAll(async () => {
  await app?.stop();
  await mailbox?.close();
});

function changeEmail(client: TestClient, newEmail: string, currentPassword = TEST_PASSWORD) {
  return client.request(ChangeEmail, { input: { newEmail, currentPassword } });
}

function tokenOf(mail: ReceivedMail): string {
  const token = linkToken(mail.body, VERIFY_PREFIX);
  expect(linkToken(mail.html ?? '', VERIFY_PREFIX)).toBe(token);
  return token;
}

/** Asks, as `client`, to move to `newEmail`; returns the token mailed there (and consumes the notice). */
async function requestedToken(client: TestClient, oldEmail: string, newEmail: string): Promise<string> {
  const result = await changeEmail(client, newEmail);
  expect(result.data?.changeEmail).toEqual({ __typename: 'EmailChangeRequested', newEmail });
  await mailbox.next(oldEmail);
  return tokenOf(await mailbox.next(newEmail));
}

async function account(id: number) {
  return app.services.prisma.user.findUniqueOrThrow({ where: { id }, select: { email: true, emailVerified: true } });
}

async function loginOutcome(email: string, password = TEST_PASSWORD) {
  return (await app.client().request(Login, { input: { email, password } })).data?.login.__typename;
}

describe('changeEmail', () => {
  it('needs a signed-in user', async () => {
    const result = await changeEmail(app.client(), 'someone@example.test');
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  it('mails a link to the new address and a notice without it to the old one, and changes nothing yet', async () => {
    const user = await app.createUser({ email: 'grace@example.test', emailVerified: true });
    const browser = await signedInAs(user.email);
    const result = await changeEmail(browser, '  Grace.Hopper@Example.TEST ');
    expect(result.errors).toBeUndefined();
    expect(result.data?.changeEmail).toEqual({ __typename: 'EmailChangeRequested', newEmail: 'grace.hopper@example.test' });

    const confirm = await mailbox.next('grace.hopper@example.test');
    expect(confirm.envelopeTo).toEqual(['grace.hopper@example.test']);
    expect(confirm.headers.get('from')).toBe(MAIL_FROM);
    expect(confirm.headers.get('subject')).toBe('Confirm your new email address');
    const token = tokenOf(confirm);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A mistyped new address may be a stranger's: the mail does not tell them the old one.
    expect(`${confirm.body}${confirm.html}`).not.toContain(user.email);

    const notice = await mailbox.next(user.email);
    expect(notice.envelopeTo).toEqual([user.email]);
    expect(notice.headers.get('subject')).toBe('Your email address is about to change');
    expect(notice.body).toContain('grace.hopper@example.test');
    for (const part of [notice.body, notice.html ?? '']) {
      expect(part).not.toContain(token);
      expect(part).not.toContain(VERIFY_PREFIX);
    }
    expect(notice.html).toMatch(/<p>/);

    const row = await app.services.prisma.emailToken.findFirstOrThrow({ where: { userId: user.id } });
    expect(row).toMatchObject({ purpose: 'CHANGE_EMAIL', email: 'grace.hopper@example.test' });
    expect(JSON.stringify(row)).not.toContain(token);
    expect(await account(user.id)).toEqual({ email: user.email, emailVerified: true });
    expect(await loginOutcome(user.email)).toBe('User');
    expect(await loginOutcome('grace.hopper@example.test')).toBe('InvalidCredentialsError');
    const events = await app.services.prisma.authEvent.findMany({ where: { kind: 'EMAIL_CHANGE_REQUESTED' }, select: { userId: true, actorId: true, email: true } });
    expect(events).toEqual([{ userId: user.id, actorId: user.id, email: 'grace.hopper@example.test' }]);
  });

  it('answers a wrong password with InvalidCredentialsError and mails nothing', async () => {
    const user = await app.createUser({ email: 'wrong-password@example.test' });
    const browser = await signedInAs(user.email);
    const result = await changeEmail(browser, 'wanted@example.test', WRONG_PASSWORD);
    expect(result.data?.changeEmail).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    expect(await app.services.prisma.emailToken.count({ where: { userId: user.id } })).toBe(0);
    // The right password is checked first: a wrong one says nothing about the address either.
    const taken = await changeEmail(browser, 'grace@example.test', WRONG_PASSWORD);
    expect(taken.data?.changeEmail.__typename).toBe('InvalidCredentialsError');
  });

  it.each([
    ['malformed', 'not an email', 'Enter a valid email address.'],
    ['empty', '   ', 'This field is required.'],
    ['too long', `${'a'.repeat(250)}@example.test`, 'Ensure this value has at most 254 characters.'],
    ['taken (in another case)', 'TAKEN@example.test', 'A user with that email already exists.'],
    ['the user’s own', 'Same@Example.test', 'This is already your email address.'],
  ])('answers a ValidationError on newEmail for an address that is %s', async (_case, newEmail, message) => {
    await app.services.prisma.user.upsert({ where: { email: 'taken@example.test' }, create: { email: 'taken@example.test', passwordHash: 'x' }, update: {} });
    const email = `same-${Math.random().toString(36).slice(2, 8)}@example.test`;
    const user = await app.createUser({ email });
    if (newEmail === 'Same@Example.test') newEmail = email.toUpperCase();
    const result = await changeEmail(await signedInAs(user.email), newEmail);
    expect(result.data?.changeEmail).toMatchObject({ __typename: 'ValidationError', fieldErrors: [{ field: 'newEmail', messages: [message] }] });
    expect(await app.services.prisma.emailToken.count({ where: { userId: user.id } })).toBe(0);
  });
});

/** A browser signed in as `email`. */
async function signedInAs(email: string, password = TEST_PASSWORD): Promise<TestClient> {
  const client = app.client();
  await client.login(email, password);
  return client;
}

describe('the link', () => {
  it('moves the account to the new address, verified, and ends the user’s other sessions and refresh tokens', async () => {
    const user = await app.createUser({ email: 'alan@example.test' });
    const browser = await signedInAs(user.email);
    const laptop = await signedInAs(user.email);
    const tokens = await app.client().request(ObtainTokenPair, { input: { email: user.email, password: TEST_PASSWORD } });
    const { refreshToken } = tokens.data?.obtainTokens as { refreshToken: string };
    const token = await requestedToken(browser, user.email, 'alan.turing@example.test');

    const result = await browser.request(VerifyEmail, { token });
    expect(result.errors).toBeUndefined();
    expect(result.data?.verifyEmail).toMatchObject({ __typename: 'User', email: 'alan.turing@example.test', emailVerified: true });
    expect(await account(user.id)).toEqual({ email: 'alan.turing@example.test', emailVerified: true });

    // The browser that opened the link stays signed in; every other sign-in has ended.
    expect((await browser.request(Me)).data?.me).toMatchObject({ email: 'alan.turing@example.test' });
    expect((await laptop.request(Me)).data?.me).toBeNull();
    expect((await app.client().request(RefreshTokenPair, { refreshToken })).data?.refreshTokens.__typename).toBe('InvalidTokenError');
    expect(await app.services.prisma.session.count({ where: { userId: user.id } })).toBe(1);

    expect(await loginOutcome('alan.turing@example.test')).toBe('User');
    expect(await loginOutcome(user.email)).toBe('InvalidCredentialsError');
    expect((await browser.request(VerifyEmail, { token })).data?.verifyEmail).toEqual(invalidToken);
    const events = await app.services.prisma.authEvent.findMany({ where: { kind: 'EMAIL_CHANGED', userId: user.id }, select: { actorId: true, email: true } });
    expect(events).toEqual([{ actorId: user.id, email: 'alan.turing@example.test' }]);
  });

  it('opened by anyone else (another device, signed out) ends every session of the user', async () => {
    const user = await app.createUser({ email: 'edsger@example.test' });
    const browser = await signedInAs(user.email);
    const token = await requestedToken(browser, user.email, 'dijkstra@example.test');
    const result = await app.client().request(VerifyEmail, { token });
    expect(result.data?.verifyEmail).toMatchObject({ __typename: 'User', email: 'dijkstra@example.test' });
    expect((await browser.request(Me)).data?.me).toBeNull();
    expect(await app.services.prisma.session.count({ where: { userId: user.id } })).toBe(0);
  });

  it('answers InvalidTokenError and changes nothing when someone took the address meanwhile', async () => {
    const user = await app.createUser({ email: 'barbara@example.test' });
    const browser = await signedInAs(user.email);
    const laptop = await signedInAs(user.email);
    const token = await requestedToken(browser, user.email, 'liskov@example.test');
    const registered = await app.client().request(Register, { input: { email: 'liskov@example.test', password: TEST_PASSWORD } });
    expect(registered.data?.register.__typename).toBe('User');
    await mailbox.next('liskov@example.test');

    expect((await browser.request(VerifyEmail, { token })).data?.verifyEmail).toEqual(invalidToken);
    expect(await account(user.id)).toEqual({ email: user.email, emailVerified: false });
    expect((await laptop.request(Me)).data?.me).toMatchObject({ email: user.email });
    expect(await loginOutcome(user.email)).toBe('User');
  });

  it('of two users moving to one address at the same moment, moves exactly one', async () => {
    for (let round = 0; round < 4; round += 1) {
      const target = `contested-${round}@example.test`;
      const first = await app.createUser({ email: `first-${round}@example.test` });
      const second = await app.createUser({ email: `second-${round}@example.test` });
      const [firstToken, secondToken] = [
        await requestedToken(await signedInAs(first.email), first.email, target),
        await requestedToken(await signedInAs(second.email), second.email, target),
      ];
      const outcomes = await Promise.all([firstToken, secondToken].map((token) => app.client().request(VerifyEmail, { token })));
      const names = outcomes.map((outcome) => outcome.data?.verifyEmail.__typename).sort();
      expect(names, `round ${round}`).toEqual(['InvalidTokenError', 'User']);
      const owners = await app.services.prisma.user.findMany({ where: { email: target }, select: { id: true } });
      expect(owners).toHaveLength(1);
      const loser = owners[0]!.id === first.id ? second : first;
      expect((await account(loser.id)).email).toBe(loser.email);
    }
  });

  it('of two simultaneous changeEmail requests to one free address, both are mailed, and only one link can win', async () => {
    const first = await app.createUser({ email: 'race-a@example.test' });
    const second = await app.createUser({ email: 'race-b@example.test' });
    const [a, b] = [await signedInAs(first.email), await signedInAs(second.email)];
    const results = await Promise.all([changeEmail(a, 'race-target@example.test'), changeEmail(b, 'race-target@example.test')]);
    expect(results.map((result) => result.data?.changeEmail.__typename)).toEqual(['EmailChangeRequested', 'EmailChangeRequested']);
    const tokens = [tokenOf(await mailbox.next('race-target@example.test')), tokenOf(await mailbox.next('race-target@example.test'))];
    const outcomes = await Promise.all(tokens.map((token) => app.client().request(VerifyEmail, { token })));
    expect(outcomes.map((outcome) => outcome.data?.verifyEmail.__typename).sort()).toEqual(['InvalidTokenError', 'User']);
  });

  it('is retired by a newer request', async () => {
    const user = await app.createUser({ email: 'newer@example.test' });
    const browser = await signedInAs(user.email);
    const older = await requestedToken(browser, user.email, 'newer-1@example.test');
    const newer = await requestedToken(browser, user.email, 'newer-2@example.test');
    expect((await app.client().request(VerifyEmail, { token: older })).data?.verifyEmail).toEqual(invalidToken);
    expect((await app.client().request(VerifyEmail, { token: newer })).data?.verifyEmail).toMatchObject({ email: 'newer-2@example.test' });
  });

  it('expires after 24 hours', async () => {
    const user = await app.createUser({ email: 'late@example.test' });
    const token = await requestedToken(await signedInAs(user.email), user.email, 'late-new@example.test');
    const row = await app.services.prisma.emailToken.findFirstOrThrow({ where: { userId: user.id } });
    // createdAt is the database's clock, expiresAt the service's: they agree to well within a second.
    expect(Math.abs(row.expiresAt.getTime() - row.createdAt.getTime() - 24 * 60 * 60 * 1000)).toBeLessThan(1_000);
    await app.services.prisma.emailToken.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    expect((await app.client().request(VerifyEmail, { token })).data?.verifyEmail).toEqual(invalidToken);
    expect((await account(user.id)).email).toBe(user.email);
  });

  it('is cancelled by a password change, which ends the sessions it may have come from', async () => {
    const user = await app.createUser({ email: 'cancelled@example.test' });
    const browser = await signedInAs(user.email);
    const token = await requestedToken(browser, user.email, 'cancelled-new@example.test');
    const changed = await browser.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
    expect(changed.data?.changePassword.__typename).toBe('User');
    expect((await app.client().request(VerifyEmail, { token })).data?.verifyEmail).toEqual(invalidToken);
    expect((await account(user.id)).email).toBe(user.email);
  });

  it('is no password reset token', async () => {
    const user = await app.createUser({ email: 'not-reset@example.test' });
    const token = await requestedToken(await signedInAs(user.email), user.email, 'not-reset-new@example.test');
    const reset = await app.client().request(ResetPassword, { input: { token, newPassword: NEW_PASSWORD } });
    expect(reset.data?.resetPassword).toEqual(invalidToken);
    expect(await loginOutcome(user.email)).toBe('User');
  });
});

describe('rate limits', () => {
  let limited: TestApp;
  /** The same, allowing each user three mails an hour. */
  let fewMails: TestApp;

  beforeAll(async () => {
    const env = { SMTP_URL: `smtp://127.0.0.1:${mailbox.port}`, MAIL_FROM, EMAIL_VERIFICATION_URL: VERIFY_URL, RATE_LIMITS: 'on', RATE_LIMIT_IP_ATTEMPTS: '1000/60' };
    [limited, fewMails] = await Promise.all([startTestApp(env), startTestApp({ ...env, RATE_LIMIT_USER_MAILS: '3/3600' })]);
  });
  afterAll(() => Promise.all([limited?.stop(), fewMails?.stop()]));

  const codes = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
    result.errors?.map((error) => [error.extensions?.code, typeof error.extensions?.retryAfter]);

  it('counts a wrong password in changeEmail like a failed sign-in to the account', async () => {
    const user = await limited.createUser({ email: 'guessed@example.test' });
    const browser = limited.client();
    await browser.login(user.email, TEST_PASSWORD);
    for (let i = 0; i < 5; i += 1) {
      const result = await browser.request(ChangeEmail, { input: { newEmail: 'elsewhere@example.test', currentPassword: WRONG_PASSWORD } });
      expect(result.data?.changeEmail.__typename).toBe('InvalidCredentialsError');
    }
    // Five failures for this email from this address: sign-in and changeEmail are refused alike.
    const login = await limited.client().request(Login, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(codes(login)).toEqual([['RATE_LIMITED', 'number']]);
    const change = await browser.request(ChangeEmail, { input: { newEmail: 'elsewhere@example.test', currentPassword: TEST_PASSWORD } });
    expect(codes(change)).toEqual([['RATE_LIMITED', 'number']]);
    expect(await limited.services.prisma.emailToken.count({ where: { userId: user.id } })).toBe(0);
  });

  it('bounds the mails one user sets off, whatever the addresses', async () => {
    const user = await fewMails.createUser({ email: 'mailer@example.test' });
    const browser = fewMails.client();
    await browser.login(user.email, TEST_PASSWORD);
    for (let i = 0; i < 3; i += 1) {
      const result = await browser.request(ChangeEmail, { input: { newEmail: `flood-${i}@example.test`, currentPassword: TEST_PASSWORD } });
      expect(result.data?.changeEmail.__typename).toBe('EmailChangeRequested');
      await mailbox.next(`flood-${i}@example.test`);
      await mailbox.next(user.email);
    }
    const refused = await browser.request(ChangeEmail, { input: { newEmail: 'flood-3@example.test', currentPassword: TEST_PASSWORD } });
    expect(codes(refused)).toEqual([['RATE_LIMITED', 'number']]);
  });
});
