import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { freshDatabase, testServerUrl } from './helpers/databases.ts';
import { Login, Me, Register } from './operations/auth.ts';
import { CreateUser, UpdateUser, Users } from './operations/users.ts';
import { ObtainTokenPair } from './operations/tokens.ts';
import { withMigrationsBefore } from './helpers/migrations.ts';

const WRONG_PASSWORD = 'Not-The-Password-42';
const notVerified = { __typename: 'EmailNotVerifiedError', message: 'Verify your email address first: open the link we mailed you.' };
const invalidCredentials = { __typename: 'InvalidCredentialsError', message: 'Invalid credentials' };

describe('User.emailVerified', () => {
  let app: TestApp;
  let staff: TestClient;

  beforeAll(async () => {
    app = await startTestApp();
    staff = await app.signedIn({ email: 'staff@example.com', isStaff: true });
  });
  afterAll(() => app?.stop());

  it('is false after register, for the user and for staff', async () => {
    const registered = await app.client().request(Register, { input: { email: 'Fresh@Example.com', password: TEST_PASSWORD } });
    expect(registered.data?.register).toMatchObject({ __typename: 'User', email: 'fresh@example.com', emailVerified: false });

    // Enforcement is off by default: an unverified account signs in as before.
    const member = app.client();
    const login = await member.request(Login, { input: { email: 'fresh@example.com', password: TEST_PASSWORD } });
    expect(login.data?.login).toMatchObject({ __typename: 'User', emailVerified: false });
    expect((await member.request(Me)).data?.me).toMatchObject({ email: 'fresh@example.com', emailVerified: false });
    const tokens = await app.client().request(ObtainTokenPair, { input: { email: 'fresh@example.com', password: TEST_PASSWORD } });
    expect(tokens.data?.obtainTokens).toMatchObject({ __typename: 'TokenPair', user: { emailVerified: false } });
  });

  it('is set by staff in createUser (default false) and updateUser', async () => {
    const created = await staff.request(CreateUser, { input: { email: 'vouched@example.com', password: TEST_PASSWORD, emailVerified: true } });
    expect(created.data?.createUser).toMatchObject({ __typename: 'User', emailVerified: true });
    const plain = await staff.request(CreateUser, { input: { email: 'plain@example.com', password: TEST_PASSWORD } });
    expect(plain.data?.createUser).toMatchObject({ __typename: 'User', emailVerified: false });

    const id = (plain.data?.createUser as { id: string }).id;
    const verified = await staff.request(UpdateUser, { id, input: { emailVerified: true } });
    expect(verified.data?.updateUser).toMatchObject({ __typename: 'User', emailVerified: true });
    const names = await staff.request(UpdateUser, { id, input: { firstName: 'Plain' } });
    expect(names.data?.updateUser).toMatchObject({ emailVerified: true });
    const unverified = await staff.request(UpdateUser, { id, input: { emailVerified: false } });
    expect(unverified.data?.updateUser).toMatchObject({ emailVerified: false });
  });

  it('goes back to false when staff change the email, unless they vouch for the new one', async () => {
    const { id } = await app.createUser({ email: 'moving@example.com', emailVerified: true });
    const moved = await staff.request(UpdateUser, { id: String(id), input: { email: 'moved@example.com' } });
    expect(moved.data?.updateUser).toMatchObject({ email: 'moved@example.com', emailVerified: false });
    const vouched = await staff.request(UpdateUser, { id: String(id), input: { email: 'vouched-move@example.com', emailVerified: true } });
    expect(vouched.data?.updateUser).toMatchObject({ email: 'vouched-move@example.com', emailVerified: true });
    const same = await staff.request(UpdateUser, { id: String(id), input: { email: 'VOUCHED-MOVE@example.com' } });
    expect(same.data?.updateUser).toMatchObject({ email: 'vouched-move@example.com', emailVerified: true });
  });

  it('filters users(filter: { emailVerified }) and their totalCount', async () => {
    await app.createUser({ email: 'filter-yes@filter.test', emailVerified: true });
    await app.createUser({ email: 'filter-no-1@filter.test' });
    await app.createUser({ email: 'filter-no-2@filter.test' });
    const emails = async (emailVerified: boolean | null) => {
      const result = await staff.request(Users, { first: 100, filter: { search: 'filter.test', emailVerified } });
      expect(result.errors).toBeUndefined();
      const page = result.data!.users;
      expect(page.totalCount).toBe(page.edges.length);
      return page.edges.map((edge) => edge.node.email).sort();
    };
    expect(await emails(true)).toEqual(['filter-yes@filter.test']);
    expect(await emails(false)).toEqual(['filter-no-1@filter.test', 'filter-no-2@filter.test']);
    expect(await emails(null)).toHaveLength(3);
  });
});

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ REQUIRE_VERIFIED_EMAIL: 'true' });
  });
  afterAll(() => app?.stop());

  async function signInsOf(userId: number) {
    const [sessions, families] = await Promise.all([
      app.services.prisma.session.count({ where: { userId } }),
      app.services.prisma.tokenFamily.count({ where: { userId } }),
    ]);
    return { sessions, families };
  }

  it('answers a right password of an unverified account with EmailNotVerifiedError and starts no session', async () => {
    const user = await app.createUser({ email: 'unverified@example.com' });
    const browser = app.client();
    const login = await browser.request(Login, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(login.errors).toBeUndefined();
    expect(login.data?.login).toEqual(notVerified);
    expect(login.headers.getSetCookie()).toEqual([]);
    expect(browser.cookies.size).toBe(0);
    expect((await browser.request(Me)).data?.me).toBeNull();

    const tokens = await app.client().request(ObtainTokenPair, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(tokens.errors).toBeUndefined();
    expect(tokens.data?.obtainTokens).toEqual(notVerified);
    expect(JSON.stringify(tokens)).not.toMatch(/accessToken|refreshToken/);

    expect(await signInsOf(user.id)).toEqual({ sessions: 0, families: 0 });
    const events = await app.services.prisma.authEvent.findMany({ where: { userId: user.id }, select: { kind: true, actorId: true } });
    expect(events).toEqual([
      { kind: 'LOGIN_FAILED', actorId: null },
      { kind: 'LOGIN_FAILED', actorId: null },
    ]);
  });

  it('still answers a wrong password with InvalidCredentialsError, so a guesser learns nothing', async () => {
    const user = await app.createUser({ email: 'unverified-guess@example.com' });
    for (const email of [user.email, 'nobody@example.com']) {
      const login = await app.client().request(Login, { input: { email, password: WRONG_PASSWORD } });
      expect(login.data?.login).toEqual(invalidCredentials);
      const tokens = await app.client().request(ObtainTokenPair, { input: { email, password: WRONG_PASSWORD } });
      expect(tokens.data?.obtainTokens).toEqual(invalidCredentials);
    }
    expect(await signInsOf(user.id)).toEqual({ sessions: 0, families: 0 });
  });

  it('signs in a verified account as usual', async () => {
    const user = await app.createUser({ email: 'verified@example.com', emailVerified: true });
    const browser = app.client();
    const login = await browser.request(Login, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(login.data?.login).toMatchObject({ __typename: 'User', emailVerified: true, lastLogin: expect.any(String) });
    expect((await browser.request(Me)).data?.me).toMatchObject({ email: user.email });
    const tokens = await app.client().request(ObtainTokenPair, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(tokens.data?.obtainTokens).toMatchObject({ __typename: 'TokenPair', user: { emailVerified: true } });
    expect(await signInsOf(user.id)).toMatchObject({ sessions: 1, families: 1 });
  });

  it('lets in an account as soon as staff verify it', async () => {
    const staff = await app.createUser({ email: 'boss@example.com', isStaff: true, emailVerified: true });
    const admin = app.client();
    await admin.login(staff.email, TEST_PASSWORD);
    const user = await app.createUser({ email: 'later@example.com' });
    const input = { email: user.email, password: TEST_PASSWORD };
    expect((await app.client().request(Login, { input })).data?.login).toEqual(notVerified);
    await admin.request(UpdateUser, { id: String(user.id), input: { emailVerified: true } });
    expect((await app.client().request(Login, { input })).data?.login).toMatchObject({ __typename: 'User' });
  });
});

describe('configuration', () => {
  const env = { DATA_DIR: os.tmpdir(), SESSION_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };

  it('reads REQUIRE_VERIFIED_EMAIL (off by default) and EMAIL_VERIFICATION_URL, refusing what they cannot mean', () => {
    expect(loadConfig(env)).toMatchObject({ requireVerifiedEmail: false, emailVerificationUrl: 'http://localhost:3000/verify-email?token={token}' });
    expect(loadConfig({ ...env, REQUIRE_VERIFIED_EMAIL: 'true' }).requireVerifiedEmail).toBe(true);
    expect(loadConfig({ ...env, REQUIRE_VERIFIED_EMAIL: 'false' }).requireVerifiedEmail).toBe(false);
    expect(() => loadConfig({ ...env, REQUIRE_VERIFIED_EMAIL: 'sometimes' })).toThrow(/REQUIRE_VERIFIED_EMAIL must be true or false/);
    expect(loadConfig({ ...env, EMAIL_VERIFICATION_URL: 'https://app.example/v/{token}' }).emailVerificationUrl).toBe('https://app.example/v/{token}');
    expect(() => loadConfig({ ...env, EMAIL_VERIFICATION_URL: 'https://app.example/verify' })).toThrow(ConfigError);
  });
});

describe('npm run create-admin', () => {
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const run = promisify(execFile);

  it('makes staff who count as verified, also when it promotes an existing account', async () => {
    const database = await freshDatabase(inject('templateDatabase'));
    try {
      const env = { ...process.env, DATABASE_URL: database.url, DATA_DIR: database.dir, BCRYPT_COST: '10' };
      const admin = (email: string) =>
        run(process.execPath, [tsxCli, 'scripts/create-admin.ts', '--email', email, '--password', TEST_PASSWORD], { env });
      const setup = await startTestApp({ DATABASE_URL: database.url });
      await setup.createUser({ email: 'promoted@example.com' });
      await setup.stop();
      await admin('first-admin@example.com');
      await admin('promoted@example.com');

      const served = await startTestApp({ DATABASE_URL: database.url, REQUIRE_VERIFIED_EMAIL: 'true' });
      try {
        for (const email of ['first-admin@example.com', 'promoted@example.com']) {
          const login = await served.client().request(Login, { input: { email, password: TEST_PASSWORD } });
          expect(login.data?.login, email).toMatchObject({ __typename: 'User', email, emailVerified: true });
        }
      } finally {
        await served.stop();
      }
    } finally {
      await database.drop();
    }
    // Two service starts and two script runs, each applying migrations: slow on a busy machine.
  }, 120_000);
});

describe('the migrations of verified email', () => {
  it('marks the accounts that existed as verified; new ones start unverified', async () => {
    await withMigrationsBefore('email_verified', async (db, migration) => {
      await db.exec(`INSERT INTO "User" ("email", "passwordHash") VALUES ('old@example.com', 'x')`);
      await db.exec(migration);
      await db.exec(`INSERT INTO "User" ("email", "passwordHash") VALUES ('new@example.com', 'x')`);
      const rows = await db.query(`SELECT "email", "emailVerified" FROM "User" ORDER BY "email"`);
      expect(rows.map((row) => ({ email: row.email, emailVerified: Boolean(row.emailVerified) }))).toEqual([
        { email: 'new@example.com', emailVerified: false },
        { email: 'old@example.com', emailVerified: true },
      ]);
    });
  });

  it('keeps pending password reset links working in the shared token table', async () => {
    await withMigrationsBefore('email_tokens', async (db, migration) => {
      await db.exec(`INSERT INTO "User" ("id", "email", "passwordHash") VALUES (7, 'pending@example.com', 'x')`);
      await db.exec(`INSERT INTO "PasswordResetToken" ("id", "userId", "expiresAt") VALUES ('stored-hash', 7, CURRENT_TIMESTAMP)`);
      await db.exec(migration);
      const rows = await db.query(`SELECT "id", "userId", "purpose", "email" FROM "EmailToken"`);
      expect(rows.map((row) => ({ ...row, userId: Number(row.userId) }))).toEqual([
        { id: 'stored-hash', userId: 7, purpose: 'PASSWORD_RESET', email: 'pending@example.com' },
      ]);
    });
  });
});
