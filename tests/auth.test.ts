import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { Login, Logout, Me, Register } from './operations/auth.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

function fieldErrors(result: Awaited<ReturnType<TestApp['client']>['request']> | any) {
  const register = result.data?.register;
  return register?.__typename === 'ValidationError' ? Object.fromEntries(register.fieldErrors.map((e: any) => [e.field, e.messages])) : {};
}

describe('register', () => {
  it('creates an active, non-staff user with a normalised email and does not sign in', async () => {
    const client = app.client();
    const result = await client.request(Register, {
      input: { email: '  New.User@Example.COM ', password: TEST_PASSWORD, firstName: 'New', lastName: 'User' },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.register).toMatchObject({
      __typename: 'User',
      email: 'new.user@example.com',
      firstName: 'New',
      lastName: 'User',
      isStaff: false,
      isActive: true,
      lastLogin: null,
    });
    const user = result.data!.register as { dateJoined: string };
    expect(Date.now() - Date.parse(user.dateJoined)).toBeLessThan(60_000);
    expect(result.headers.getSetCookie()).toEqual([]);
    expect((await client.request(Me)).data?.me).toBeNull();
  });

  it('stores only a bcrypt hash of the password', async () => {
    await app.client().request(Register, { input: { email: 'hashed@example.com', password: TEST_PASSWORD } });
    const row = await app.services.prisma.user.findUniqueOrThrow({
      where: { email: 'hashed@example.com' },
      select: { passwordHash: true },
    });
    expect(row.passwordHash).toMatch(/^\$2[aby]\$10\$/);
    expect(row.passwordHash).not.toContain(TEST_PASSWORD);
  });

  it('refuses an email that is taken in another case', async () => {
    await app.client().request(Register, { input: { email: 'taken@example.com', password: TEST_PASSWORD } });
    const result = await app.client().request(Register, { input: { email: 'TAKEN@Example.com', password: TEST_PASSWORD } });
    expect(result.data?.register).toMatchObject({ __typename: 'ValidationError' });
    expect(fieldErrors(result)).toEqual({ email: ['A user with that email already exists.'] });
    expect(await app.services.prisma.user.count({ where: { email: 'taken@example.com' } })).toBe(1);
  });

  it.each([
    ['', 'This field is required.'],
    ['not-an-email', 'Enter a valid email address.'],
    ['a@b', 'Enter a valid email address.'],
    [`${'a'.repeat(250)}@example.com`, 'Ensure this value has at most 254 characters.'],
  ])('refuses the email %j', async (email, message) => {
    const result = await app.client().request(Register, { input: { email, password: TEST_PASSWORD } });
    expect(fieldErrors(result)).toEqual({ email: [message] });
  });

  it.each([
    ['too short', 'Sh0rt!', 'This password is too short. It must contain at least 8 characters.'],
    ['entirely numeric', '4815162342108', 'This password is entirely numeric.'],
    ['common', 'sunshine1', 'This password is too common.'],
    ['over 72 bytes', 'é'.repeat(37), 'This password is too long. It must be at most 72 bytes.'],
    ['similar to the email', 'margaret.hamilton', 'The password is too similar to the email address.'],
  ])('refuses a password that is %s', async (_rule, password, message) => {
    const result = await app.client().request(Register, {
      input: { email: 'margaret.hamilton@example.com', password },
    });
    expect(fieldErrors(result).password).toContain(message);
  });

  it('refuses a password similar to the names', async () => {
    const result = await app.client().request(Register, {
      input: { email: 'x1@example.com', password: 'jonathan99!', firstName: 'Jonathan', lastName: 'Swift' },
    });
    expect(fieldErrors(result)).toEqual({ password: ['The password is too similar to the first name.'] });
  });

  it('reports every failing field and rule at once', async () => {
    const result = await app.client().request(Register, {
      input: { email: 'nope', password: '1234', firstName: 'x'.repeat(151) },
    });
    expect(fieldErrors(result)).toEqual({
      email: ['Enter a valid email address.'],
      password: [
        'This password is too short. It must contain at least 8 characters.',
        'This password is entirely numeric.',
        'This password is too common.',
      ],
      firstName: ['Ensure this value has at most 150 characters.'],
    });
    expect(await app.services.prisma.user.count({ where: { email: 'nope' } })).toBe(0);
  });
});

describe('login', () => {
  beforeAll(async () => {
    await app.createUser({ email: 'login-wrong@example.com' });
    await app.createUser({ email: 'login-inactive@example.com', isActive: false });
  });

  it('starts an HttpOnly, SameSite=Lax session and records lastLogin', async () => {
    const { email } = await app.createUser({ email: 'login-ok@example.com' });
    const client = app.client();
    const result = await client.request(Login, { input: { email: 'Login-OK@example.com ', password: TEST_PASSWORD } });
    expect(result.data?.login).toMatchObject({ __typename: 'User', email });
    const lastLogin = (result.data!.login as { lastLogin: string }).lastLogin;
    expect(Date.now() - Date.parse(lastLogin)).toBeLessThan(60_000);
    const [cookie, ...others] = result.headers.getSetCookie();
    expect(others).toEqual([]);
    expect(cookie).toMatch(/^sid=/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/; Secure/);
    expect((await client.request(Me)).data?.me).toMatchObject({ email, isStaff: false });
  });

  it.each([
    ['a wrong password', 'login-wrong@example.com', 'Wrong-Password-123'],
    ['an unknown email', 'nobody@example.com', TEST_PASSWORD],
    ['an inactive account', 'login-inactive@example.com', TEST_PASSWORD],
    ['an over-long password', 'login-wrong@example.com', 'x'.repeat(100)],
  ])('answers InvalidCredentialsError for %s and sets no cookie', async (_case, email, password) => {
    const client = app.client();
    const result = await client.request(Login, { input: { email, password } });
    expect(result.data?.login).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    expect(result.headers.getSetCookie()).toEqual([]);
    expect(client.cookies.size).toBe(0);
  });

  it('checks a password even for an unknown email, so timing does not reveal accounts', async () => {
    const before = app.services.hasher.operations;
    await app.client().request(Login, { input: { email: 'ghost@example.com', password: TEST_PASSWORD } });
    expect(app.services.hasher.operations - before).toBe(1);
  });

  it('gives a new session id at login, so a planted session is useless', async () => {
    const { email } = await app.createUser({ email: 'rotation@example.com' });
    const client = app.client();
    await client.login(email, TEST_PASSWORD);
    const first = client.cookies.get('sid');
    await client.login(email, TEST_PASSWORD);
    const second = client.cookies.get('sid');
    expect(second).toBeDefined();
    expect(second).not.toEqual(first);

    const replay = app.client();
    replay.cookies.set('sid', first!);
    expect((await replay.request(Me)).data?.me).toBeNull();
  });

  it('costs one statement for each row it touches: the account read, lastLogin, the session, the audit event', async () => {
    const { email } = await app.createUser({ email: 'statements@example.com' });
    app.sql.length = 0;
    await app.client().login(email, TEST_PASSWORD);
    const statements = app.sql.filter((sql) => /^\s*(SELECT|INSERT|UPDATE|DELETE)\b/i.test(sql));
    const count = (verb: string, table: string) =>
      statements.filter((sql) => new RegExp(`^\\s*${verb}\\b[^]*?[\`"]${table}[\`"]`, 'i').test(sql)).length;
    expect(count('SELECT', 'User'), statements.join('\n')).toBe(1);
    expect(count('UPDATE', 'User'), statements.join('\n')).toBe(1);
    // A browser's first session has no row yet to delete, and is written once, not again at the end.
    expect(count('INSERT', 'Session') + count('UPDATE', 'Session'), statements.join('\n')).toBe(1);
    expect(count('DELETE', 'Session'), statements.join('\n')).toBe(0);
    expect(count('INSERT', 'AuthEvent'), statements.join('\n')).toBe(1);
    expect(statements, statements.join('\n')).toHaveLength(4);
  });

  it('upgrades the stored hash when the configured cost changed', async () => {
    const { email } = await app.createUser({ email: 'rehash@example.com' });
    const cheap = await import('bcryptjs').then((bcrypt) => bcrypt.hash(TEST_PASSWORD, 4));
    await app.services.prisma.user.update({ where: { email }, data: { passwordHash: cheap } });
    await app.client().login(email, TEST_PASSWORD);
    const { passwordHash } = await app.services.prisma.user.findUniqueOrThrow({ where: { email }, select: { passwordHash: true } });
    expect(passwordHash).toMatch(/^\$2[aby]\$10\$/);
    await app.client().login(email, TEST_PASSWORD);
  });
});

describe('me and logout', () => {
  it('me is null for anonymous requests, not an error', async () => {
    const result = await app.client().request(Me);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: null });
  });

  it('logout ends the session, clears the cookie, and the old cookie no longer works', async () => {
    const client = await app.signedIn({ email: 'logout@example.com' });
    const oldCookie = client.cookies.get('sid')!;
    const result = await client.request(Logout);
    expect(result.data?.logout).toEqual({ message: 'Successfully logged out' });
    expect(result.headers.getSetCookie().join()).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
    expect(client.cookies.has('sid')).toBe(false);

    const replay = app.client();
    replay.cookies.set('sid', oldCookie);
    expect((await replay.request(Me)).data?.me).toBeNull();
    const again = await replay.request(Logout);
    expect(again.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('logout without a session is UNAUTHENTICATED', async () => {
    const result = await app.client().request(Logout);
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('stores sessions under a hash of their id, with user agent and IP', async () => {
    const { id, email } = await app.createUser({ email: 'session-row@example.com' });
    const client = app.client({ 'user-agent': 'vitest-agent/1.0' });
    await client.login(email, TEST_PASSWORD);
    const sid = decodeURIComponent(client.cookies.get('sid')!).slice(2).split('.')[0]!;
    const rows = await app.services.prisma.session.findMany({ where: { userId: id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).not.toContain(sid);
    expect(rows[0]).toMatchObject({ userAgent: 'vitest-agent/1.0', ipAddress: '127.0.0.1' });
    expect(rows[0]!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 13 * 24 * 3600_000);
  });
});
