// Which operation records each kind of audit event, and what the log never holds.
import { beforeAll, describe, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import { AUTH_EVENT_KINDS, type AuthEventKind } from '../src/audit.ts';
import { issueEmailToken } from '../src/emailTokens.ts';
import { TEST_PASSWORD } from './helpers/app.ts';
import { tokenClient } from './helpers/actors.ts';
import { type Account, app, authEvents, CHANGED_PASSWORD, event, eventsFrom, login, obtainTokens, outcome, refreshTokens, rememberCookie, rememberToken, RESET_PASSWORD, secrets, STAFF_SET_PASSWORD, useAuditApp, type Visitor, visitor, WRONG_PASSWORD } from './helpers/auditSuite.ts';
import { ChangePassword, MySessions, RevokeSession } from './operations/account.ts';
import { Login, Logout, LogoutEverywhere, Register } from './operations/auth.ts';
import { ChangeEmail, VerifyEmail } from './operations/email.ts';
import { RequestPasswordReset, ResetPassword } from './operations/passwordReset.ts';
import { ConfirmTotpSetup, DisableTotp, StartTotpSetup, VerifySecondFactor } from './operations/secondFactor.ts';
import { ObtainTokenPair } from './operations/tokens.ts';
import { CreateUser, DeleteUser, UpdateUser } from './operations/users.ts';

useAuditApp();

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
      const first = (await stepIn.client.request(Login, { input: { email: user.email, password: TEST_PASSWORD } })).data!.login;
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
