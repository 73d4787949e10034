// Authenticator apps (TOTP), recovery codes and the typed two-step sign-in, against the real server.
// Codes are computed here with otpauth from the secret the API returned, like any authenticator app.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Secret, TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeChallenge, findChallenge } from '../src/secondFactor/challenges.ts';
import { SecretBox } from '../src/secondFactor/secretBox.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { staffMember } from './helpers/actors.ts';
import { ConfirmTotpSetup, DisableTotp, MySecondFactors, RegenerateRecoveryCodes, ResetSecondFactors, SecondFactorEvents, SecondFactorMe, StartTotpSetup, UsersBySecondFactor, VerifySecondFactor } from './operations/secondFactor.ts';
import { Login } from './operations/auth.ts';
import { ObtainTokenPair } from './operations/tokens.ts';

const STEP_MS = 30_000;

/** A code of `secret` at `steps` time steps from now, as an authenticator app would show it. */
function codeAt(secret: string, steps = 0): string {
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  return totp.generate({ timestamp: Date.now() + steps * STEP_MS });
}

/**
 * Waits, when needed, until the current time step has at least `ms` left, so that a sequence of
 * codes is checked within the step it was computed for.
 */
async function awayFromStepEnd(ms = 8_000): Promise<void> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < ms) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ TOTP_ISSUER: 'Example Co' });
});
afterAll(() => app?.stop());

/** Signs a new user in, sets up an authenticator app, and confirms it with the code at `confirmStep`. */
async function withTotp(email: string, confirmStep = 0) {
  const client = await app.signedIn({ email });
  const setup = (await client.request(StartTotpSetup)).data!.startTotpSetup;
  const confirmed = await client.request(ConfirmTotpSetup, { code: codeAt(setup.secret, confirmStep) });
  expect(confirmed.data?.confirmTotpSetup.__typename).toBe('RecoveryCodes');
  const codes = confirmed.data!.confirmTotpSetup.__typename === 'RecoveryCodes' ? confirmed.data!.confirmTotpSetup.codes : [];
  const user = await app.services.prisma.user.findUniqueOrThrow({ where: { email }, select: { id: true } });
  return { client, secret: setup.secret, codes, userId: user.id };
}

async function passwordStep(client: TestClient, email: string) {
  const result = await client.request(Login, { input: { email, password: TEST_PASSWORD } });
  const login = result.data!.login;
  if (login.__typename !== 'SecondFactorRequired') throw new Error(`expected SecondFactorRequired, got ${login.__typename}`);
  return { login, headers: result.headers };
}

describe('authenticator app set-up', () => {
  it('returns a secret and an otpauth URI, and changes nothing until a code from it is confirmed', async () => {
    const email = 'setup@totp.test';
    const client = await app.signedIn({ email });
    const setup = (await client.request(StartTotpSetup)).data!.startTotpSetup;
    expect(setup.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = URI.parse(setup.otpauthUri) as TOTP;
    expect(setup.otpauthUri).toMatch(/^otpauth:\/\/totp\/Example%20Co:setup%40totp\.test\?/);
    expect(uri).toBeInstanceOf(TOTP);
    expect({ issuer: uri.issuer, label: uri.label, secret: uri.secret.base32, algorithm: uri.algorithm, digits: uri.digits, period: uri.period }).toEqual({
      issuer: 'Example Co',
      label: email,
      secret: setup.secret,
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });

    // Not on yet: a password alone still signs in.
    expect((await client.request(MySecondFactors)).data!.mySecondFactors).toEqual({ totpEnabled: false, recoveryCodesLeft: 0, passkeys: [] });
    expect((await app.client().request(Login, { input: { email, password: TEST_PASSWORD } })).data!.login.__typename).toBe('User');

    const wrong = await client.request(ConfirmTotpSetup, { code: codeAt(setup.secret, 3) });
    expect(wrong.data!.confirmTotpSetup).toEqual({ __typename: 'InvalidSecondFactorError', message: 'Invalid code' });
    const malformed = await client.request(ConfirmTotpSetup, { code: 'x'.repeat(10_000) });
    expect(malformed.data!.confirmTotpSetup.__typename).toBe('InvalidSecondFactorError');

    const confirmed = await client.request(ConfirmTotpSetup, { code: codeAt(setup.secret) });
    const codes = confirmed.data!.confirmTotpSetup.__typename === 'RecoveryCodes' ? confirmed.data!.confirmTotpSetup.codes : [];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
    expect((await client.request(MySecondFactors)).data!.mySecondFactors).toEqual({ totpEnabled: true, recoveryCodesLeft: 10, passkeys: [] });
    expect((await client.request(SecondFactorMe)).data!.me).toMatchObject({ email, hasSecondFactor: true });
  });

  it('stores the secret encrypted and the recovery codes only as hashes', async () => {
    const { secret, codes, userId } = await withTotp('at-rest@totp.test');
    const row = await app.services.prisma.totpFactor.findUniqueOrThrow({ where: { userId } });
    const dump = JSON.stringify(row) + JSON.stringify(await app.services.prisma.recoveryCode.findMany({ where: { userId } }));
    expect(dump).not.toContain(secret);
    for (const code of codes) {
      expect(dump).not.toContain(code);
      expect(dump).not.toContain(code.replace(/-/g, ''));
    }
    // The configured key opens it, another key does not.
    expect(app.services.secondFactors.box.open(row.secret!, userId)).toBe(secret);
    expect(new SecretBox([Buffer.alloc(32, 7)]).open(row.secret!, userId)).toBeNull();
    // Bound to its user: copied onto another row, it does not open.
    expect(app.services.secondFactors.box.open(row.secret!, userId + 1)).toBeNull();
  });
});

describe('two-step sign-in', () => {
  it('answers SecondFactorRequired with no session, then signs in with a code at the next steps; replays and codes 2 steps away are refused', async () => {
    await awayFromStepEnd(15_000);
    const email = 'two-step@totp.test';
    // Confirmed with the code of the step before: ±1 step is accepted.
    const { secret, userId } = await withTotp(email, -1);
    const browser = app.client();
    const sessionsBefore = await app.services.prisma.session.count({ where: { userId } });
    const { login, headers } = await passwordStep(browser, email);
    expect(login.methods).toEqual(['TOTP', 'RECOVERY_CODE']);
    expect(login.passkeyOptions).toBeNull();
    expect(new Date(login.expiresAt).getTime() - Date.now()).toBeGreaterThan(4.5 * 60_000);
    expect(new Date(login.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    // No cookie, no session, no sign-in yet.
    expect(headers.getSetCookie()).toEqual([]);
    expect(await app.services.prisma.session.count({ where: { userId } })).toBe(sessionsBefore);
    expect((await browser.request(SecondFactorMe)).data!.me).toBeNull();

    const verify = (totpCode: string) => browser.request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode } });
    // The confirming code (step -1) was used; 2 steps away either side never matches.
    for (const code of [codeAt(secret, -1), codeAt(secret, -2), codeAt(secret, 2)]) {
      expect((await verify(code)).data!.verifySecondFactor).toEqual({ __typename: 'InvalidSecondFactorError', message: 'Invalid code' });
    }
    expect((await browser.request(SecondFactorMe)).data!.me).toBeNull();
    const passed = await verify(codeAt(secret, 0));
    expect(passed.data!.verifySecondFactor).toMatchObject({ __typename: 'User', email, lastLogin: expect.any(String) });
    expect(passed.headers.getSetCookie()).toEqual([expect.stringMatching(/^sid=/)]);
    expect((await browser.request(SecondFactorMe)).data!.me).toMatchObject({ email });
    // The challenge was single use.
    expect((await verify(codeAt(secret, 1))).data!.verifySecondFactor.__typename).toBe('InvalidTokenError');

    // Step +1 on a new challenge; then the same code again is a replay.
    const again = await passwordStep(app.client(), email);
    const next = codeAt(secret, 1);
    const other = app.client();
    expect((await other.request(VerifySecondFactor, { input: { challenge: again.login.challenge, totpCode: next } })).data!.verifySecondFactor.__typename).toBe('User');
    const third = await passwordStep(app.client(), email);
    expect(
      (await app.client().request(VerifySecondFactor, { input: { challenge: third.login.challenge, totpCode: next } })).data!.verifySecondFactor,
    ).toEqual({ __typename: 'InvalidSecondFactorError', message: 'Invalid code' });
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'SECOND_FACTOR_FAILED' } })).toBe(4);
  });

  it('ends in a token pair when the sign-in started with obtainTokens, and issues nothing before', async () => {
    await awayFromStepEnd();
    const email = 'tokens@totp.test';
    const { secret, userId } = await withTotp(email, -1);
    const client = app.client();
    const first = (await client.request(ObtainTokenPair, { input: { email, password: TEST_PASSWORD } })).data!.obtainTokens;
    expect(first.__typename).toBe('SecondFactorRequired');
    expect(await app.services.prisma.tokenFamily.count({ where: { userId } })).toBe(0);
    const challenge = first.__typename === 'SecondFactorRequired' ? first.challenge : '';
    const result = await client.request(VerifySecondFactor, { input: { challenge, totpCode: codeAt(secret) } });
    expect(result.data!.verifySecondFactor).toMatchObject({ __typename: 'TokenPair', user: { id: String(userId) } });
    expect(result.headers.getSetCookie()).toEqual([]);
    const pair = result.data!.verifySecondFactor.__typename === 'TokenPair' ? result.data!.verifySecondFactor : null;
    const me = await app.client({ authorization: `Bearer ${pair!.accessToken}` }).request(SecondFactorMe);
    expect(me.data!.me).toMatchObject({ email });
    expect(await app.services.prisma.tokenFamily.count({ where: { userId } })).toBe(1);
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'TOKENS_ISSUED' } })).toBe(1);
  });

  it('accepts each recovery code once, audits it, and counts what is left', async () => {
    const email = 'recovery@totp.test';
    const { client, codes, userId } = await withTotp(email);
    const use = async (recoveryCode: string) => {
      const { login } = await passwordStep(app.client(), email);
      return (await app.client().request(VerifySecondFactor, { input: { challenge: login.challenge, recoveryCode } })).data!.verifySecondFactor;
    };
    // Typed in capitals, without dashes: the same code.
    expect(await use(codes[0]!.toUpperCase().replace(/-/g, ''))).toMatchObject({ __typename: 'User', email });
    expect(await use(codes[0]!)).toEqual({ __typename: 'InvalidSecondFactorError', message: 'Invalid code' });
    expect((await client.request(MySecondFactors)).data!.mySecondFactors.recoveryCodesLeft).toBe(9);
    const events = (await client.request(SecondFactorMe)).data && (await app.services.prisma.authEvent.findMany({ where: { userId }, select: { kind: true } }));
    expect(events!.map((event) => event.kind)).toEqual(expect.arrayContaining(['SECOND_FACTOR_ENABLED', 'RECOVERY_CODE_USED', 'SECOND_FACTOR_FAILED']));

    // Regenerating needs the password and replaces every code.
    expect((await client.request(RegenerateRecoveryCodes, { currentPassword: 'Wrong-Password-1' })).data!.regenerateRecoveryCodes).toEqual({
      __typename: 'InvalidCredentialsError',
      message: 'Invalid credentials',
    });
    const fresh = (await client.request(RegenerateRecoveryCodes, { currentPassword: TEST_PASSWORD })).data!.regenerateRecoveryCodes;
    const newCodes = fresh.__typename === 'RecoveryCodes' ? fresh.codes : [];
    expect(newCodes).toHaveLength(10);
    expect(await use(codes[1]!)).toMatchObject({ __typename: 'InvalidSecondFactorError' });
    expect(await use(newCodes[0]!)).toMatchObject({ __typename: 'User' });
  });

  it('lets exactly one of two simultaneous right answers sign in', async () => {
    const email = 'race@totp.test';
    const { codes } = await withTotp(email);
    const { login } = await passwordStep(app.client(), email);
    // Every recovery code at once: all of them are right, one sign-in comes of it.
    const results = await Promise.all(
      codes.map((recoveryCode) => app.client().request(VerifySecondFactor, { input: { challenge: login.challenge, recoveryCode } })),
    );
    const answers = results.map((result) => result.data!.verifySecondFactor.__typename);
    expect(answers.filter((answer) => answer === 'User')).toHaveLength(1);
    expect(answers.filter((answer) => answer !== 'User')).toEqual(Array(9).fill('InvalidTokenError'));
  });

  it('ends a challenge once when two right answers were both checked against it before either ended it', async () => {
    const email = 'race-domain@totp.test';
    await withTotp(email);
    const { login } = await passwordStep(app.client(), email);
    const { prisma } = app.services;
    const [first, second] = await Promise.all([findChallenge(prisma, login.challenge, ['SIGN_IN']), findChallenge(prisma, login.challenge, ['SIGN_IN'])]);
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect((await Promise.all([consumeChallenge(prisma, first!), consumeChallenge(prisma, second!)])).sort()).toEqual([false, true]);
  });

  it('ends a challenge at its fifth wrong answer, and refuses an expired one', async () => {
    const email = 'worn@totp.test';
    const { secret, userId } = await withTotp(email, -1);
    const { login } = await passwordStep(app.client(), email);
    const client = app.client();
    for (let i = 0; i < 5; i++) {
      const wrong = await client.request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode: '000000' } });
      expect(wrong.data!.verifySecondFactor.__typename).toBe('InvalidSecondFactorError');
    }
    const late = await client.request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode: codeAt(secret) } });
    expect(late.data!.verifySecondFactor.__typename).toBe('InvalidTokenError');
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'SECOND_FACTOR_FAILED' } })).toBe(5);

    const expiring = await passwordStep(app.client(), email);
    await app.services.prisma.secondFactorChallenge.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await client.request(VerifySecondFactor, { input: { challenge: expiring.login.challenge, totpCode: codeAt(secret) } });
    expect(expired.data!.verifySecondFactor).toEqual({ __typename: 'InvalidTokenError', message: 'The token is invalid or has expired.' });
    expect((await client.request(SecondFactorMe)).data!.me).toBeNull();
  });

  it('answers bad input with BAD_USER_INPUT or a union member, never a crash', async () => {
    const email = 'bad-input@totp.test';
    const { secret } = await withTotp(email);
    const { login } = await passwordStep(app.client(), email);
    const client = app.client();
    for (const input of [
      { challenge: login.challenge },
      { challenge: login.challenge, totpCode: codeAt(secret), recoveryCode: 'abcd' },
      { challenge: login.challenge, totpCode: '1'.repeat(1000) },
    ]) {
      const result = await client.request(VerifySecondFactor, { input });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    for (const passkeyResponse of ['garbage', 42, [], {}, { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 5 } }]) {
      const result = await client.request(VerifySecondFactor, { input: { challenge: login.challenge, passkeyResponse } });
      expect(result.data!.verifySecondFactor.__typename).toBe('InvalidSecondFactorError');
    }
    for (const challenge of ['', 'nope', 'x'.repeat(5000)]) {
      const result = await client.request(VerifySecondFactor, { input: { challenge, totpCode: codeAt(secret) } });
      expect(result.data!.verifySecondFactor.__typename).toBe('InvalidTokenError');
    }
  });

  it('reads the second-factor flag with the password hash: a sign-in without one runs no other query', async () => {
    const { email } = await app.createUser({ email: 'plain@totp.test' });
    app.sql.length = 0;
    expect((await app.client().request(Login, { input: { email, password: TEST_PASSWORD } })).data!.login.__typename).toBe('User');
    const statements = [...app.sql];
    expect(statements.filter((sql) => /TotpFactor|RecoveryCode|Passkey|SecondFactorChallenge/.test(sql))).toEqual([]);
    // The password check reads the flag with the hash; the next statement already records the login.
    expect(statements[0]).toMatch(/^SELECT .*passwordHash.*hasSecondFactor.* FROM .*User/s);
    expect(statements[1]).toMatch(/^UPDATE .*User.* SET .*lastLogin/);
  });
});

describe('turning it off', () => {
  it('disableTotp needs the current password, then a password alone signs in again', async () => {
    const email = 'disable@totp.test';
    const { client, userId } = await withTotp(email);
    expect((await client.request(DisableTotp, { currentPassword: 'Wrong-Password-1' })).data!.disableTotp).toEqual({
      __typename: 'InvalidCredentialsError',
      message: 'Invalid credentials',
    });
    expect((await client.request(DisableTotp, { currentPassword: TEST_PASSWORD })).data!.disableTotp).toEqual({
      __typename: 'SecondFactors',
      totpEnabled: false,
      recoveryCodesLeft: 0,
      passkeys: [],
    });
    expect((await client.request(DisableTotp, { currentPassword: TEST_PASSWORD })).data!.disableTotp.__typename).toBe('NotFoundError');
    expect((await app.client().request(Login, { input: { email, password: TEST_PASSWORD } })).data!.login.__typename).toBe('User');
    expect(await app.services.prisma.authEvent.count({ where: { userId, kind: 'SECOND_FACTOR_DISABLED' } })).toBe(1);
  });
});

describe('staff', () => {
  it('see hasSecondFactor, filter by it, and reset a user’s factors, which ends their sessions and tokens', async () => {
    const staff = await staffMember(app, 'staff@totp.test');
    const email = 'lost-phone@totp.test';
    const { client: victim, userId, secret } = await withTotp(email);
    const { id: plainId } = await app.createUser({ email: 'no-factor@totp.test' });
    await app.services.tokens.issue(userId, { userAgent: null, ipAddress: null });

    const withFactor = (await staff.request(UsersBySecondFactor, { hasSecondFactor: true })).data!.users;
    expect(withFactor.edges.map((edge) => edge.node.email)).toContain(email);
    expect(withFactor.edges.every((edge) => edge.node.hasSecondFactor)).toBe(true);
    const without = (await staff.request(UsersBySecondFactor, { hasSecondFactor: false })).data!.users;
    expect(without.edges.map((edge) => edge.node.email)).toContain('no-factor@totp.test');
    expect(without.edges.map((edge) => edge.node.email)).not.toContain(email);

    // Not for anyone else.
    const other = await app.signedIn({ email: 'nosy@totp.test' });
    expect((await other.request(ResetSecondFactors, { userId: String(userId) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await other.request(UsersBySecondFactor, { hasSecondFactor: null })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    expect((await staff.request(ResetSecondFactors, { userId: '999999' })).data!.resetSecondFactors.__typename).toBe('NotFoundError');
    expect((await staff.request(ResetSecondFactors, { userId: 'x' })).data!.resetSecondFactors.__typename).toBe('NotFoundError');
    const reset = await staff.request(ResetSecondFactors, { userId: String(userId) });
    expect(reset.data!.resetSecondFactors).toEqual({ __typename: 'User', id: String(userId), hasSecondFactor: false });
    expect((await victim.request(SecondFactorMe)).data!.me).toBeNull();
    expect(await app.services.prisma.session.count({ where: { userId } })).toBe(0);
    expect(await app.services.prisma.tokenFamily.count({ where: { userId } })).toBe(0);
    expect(await app.services.prisma.recoveryCode.count({ where: { userId } })).toBe(0);
    expect(await app.services.prisma.totpFactor.count({ where: { userId } })).toBe(0);
    const events = (await staff.request(SecondFactorEvents, { userId: String(userId), kind: 'SECOND_FACTOR_DISABLED' })).data!.authEvents;
    expect(events.edges.map((edge) => edge.node.actor?.id)).toEqual([expect.any(String)]);
    // A password alone signs in again; the old secret is gone.
    expect((await app.client().request(Login, { input: { email, password: TEST_PASSWORD } })).data!.login.__typename).toBe('User');
    expect(secret).toBeTruthy();
    expect(plainId).toBeGreaterThan(0);
  });
});

describe('npm run create-admin', () => {
  it('promotes a user who has a second factor, keeping the factor, while the server runs on the same database', async () => {
    const email = 'admin-with-factor@totp.test';
    const { userId, secret } = await withTotp(email);
    const { config } = app.services;
    const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
    const env = { ...process.env, NODE_ENV: 'development', DATABASE_URL: config.databaseUrl, DATA_DIR: config.dataDir, BCRYPT_COST: '10', LOG_LEVEL: 'warn' };
    const { stdout } = await promisify(execFile)(process.execPath, [tsxCli, 'scripts/create-admin.ts', '--email', email, '--password', TEST_PASSWORD], { env });
    expect(stdout).toBe(`${email} is now staff (password unchanged).\n`);

    const user = await app.services.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { isStaff: true, hasSecondFactor: true } });
    expect(user).toEqual({ isStaff: true, hasSecondFactor: true });
    // The new staff member still signs in in two steps, with the same authenticator app.
    await awayFromStepEnd();
    const browser = app.client();
    const { login } = await passwordStep(browser, email);
    const passed = await browser.request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode: codeAt(secret, 1) } });
    expect(passed.data!.verifySecondFactor).toMatchObject({ __typename: 'User', email });
  }, 120_000);
});

describe('rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ RATE_LIMITS: 'on', TRUST_PROXY: '1' });
  });
  afterAll(() => limited?.stop());

  it('counts wrong codes per account across challenges and IPs, like wrong passwords', async () => {
    const email = 'guessed@totp.test';
    const { id: userId } = await limited.createUser({ email });
    const client = limited.client({ 'x-forwarded-for': '10.0.0.1' });
    await client.login(email, TEST_PASSWORD);
    const setup = (await client.request(StartTotpSetup)).data!.startTotpSetup;
    expect((await client.request(ConfirmTotpSetup, { code: codeAt(setup.secret) })).data!.confirmTotpSetup.__typename).toBe('RecoveryCodes');

    const challengeFrom = async (ip: string) => {
      const result = await limited.client({ 'x-forwarded-for': ip }).request(Login, { input: { email, password: TEST_PASSWORD } });
      const login = result.data!.login;
      return login.__typename === 'SecondFactorRequired' ? login.challenge : '';
    };
    // Five wrong answers from five addresses, each on a new challenge.
    for (let i = 0; i < 5; i++) {
      const ip = `10.0.1.${i}`;
      const challenge = await challengeFrom(ip);
      const wrong = await limited.client({ 'x-forwarded-for': ip }).request(VerifySecondFactor, { input: { challenge, totpCode: '000000' } });
      expect(wrong.data!.verifySecondFactor.__typename).toBe('InvalidSecondFactorError');
    }
    const challenge = await challengeFrom('10.0.2.1');
    const refused = await limited.client({ 'x-forwarded-for': '10.0.2.1' }).request(VerifySecondFactor, { input: { challenge, totpCode: codeAt(setup.secret, 1) } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(await limited.services.prisma.session.count({ where: { userId } })).toBe(1);
    expect(await limited.services.prisma.authEvent.count({ where: { userId, kind: 'RATE_LIMITED' } })).toBe(1);
  });
});

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await startTestApp({ REQUIRE_VERIFIED_EMAIL: 'true' });
  });
  afterAll(() => strict?.stop());

  it('refuses an unverified account after its right code with EmailNotVerifiedError, and starts no session or token', async () => {
    await awayFromStepEnd();
    const email = 'unverified@totp.test';
    const { id: userId } = await strict.createUser({ email, emailVerified: true });
    const owner = strict.client();
    await owner.login(email, TEST_PASSWORD);
    const setup = (await owner.request(StartTotpSetup)).data!.startTotpSetup;
    expect((await owner.request(ConfirmTotpSetup, { code: codeAt(setup.secret, -1) })).data!.confirmTotpSetup.__typename).toBe('RecoveryCodes');
    // The address stops counting as proven (e.g. staff set emailVerified: false).
    await strict.services.prisma.user.update({ where: { id: userId }, data: { emailVerified: false } });
    const sessionsBefore = await strict.services.prisma.session.count({ where: { userId } });

    const input = { email, password: TEST_PASSWORD };
    const starts = [
      async (browser: TestClient) => (await browser.request(Login, { input })).data!.login,
      async (browser: TestClient) => (await browser.request(ObtainTokenPair, { input })).data!.obtainTokens,
    ];
    for (const [steps, start] of starts.entries()) {
      const browser = strict.client();
      const step = await start(browser);
      if (step.__typename !== 'SecondFactorRequired') throw new Error(`expected SecondFactorRequired, got ${step.__typename}`);
      const answered = await browser.request(VerifySecondFactor, { input: { challenge: step.challenge, totpCode: codeAt(setup.secret, steps) } });
      expect(answered.errors).toBeUndefined();
      expect(answered.data!.verifySecondFactor).toEqual({ __typename: 'EmailNotVerifiedError', message: expect.any(String) });
      expect(answered.headers.getSetCookie()).toEqual([]);
    }
    expect(await strict.services.prisma.session.count({ where: { userId } })).toBe(sessionsBefore);
    expect(await strict.services.prisma.tokenFamily.count({ where: { userId } })).toBe(0);
  });
});
