import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_EVENT_KINDS, type AuthEventKind } from '../src/audit.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { digest, randomToken } from '../src/opaqueTokens.ts';
import { issueEmailToken } from '../src/emailTokens.ts';
import { ChangeEmail, VerifyEmail } from './operations/email.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { capturingLogger } from './helpers/logs.ts';
import { Secret, TOTP } from 'otpauth';
import { ConfirmTotpSetup, DisableTotp, StartTotpSetup, TwoStepLogin, VerifySecondFactor } from './operations/secondFactor.ts';
import { Login, Logout, LogoutEverywhere, Register } from './operations/auth.ts';
import { staffMember, tokenClient } from './helpers/actors.ts';
import { AuthEvents } from './operations/audit.ts';
import { ChangePassword, MySessions, RevokeSession } from './operations/account.ts';
import { RequestPasswordReset, ResetPassword } from './operations/passwordReset.ts';
import { ObtainTokenPair, RefreshTokenPair } from './operations/tokens.ts';
import { CreateUser, DeleteUser, UpdateUser } from './operations/users.ts';

const WRONG_PASSWORD = 'Wrong-Password-123';
const CHANGED_PASSWORD = 'Quartz-Lantern-Meadow-51';
const RESET_PASSWORD = 'Velvet-Harbor-Compass-83';
const STAFF_SET_PASSWORD = 'Granite-Orchid-Falcon-26';
const DAY_MS = 24 * 60 * 60 * 1000;

interface Account {
  id: number | string;
  email: string;
}

interface Visitor {
  client: TestClient;
  headers: Record<string, string>;
  ip: string;
  userAgent: string;
}

type Outcome = { data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] };

let app: TestApp;
let staff: TestClient;
/** Every password and token handed to or by the API in this file's main app. */
const secrets = new Set<string>([TEST_PASSWORD, WRONG_PASSWORD, CHANGED_PASSWORD, RESET_PASSWORD, STAFF_SET_PASSWORD]);

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMITS: 'on', TRUST_PROXY: '1', RATE_LIMIT_IP_ATTEMPTS: '10000/60' });
  staff = await staffMember(app, 'audit-staff@example.com');
});
afterAll(() => app?.stop());

let visitors = 0;

/** A client with its own address (through the trusted proxy) and user agent, so its events can be told apart. */
function visitor(name: string, extraHeaders: Record<string, string> = {}): Visitor {
  visitors += 1;
  const ip = `198.51.${Math.floor(visitors / 200)}.${(visitors % 200) + 1}`;
  const userAgent = `AuditProbe/${visitors} (${name})`;
  const headers = { 'x-forwarded-for': ip, 'user-agent': userAgent, ...extraHeaders };
  return { client: app.client(headers), headers, ip, userAgent };
}

function rememberCookie(client: TestClient) {
  const sid = client.cookies.get('sid');
  if (!sid) return;
  const signed = decodeURIComponent(sid);
  secrets.add(signed);
  secrets.add(signed.replace(/^s:/, '').split('.')[0]!);
}

function rememberToken(token: string) {
  secrets.add(token);
  secrets.add(digest(token));
}

function outcome(result: Outcome): unknown {
  const [value] = Object.values((result.data as Record<string, unknown> | null | undefined) ?? {});
  if (value && typeof value === 'object' && '__typename' in value) return value.__typename;
  if (value !== undefined && value !== null) return value;
  return result.errors?.[0]?.extensions?.code;
}

async function login(from: Visitor, email: string, password = TEST_PASSWORD) {
  const result = await from.client.request(Login, { input: { email, password } });
  rememberCookie(from.client);
  return outcome(result);
}

async function obtainTokens(from: Visitor, email: string) {
  const result = await from.client.request(ObtainTokenPair, { input: { email, password: TEST_PASSWORD } });
  const pair = result.data?.obtainTokens;
  if (pair?.__typename !== 'TokenPair') throw new Error(`obtainTokens failed: ${JSON.stringify(result)}`);
  rememberToken(pair.accessToken);
  rememberToken(pair.refreshToken);
  return pair;
}

async function refreshTokens(from: Visitor, refreshToken: string) {
  const result = (await from.client.request(RefreshTokenPair, { refreshToken })).data?.refreshTokens;
  if (result?.__typename === 'TokenPair') {
    rememberToken(result.accessToken);
    rememberToken(result.refreshToken);
  }
  return result;
}

async function authEvents(variables: { first?: number; after?: string; userId?: string; kind?: AuthEventKind } = {}) {
  const result = await staff.request(AuthEvents, variables);
  expect(result.errors).toBeUndefined();
  return result.data!.authEvents;
}

/** The events caused by one visitor, newest first. */
async function eventsFrom(from: Visitor) {
  const { edges } = await authEvents({ first: 100 });
  return edges.map((edge) => edge.node).filter((node) => node.userAgent === from.userAgent);
}

function ref(account: Account | null | undefined) {
  return account ? { id: String(account.id), email: account.email } : null;
}

function event(kind: AuthEventKind, from: Visitor, fields: { user?: Account | null; actor?: Account | null; email?: string | null } = {}) {
  return {
    id: expect.stringMatching(/^\d+$/),
    kind,
    at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    user: ref(fields.user),
    actor: ref(fields.actor),
    email: fields.email ?? null,
    ipAddress: from.ip,
    userAgent: from.userAgent,
  };
}

/**
 * What causes each kind: the first test of the describe below that records it. A check of every
 * kind causes the ones not recorded yet, so that it also passes when it runs alone.
 */
const causes = new Map<AuthEventKind, () => Promise<void>>();

/** A test named after the kind it records first (`KIND: …`, or the kind of the enclosing describe). */
function kindTest(name: string, body: () => Promise<void>) {
  const kind = (name.match(/^([A-Z_]+):/)?.[1] ?? 'RATE_LIMITED') as AuthEventKind;
  if (!causes.has(kind)) causes.set(kind, body);
  it(name, body);
}

/** Causes every kind that the log does not hold yet. */
async function recordEveryKind() {
  for (const kind of AUTH_EVENT_KINDS) {
    if ((await authEvents({ kind, first: 1 })).totalCount === 0) await causes.get(kind)?.();
  }
}

describe('every event kind is recorded by the operation that causes it', () => {
  kindTest('REGISTERED: register, by an anonymous visitor, under the normalised address', async () => {
    const from = visitor('register');
    const result = await from.client.request(Register, {
      input: { email: '  New.Member@Example.COM ', password: TEST_PASSWORD },
    });
    const user = result.data?.register;
    if (user?.__typename !== 'User') throw new Error(`register failed: ${JSON.stringify(result)}`);
    expect(user.email).toBe('new.member@example.com');
    expect(await eventsFrom(from)).toEqual([event('REGISTERED', from, { user, actor: null, email: 'new.member@example.com' })]);
  });

  kindTest('LOGIN_SUCCEEDED: login, by the user', async () => {
    const user = await app.createUser({ email: 'login-ok@example.com' });
    const from = visitor('login');
    expect(await login(from, 'Login-OK@example.com')).toBe('User');
    expect(await eventsFrom(from)).toEqual([event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email })]);
  });

  it.each([
    ['a wrong password', 'login-wrong@example.com', true],
    ['an inactive account', 'login-inactive@example.com', false],
  ])('LOGIN_FAILED: login with %s names the account, with no actor', async (_case, email, isActive) => {
    const user = await app.createUser({ email, isActive });
    const from = visitor(`login failed ${email}`);
    expect(await login(from, email.toUpperCase(), isActive ? WRONG_PASSWORD : TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await eventsFrom(from)).toEqual([event('LOGIN_FAILED', from, { user, actor: null, email })]);
  });

  kindTest('LOGIN_FAILED: login with an unknown email keeps the address tried, with no user', async () => {
    const from = visitor('login unknown');
    expect(await login(from, 'No-Such-Account@Example.com')).toBe('InvalidCredentialsError');
    expect(await app.services.prisma.user.count({ where: { email: 'no-such-account@example.com' } })).toBe(0);
    expect(await eventsFrom(from)).toEqual([event('LOGIN_FAILED', from, { user: null, actor: null, email: 'no-such-account@example.com' })]);
  });

  kindTest('LOGIN_FAILED: obtainTokens with a wrong password, like login', async () => {
    const user = await app.createUser({ email: 'tokens-wrong@example.com' });
    const from = visitor('obtainTokens wrong');
    const result = await from.client.request(ObtainTokenPair, { input: { email: user.email, password: WRONG_PASSWORD } });
    expect(result.data?.obtainTokens.__typename).toBe('InvalidCredentialsError');
    expect(await eventsFrom(from)).toEqual([event('LOGIN_FAILED', from, { user, actor: null, email: user.email })]);
  });

  kindTest('LOGOUT: logout of a cookie session', async () => {
    const user = await app.createUser({ email: 'logout-cookie@example.com' });
    const from = visitor('logout cookie');
    await login(from, user.email);
    expect((await from.client.request(Logout)).data?.logout.message).toBe('Successfully logged out');
    expect(await eventsFrom(from)).toEqual([
      event('LOGOUT', from, { user, actor: user }),
      event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
    ]);
  });

  kindTest('LOGOUT: logout of a bearer sign-in', async () => {
    const user = await app.createUser({ email: 'logout-bearer@example.com' });
    const from = visitor('logout bearer');
    const pair = await obtainTokens(from, user.email);
    expect((await tokenClient(app, pair.accessToken, from.headers).request(Logout)).data?.logout.message).toBe('Successfully logged out');
    expect(await eventsFrom(from)).toEqual([
      event('LOGOUT', from, { user, actor: user }),
      event('TOKENS_ISSUED', from, { user, actor: user, email: user.email }),
    ]);
  });

  kindTest('LOGOUT: logoutEverywhere', async () => {
    const user = await app.createUser({ email: 'logout-everywhere@example.com' });
    const from = visitor('logout everywhere');
    await login(from, user.email);
    const result = await from.client.request(LogoutEverywhere);
    expect(result.data?.logoutEverywhere.message).toBe('Successfully logged out');
    expect(await eventsFrom(from)).toEqual([
      event('LOGOUT', from, { user, actor: user }),
      event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
    ]);
  });

  kindTest('TOKENS_ISSUED: obtainTokens, by the user', async () => {
    const user = await app.createUser({ email: 'tokens-issued@example.com' });
    const from = visitor('obtainTokens');
    await obtainTokens(from, 'Tokens-Issued@example.com');
    expect(await eventsFrom(from)).toEqual([event('TOKENS_ISSUED', from, { user, actor: user, email: user.email })]);
  });

  kindTest('TOKENS_REFRESHED: refreshTokens, by the owner of the token, from where it was refreshed', async () => {
    const user = await app.createUser({ email: 'tokens-refreshed@example.com' });
    const pair = await obtainTokens(visitor('obtainTokens before refresh'), user.email);
    const from = visitor('refreshTokens');
    expect((await refreshTokens(from, pair.refreshToken))?.__typename).toBe('TokenPair');
    expect(await eventsFrom(from)).toEqual([event('TOKENS_REFRESHED', from, { user, actor: user })]);
  });

  kindTest('REFRESH_TOKEN_REUSED: a used refresh token presented again, about its owner, with no actor', async () => {
    const user = await app.createUser({ email: 'token-reused@example.com' });
    const pair = await obtainTokens(visitor('obtainTokens before reuse'), user.email);
    expect((await refreshTokens(visitor('legitimate refresh'), pair.refreshToken))?.__typename).toBe('TokenPair');
    const from = visitor('replayed refresh');
    expect((await refreshTokens(from, pair.refreshToken))?.__typename).toBe('InvalidTokenError');
    expect(await eventsFrom(from)).toEqual([event('REFRESH_TOKEN_REUSED', from, { user, actor: null })]);
  });

  kindTest('PASSWORD_CHANGED: changePassword, by the user', async () => {
    const user = await app.createUser({ email: 'password-changed@example.com' });
    const from = visitor('changePassword');
    await login(from, user.email);
    const result = await from.client.request(ChangePassword, {
      input: { currentPassword: TEST_PASSWORD, newPassword: CHANGED_PASSWORD },
    });
    rememberCookie(from.client);
    expect(result.data?.changePassword.__typename).toBe('User');
    expect(await eventsFrom(from)).toEqual([
      event('PASSWORD_CHANGED', from, { user, actor: user }),
      event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
    ]);
  });

  kindTest('PASSWORD_RESET_REQUESTED: requestPasswordReset for an account names it, with no actor', async () => {
    const user = await app.createUser({ email: 'reset-requested@example.com' });
    const from = visitor('requestPasswordReset');
    expect((await from.client.request(RequestPasswordReset, { email: ' Reset-Requested@Example.com' })).data).toEqual({
      requestPasswordReset: true,
    });
    expect(await eventsFrom(from)).toEqual([event('PASSWORD_RESET_REQUESTED', from, { user, actor: null, email: user.email })]);
  });

  kindTest('PASSWORD_RESET_REQUESTED: requestPasswordReset for an unknown address keeps it, with no user', async () => {
    const from = visitor('requestPasswordReset unknown');
    expect((await from.client.request(RequestPasswordReset, { email: 'Nobody-Here@Example.com' })).data).toEqual({
      requestPasswordReset: true,
    });
    expect(await eventsFrom(from)).toEqual([
      event('PASSWORD_RESET_REQUESTED', from, { user: null, actor: null, email: 'nobody-here@example.com' }),
    ]);
  });

  kindTest('PASSWORD_RESET: resetPassword with a mailed token, with no actor', async () => {
    const user = await app.createUser({ email: 'password-reset@example.com' });
    const token = await issueEmailToken(app.services.prisma, { userId: user.id, purpose: 'PASSWORD_RESET', email: user.email });
    rememberToken(token);
    const from = visitor('resetPassword');
    const result = await from.client.request(ResetPassword, { input: { token, newPassword: RESET_PASSWORD } });
    expect(result.data?.resetPassword.__typename).toBe('User');
    expect(await eventsFrom(from)).toEqual([event('PASSWORD_RESET', from, { user, actor: null, email: user.email })]);
  });

  kindTest('EMAIL_VERIFIED: verifyEmail with a verification link, by the user it proves', async () => {
    const user = await app.createUser({ email: 'email-verified@example.com' });
    const token = await issueEmailToken(app.services.prisma, { userId: user.id, purpose: 'VERIFY_EMAIL', email: user.email });
    rememberToken(token);
    const from = visitor('verifyEmail');
    expect(outcome(await from.client.request(VerifyEmail, { token }))).toBe('User');
    expect(await eventsFrom(from)).toEqual([event('EMAIL_VERIFIED', from, { user, actor: user, email: user.email })]);
  });

  kindTest('EMAIL_CHANGE_REQUESTED: changeEmail, by the signed-in user, naming the new address', async () => {
    const user = await app.createUser({ email: 'email-change-requested@example.com' });
    const from = visitor('changeEmail');
    await login(from, user.email);
    const result = await from.client.request(ChangeEmail, { input: { newEmail: 'Requested.New@example.com', currentPassword: TEST_PASSWORD } });
    expect(outcome(result)).toBe('EmailChangeRequested');
    expect(await eventsFrom(from)).toEqual([
      event('EMAIL_CHANGE_REQUESTED', from, { user, actor: user, email: 'requested.new@example.com' }),
      event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
    ]);
  });

  kindTest('EMAIL_CHANGED: verifyEmail with an email-change link, naming the new address', async () => {
    const user = await app.createUser({ email: 'email-changed@example.com' });
    const token = await issueEmailToken(app.services.prisma, { userId: user.id, purpose: 'CHANGE_EMAIL', email: 'email-changed-new@example.com' });
    rememberToken(token);
    const from = visitor('verifyEmail change');
    expect(outcome(await from.client.request(VerifyEmail, { token }))).toBe('User');
    const moved = { id: user.id, email: 'email-changed-new@example.com' };
    expect(await eventsFrom(from)).toEqual([event('EMAIL_CHANGED', from, { user: moved, actor: moved, email: moved.email })]);
  });

  kindTest('SESSION_REVOKED: revokeSession of another of the user’s sessions', async () => {
    const user = await app.createUser({ email: 'session-revoked@example.com' });
    await login(visitor('phone'), user.email);
    const from = visitor('laptop');
    await login(from, user.email);
    const sessions = (await from.client.request(MySessions)).data!.mySessions;
    const other = sessions.find((session) => !session.current)!;
    expect((await from.client.request(RevokeSession, { id: other.id })).data?.revokeSession).toBe(true);
    expect(await eventsFrom(from)).toEqual([
      event('SESSION_REVOKED', from, { user, actor: user }),
      event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
    ]);
  });

  describe('USER_CREATED, USER_UPDATED and USER_DELETED', () => {
    let admin: Account;
    let from: Visitor;
    let created: Account;
    let ownLogin: Visitor;

    const signInAdmin = async () => {
      admin = await app.createUser({ email: 'audit-admin@example.com', isStaff: true });
      from = visitor('admin');
      await login(from, admin.email);
    };
    beforeAll(signInAdmin);

    const userCreated = async () => {
      const result = await from.client.request(CreateUser, {
        input: { email: 'Staff-Created@Example.com', password: STAFF_SET_PASSWORD },
      });
      const user = result.data?.createUser;
      if (user?.__typename !== 'User') throw new Error(`createUser failed: ${JSON.stringify(result)}`);
      created = user;
      expect(await eventsFrom(from)).toEqual([
        event('USER_CREATED', from, { user: created, actor: admin, email: 'staff-created@example.com' }),
        event('LOGIN_SUCCEEDED', from, { user: admin, actor: admin, email: admin.email }),
      ]);
    };
    it('USER_CREATED: createUser, by the staff member', userCreated);

    const userUpdated = async () => {
      ownLogin = visitor('created user signs in');
      expect(await login(ownLogin, created.email, STAFF_SET_PASSWORD)).toBe('User');
      const result = await from.client.request(UpdateUser, {
        id: String(created.id),
        input: { email: 'Staff-Renamed@Example.com', lastName: 'Renamed' },
      });
      expect(result.data?.updateUser).toMatchObject({ __typename: 'User', id: String(created.id), email: 'staff-renamed@example.com', lastName: 'Renamed' });
      const renamed = { id: created.id, email: 'staff-renamed@example.com' };
      expect((await eventsFrom(from))[0]).toEqual(event('USER_UPDATED', from, { user: renamed, actor: admin, email: renamed.email }));
    };
    it('USER_UPDATED: updateUser, by the staff member, under the new address', userUpdated);

    const userDeleted = async () => {
      const result = await from.client.request(DeleteUser, { id: String(created.id) });
      expect(result.data?.deleteUser.__typename).toBe('DeletedUser');
      expect(await eventsFrom(from)).toEqual([
        event('USER_DELETED', from, { user: null, actor: admin, email: 'staff-renamed@example.com' }),
        event('USER_UPDATED', from, { user: null, actor: admin, email: 'staff-renamed@example.com' }),
        event('USER_CREATED', from, { user: null, actor: admin, email: 'staff-created@example.com' }),
        event('LOGIN_SUCCEEDED', from, { user: admin, actor: admin, email: admin.email }),
      ]);
      expect(await eventsFrom(ownLogin)).toEqual([
        event('LOGIN_SUCCEEDED', ownLogin, { user: null, actor: null, email: 'staff-created@example.com' }),
      ]);
    };
    it('USER_DELETED: deleteUser keeps the email while user is null, and so do the user’s earlier events', userDeleted);
    const lifecycle = async () => {
      await signInAdmin();
      await userCreated();
      await userUpdated();
      await userDeleted();
    };
    for (const kind of ['USER_CREATED', 'USER_UPDATED', 'USER_DELETED'] as const) causes.set(kind, lifecycle);
  });

  describe('RATE_LIMITED', () => {
    kindTest('a login refused for too many failures, about the account tried, with no actor', async () => {
      const user = await app.createUser({ email: 'rate-limited@example.com' });
      const from = visitor('rate limited login');
      for (let i = 0; i < 5; i += 1) expect(await login(from, user.email, WRONG_PASSWORD)).toBe('InvalidCredentialsError');
      expect(await login(from, 'Rate-Limited@Example.com')).toBe('RATE_LIMITED');
      expect(await eventsFrom(from)).toEqual([
        event('RATE_LIMITED', from, { user, actor: null, email: user.email }),
        ...Array.from({ length: 5 }, () => event('LOGIN_FAILED', from, { user, actor: null, email: user.email })),
      ]);
    });

    it('a login refused for an unknown address keeps the address, with no user', async () => {
      const from = visitor('rate limited unknown');
      for (let i = 0; i < 5; i += 1) expect(await login(from, 'ghost@example.com', WRONG_PASSWORD)).toBe('InvalidCredentialsError');
      expect(await login(from, 'ghost@example.com', WRONG_PASSWORD)).toBe('RATE_LIMITED');
      expect((await eventsFrom(from))[0]).toEqual(event('RATE_LIMITED', from, { user: null, actor: null, email: 'ghost@example.com' }));
    });

    it('a changePassword refused for too many wrong current passwords, about and by the signed-in user', async () => {
      const user = await app.createUser({ email: 'rate-limited-change@example.com' });
      const from = visitor('rate limited changePassword');
      await login(from, user.email);
      const change = (currentPassword: string) =>
        from.client.request(ChangePassword, { input: { currentPassword, newPassword: CHANGED_PASSWORD } });
      for (let i = 0; i < 5; i += 1) expect(outcome(await change(WRONG_PASSWORD))).toBe('InvalidCredentialsError');
      expect(outcome(await change(TEST_PASSWORD))).toBe('RATE_LIMITED');
      expect(await eventsFrom(from)).toEqual([
        event('RATE_LIMITED', from, { user, actor: user }),
        event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
      ]);
    });
  });

  describe('second factor', () => {
    const secondFactor = async () => {
      const user = await app.createUser({ email: 'second-factor@example.com' });
      const from = visitor('second factor');
      await login(from, user.email);
      const setup = (await from.client.request(StartTotpSetup)).data!.startTotpSetup;
      secrets.add(setup.secret);
      const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(setup.secret) });
      const confirmed = (await from.client.request(ConfirmTotpSetup, { code: totp.generate() })).data!.confirmTotpSetup;
      const codes = confirmed.__typename === 'RecoveryCodes' ? confirmed.codes : [];
      for (const code of codes) secrets.add(code);
      const stepIn = visitor('second factor sign-in');
      const first = (await stepIn.client.request(TwoStepLogin, { input: { email: user.email, password: TEST_PASSWORD } })).data!.login;
      const challenge = first.__typename === 'SecondFactorRequired' ? first.challenge : '';
      secrets.add(challenge);
      expect(outcome(await stepIn.client.request(VerifySecondFactor, { input: { challenge, totpCode: '000000' } }))).toBe('InvalidSecondFactorError');
      expect(outcome(await stepIn.client.request(VerifySecondFactor, { input: { challenge, recoveryCode: codes[0]! } }))).toBe('User');
      rememberCookie(stepIn.client);
      expect(outcome(await from.client.request(DisableTotp, { currentPassword: TEST_PASSWORD }))).toBe('SecondFactors');
      expect(await eventsFrom(stepIn)).toEqual([
        event('LOGIN_SUCCEEDED', stepIn, { user, actor: user, email: user.email }),
        event('RECOVERY_CODE_USED', stepIn, { user, actor: user }),
        event('SECOND_FACTOR_FAILED', stepIn, { user, actor: null }),
      ]);
      expect(await eventsFrom(from)).toEqual([
        event('SECOND_FACTOR_DISABLED', from, { user, actor: user }),
        event('SECOND_FACTOR_ENABLED', from, { user, actor: user }),
        event('LOGIN_SUCCEEDED', from, { user, actor: user, email: user.email }),
      ]);
    };
    it('SECOND_FACTOR_ENABLED, SECOND_FACTOR_FAILED, RECOVERY_CODE_USED, SECOND_FACTOR_DISABLED: about and by the user; a failure has no actor', secondFactor);
    for (const kind of ['SECOND_FACTOR_ENABLED', 'SECOND_FACTOR_FAILED', 'RECOVERY_CODE_USED', 'SECOND_FACTOR_DISABLED'] as const) causes.set(kind, secondFactor);
  });

  // PASSKEY_ADDED and PASSKEY_REMOVED need an authenticator: tests/passkeys.test.ts checks them in Chromium.
  const PASSKEY_KINDS: AuthEventKind[] = ['PASSKEY_ADDED', 'PASSKEY_REMOVED'];

  it('has now seen each of the 24 kinds (the passkeys’ two in tests/passkeys.test.ts)', async () => {
    expect([...AUTH_EVENT_KINDS].sort()).toEqual(
      [
        'REGISTERED', 'LOGIN_SUCCEEDED', 'LOGIN_FAILED', 'LOGOUT', 'TOKENS_ISSUED', 'TOKENS_REFRESHED', 'REFRESH_TOKEN_REUSED',
        'PASSWORD_CHANGED', 'PASSWORD_RESET_REQUESTED', 'PASSWORD_RESET', 'SESSION_REVOKED',
        'USER_CREATED', 'USER_UPDATED', 'USER_DELETED', 'RATE_LIMITED',
        'SECOND_FACTOR_ENABLED', 'SECOND_FACTOR_DISABLED', 'SECOND_FACTOR_FAILED', 'RECOVERY_CODE_USED', 'PASSKEY_ADDED', 'PASSKEY_REMOVED',
        'EMAIL_VERIFIED', 'EMAIL_CHANGE_REQUESTED', 'EMAIL_CHANGED',
      ].sort(),
    );
    await recordEveryKind();
    for (const kind of AUTH_EVENT_KINDS.filter((kind) => !PASSKEY_KINDS.includes(kind))) {
      expect((await authEvents({ kind, first: 1 })).totalCount, kind).toBeGreaterThan(0);
    }
  });
});

describe('failures that are not events record nothing', () => {
  let member: Account;
  let signedIn: Visitor;

  beforeAll(async () => {
    member = await app.createUser({ email: 'not-an-event@example.com' });
    await app.createUser({ email: 'taken@example.com' });
    signedIn = visitor('member');
    await login(signedIn, member.email);
  });

  const anonymous = () => visitor('anonymous').client;

  it.each<[string, () => Promise<Outcome>, unknown]>([
    [
      'register with an invalid email',
      () => anonymous().request(Register, { input: { email: 'not-an-email', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'register with a taken email',
      () => anonymous().request(Register, { input: { email: 'Taken@example.com', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'register with a common password',
      () => anonymous().request(Register, { input: { email: 'weak-password@example.com', password: 'password' } }),
      'ValidationError',
    ],
    [
      'createUser with an invalid email',
      () => staff.request(CreateUser, { input: { email: 'nope', password: TEST_PASSWORD } }),
      'ValidationError',
    ],
    [
      'createUser by a user who is not staff',
      () => signedIn.client.request(CreateUser, { input: { email: 'sneaky@example.com', password: TEST_PASSWORD } }),
      'FORBIDDEN',
    ],
    ['updateUser of no such user', () => staff.request(UpdateUser, { id: '999999', input: { lastName: 'Nobody' } }), 'NotFoundError'],
    ['deleteUser of no such user', () => staff.request(DeleteUser, { id: '999999' }), 'NotFoundError'],
    [
      'resetPassword with an unknown token',
      () => anonymous().request(ResetPassword, { input: { token: randomToken(), newPassword: RESET_PASSWORD } }),
      'InvalidTokenError',
    ],
    ['refreshTokens with an unknown token', () => anonymous().request(RefreshTokenPair, { refreshToken: randomToken() }), 'InvalidTokenError'],
    [
      'changePassword with a wrong current password',
      () => signedIn.client.request(ChangePassword, { input: { currentPassword: WRONG_PASSWORD, newPassword: CHANGED_PASSWORD } }),
      'InvalidCredentialsError',
    ],
    [
      'changePassword to a common password',
      () => signedIn.client.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: 'password' } }),
      'ValidationError',
    ],
    ['revokeSession of a session that does not exist', () => signedIn.client.request(RevokeSession, { id: 'c_nothing' }), false],
    ['logout while anonymous', () => anonymous().request(Logout), 'UNAUTHENTICATED'],
  ])('%s', async (_case, send, expected) => {
    const before = await app.services.prisma.authEvent.count();
    expect(outcome(await send())).toBe(expected);
    expect(await app.services.prisma.authEvent.count()).toBe(before);
  });
});

describe('authEvents', () => {
  it('is refused to anonymous visitors (UNAUTHENTICATED) and to users who are not staff (FORBIDDEN)', async () => {
    const anonymous = await app.client().request(AuthEvents, { first: 1 });
    expect(anonymous.data).toBeNull();
    expect(anonymous.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    const member = await app.signedIn({ email: 'curious-member@example.com' });
    const forbidden = await member.request(AuthEvents, { first: 1 });
    expect(forbidden.data).toBeNull();
    expect(forbidden.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('lists newest first, and first/after pages through every event exactly once', async () => {
    const stored = await app.services.prisma.authEvent.findMany({ select: { id: true }, orderBy: { id: 'desc' } });
    expect(stored.length).toBeGreaterThan(40);
    const seen: { id: string; at: string }[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await authEvents({ first: 7, after });
      expect(page.totalCount).toBe(stored.length);
      expect(page.edges.length).toBeLessThanOrEqual(7);
      seen.push(...page.edges.map((edge) => edge.node));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.edges).toHaveLength(7);
      after = page.pageInfo.endCursor!;
      expect(after).toBe(page.edges.at(-1)!.cursor);
    }
    expect(seen.map((node) => node.id)).toEqual(stored.map((row) => String(row.id)));
    for (let i = 1; i < seen.length; i += 1) {
      expect(Date.parse(seen[i]!.at)).toBeLessThanOrEqual(Date.parse(seen[i - 1]!.at));
    }
  });

  it('defaults to 20 events a page', async () => {
    const page = await authEvents();
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it('filters by userId, and totalCount counts only that user’s events', async () => {
    const user = await app.createUser({ email: 'filtered@example.com' });
    const from = visitor('filtered');
    await login(from, user.email);
    await obtainTokens(from, user.email);
    await from.client.request(Logout);
    await login(from, user.email, WRONG_PASSWORD);
    await login(visitor('someone else'), 'login-ok@example.com');

    const all = await authEvents({ userId: String(user.id) });
    expect(all.totalCount).toBe(4);
    expect(all.edges.map((edge) => [edge.node.kind, edge.node.user?.id])).toEqual([
      ['LOGIN_FAILED', String(user.id)],
      ['LOGOUT', String(user.id)],
      ['TOKENS_ISSUED', String(user.id)],
      ['LOGIN_SUCCEEDED', String(user.id)],
    ]);

    const paged = await authEvents({ userId: String(user.id), first: 3 });
    expect(paged.totalCount).toBe(4);
    const rest = await authEvents({ userId: String(user.id), first: 3, after: paged.pageInfo.endCursor! });
    expect([...paged.edges, ...rest.edges].map((edge) => edge.node.id)).toEqual(all.edges.map((edge) => edge.node.id));
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('filters by kind, and by kind and userId together', async () => {
    const { prisma } = app.services;
    const failures = await authEvents({ kind: 'LOGIN_FAILED', first: 100 });
    expect(failures.totalCount).toBe(await prisma.authEvent.count({ where: { kind: 'LOGIN_FAILED' } }));
    expect(failures.totalCount).toBeGreaterThan(5);
    expect(new Set(failures.edges.map((edge) => edge.node.kind))).toEqual(new Set(['LOGIN_FAILED']));
    expect(failures.edges).toHaveLength(failures.totalCount);

    const user = await prisma.user.findUniqueOrThrow({ where: { email: 'rate-limited@example.com' } });
    const theirs = await authEvents({ kind: 'LOGIN_FAILED', userId: String(user.id) });
    expect(theirs.totalCount).toBe(5);
    expect(theirs.edges.every((edge) => edge.node.kind === 'LOGIN_FAILED' && edge.node.user?.id === String(user.id))).toBe(true);
  });

  it('counts with one plain COUNT(*) with the filter, without LIMIT or OFFSET', async () => {
    const { prisma } = app.services;
    for (const [variables, where] of [
      [{}, {}],
      [{ kind: 'LOGIN_FAILED' }, { kind: 'LOGIN_FAILED' }],
    ] as const) {
      app.sql.length = 0;
      const page = await authEvents({ ...variables, first: 2 });
      const counts = app.sql.filter((sql) => /\bCOUNT\(/i.test(sql));
      expect(page.totalCount).toBe(await prisma.authEvent.count({ where }));
      expect(counts).toEqual([expect.stringMatching(/^SELECT COUNT\(\*\) .*FROM [`"\w.]*AuthEvent\b/)]);
      expect(counts[0]).not.toMatch(/\b(LIMIT|OFFSET|SELECT\b.*\bSELECT)\b/i);
    }
  });

  it('refuses first: 101 with BAD_USER_INPUT, and accepts first: 100', async () => {
    const tooMany = await staff.request(AuthEvents, { first: 101 });
    expect(tooMany.data).toBeNull();
    expect(tooMany.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const page = await authEvents({ first: 100 });
    expect(page.totalCount).toBeGreaterThan(20);
    expect(page.edges).toHaveLength(Math.min(page.totalCount, 100));
  });

  it('refuses a forged cursor with BAD_USER_INPUT', async () => {
    const forged = await staff.request(AuthEvents, { after: 'forged' });
    expect(forged.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it.each(['abc', '0', '-1', '1.5', '1e3', '99999999999999999999', ''])('answers an empty page for the malformed userId %j', async (userId) => {
    const page = await authEvents({ userId });
    expect(page).toEqual({ totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] });
  });
});

describe('loading users and actors', () => {
  it('runs the same SQL statements for 20 events as for 5: one query per relation, not per event', async () => {
    const users: Account[] = [];
    for (let i = 0; i <= 20; i += 1) users.push(await app.createUser({ email: `n-plus-one-${i}@example.com` }));
    await app.services.prisma.authEvent.createMany({
      data: users.slice(0, 20).map((user, i) => ({ kind: 'USER_UPDATED', userId: Number(user.id), actorId: Number(users[i + 1]!.id) })),
    });

    async function statementsFor(first: number) {
      app.sql.length = 0;
      const page = await authEvents({ first });
      const statements = [...app.sql];
      expect(page.edges.map((edge) => [edge.node.user?.email, edge.node.actor?.email])).toEqual(
        users
          .slice(0, 20)
          .map((user, i) => [user.email, users[i + 1]!.email])
          .reverse()
          .slice(0, first),
      );
      return statements;
    }

    const five = await statementsFor(5);
    const twenty = await statementsFor(20);
    const shape = (statements: string[]) =>
      statements.map((sql) => sql.replace(/IN \((?:\?|\$\d+)(?:,(?:\?|\$\d+))*\)/g, 'IN (...)').replace(/\$\d+/g, '$'));
    expect(shape(twenty)).toEqual(shape(five));
    expect(twenty.filter((sql) => /FROM [`"\w.]*User[`"]? WHERE [`"\w.]*User[`"]?\.[`"]?id[`"]? IN \(/.test(sql))).toHaveLength(2);
    expect(twenty.length).toBeLessThanOrEqual(6);
  });
});

describe('when an event cannot be recorded', () => {
  it('register, login, a failed login and logout still answer as usual, and each failure is logged', async () => {
    const { lines, logger } = capturingLogger('error');
    const broken = await startTestApp({}, { logger });
    try {
      await broken.services.prisma.$executeRawUnsafe('DROP TABLE "AuthEvent"');
      const client = broken.client();
      const registered = await client.request(Register, { input: { email: 'unrecorded@example.com', password: TEST_PASSWORD } });
      expect(registered.errors).toBeUndefined();
      expect(registered.data?.register.__typename).toBe('User');
      const wrong = await client.request(Login, { input: { email: 'unrecorded@example.com', password: WRONG_PASSWORD } });
      expect(wrong.data?.login.__typename).toBe('InvalidCredentialsError');
      const login = await client.request(Login, { input: { email: 'unrecorded@example.com', password: TEST_PASSWORD } });
      expect(login.errors).toBeUndefined();
      expect(login.data?.login.__typename).toBe('User');
      expect((await client.request(Logout)).data?.logout.message).toBe('Successfully logged out');

      const failures = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'could not record an auth event');
      expect(failures.map((entry) => entry.kind)).toEqual(['REGISTERED', 'LOGIN_FAILED', 'LOGIN_SUCCEEDED', 'LOGOUT']);
      expect(failures.every((entry) => entry.level === 50 && /AuthEvent/.test(JSON.stringify(entry.err)))).toBe(true);
      const text = lines.join('\n');
      expect(text).not.toContain(TEST_PASSWORD);
      expect(text).not.toContain(WRONG_PASSWORD);
    } finally {
      await broken.stop();
    }
  });
});

describe('retention', () => {
  it('prune deletes the events older than the retention and keeps the newer ones', async () => {
    const retaining = await startTestApp();
    try {
      const { prisma, audit } = retaining.services;
      const retentionMs = 180 * DAY_MS;
      const ages = { ancient: 400 * DAY_MS, expired: retentionMs + 60_000, kept: retentionMs - 60_000, recent: DAY_MS, fresh: 0 };
      for (const [name, age] of Object.entries(ages)) {
        await audit.record({ kind: 'LOGIN_FAILED', email: `${name}@example.com` });
        await prisma.authEvent.updateMany({ where: { email: `${name}@example.com` }, data: { at: new Date(Date.now() - age) } });
      }
      expect(await audit.prune(retentionMs)).toBe(2);
      const left = await prisma.authEvent.findMany({ select: { email: true }, orderBy: { id: 'asc' } });
      expect(left.map((row) => row.email)).toEqual(['kept@example.com', 'recent@example.com', 'fresh@example.com']);
      expect(await audit.prune(retentionMs)).toBe(0);
    } finally {
      await retaining.stop();
    }
  });

  it('is read from AUDIT_RETENTION_DAYS, 180 days by default', () => {
    const env = { DATA_DIR: os.tmpdir(), SESSION_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };
    expect(loadConfig(env).auditRetentionMs).toBe(180 * DAY_MS);
    expect(loadConfig({ ...env, AUDIT_RETENTION_DAYS: '30' }).auditRetentionMs).toBe(30 * DAY_MS);
    for (const invalid of ['0', '-5', '1.5', 'forever', '3651']) {
      expect(() => loadConfig({ ...env, AUDIT_RETENTION_DAYS: invalid }), invalid).toThrow(ConfigError);
      expect(() => loadConfig({ ...env, AUDIT_RETENTION_DAYS: invalid }), invalid).toThrow(/AUDIT_RETENTION_DAYS/);
    }
  });
});

describe('what the log holds', () => {
  it('never a password, a token or a password hash, after every kind of event', async () => {
    await recordEveryKind();
    const { prisma } = app.services;
    const rows = await prisma.$queryRawUnsafe<Record<string, unknown>[]>('SELECT * FROM "AuthEvent"');
    expect(Object.keys(rows[0]!).sort()).toEqual(['actorId', 'at', 'email', 'id', 'ipAddress', 'kind', 'userAgent', 'userId']);
    expect(new Set(rows.map((row) => row.kind))).toEqual(new Set(AUTH_EVENT_KINDS.filter((kind) => !kind.startsWith('PASSKEY_'))));

    const hashes = (await prisma.user.findMany({ select: { passwordHash: true } })).map((user) => user.passwordHash);
    const forbidden = [...secrets, ...hashes];
    expect(forbidden.length).toBeGreaterThan(40);
    const leaks = rows.flatMap((row) =>
      Object.entries(row).flatMap(([column, value]) => {
        const text = String(value);
        const found = forbidden.filter((secret) => text.includes(secret));
        if (/\$2[aby]\$\d\d\$/.test(text)) found.push('a bcrypt hash');
        return found.map((secret) => ({ id: row.id, column, secret }));
      }),
    );
    expect(leaks).toEqual([]);
  });
});
