import fs from 'node:fs';
import path from 'node:path';
import { Secret, TOTP } from 'otpauth';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TEST_PASSWORD, TestClient } from './helpers/app.ts';
import { freshDatabase, testServerUrl } from './helpers/databases.ts';
import { ServerProcesses, type RunningServer } from './helpers/server.ts';
import { Login, Logout, LogoutEverywhere, Register } from './operations/auth.ts';
import { ConfirmTotpSetup, StartTotpSetup, VerifySecondFactor } from './operations/secondFactor.ts';
import { meOf, tokenPairOf } from './helpers/actors.ts';
import { MySessions, RevokeSession } from './operations/account.ts';
import { RefreshTokenPair } from './operations/tokens.ts';
import { UpdateUser } from './operations/users.ts';

const SECRET = 'instances-test-secret-0123456789abcdef';
const JWT_SECRET = 'instances-test-jwt-secret-0123456789abcdef';
const CONCURRENT_REGISTRATIONS = 50;

const servers = new ServerProcesses();
let database: Awaited<ReturnType<typeof freshDatabase>>;
let db: pg.Client;
let a: RunningServer;
let b: RunningServer;

// Every client comes from its own address (TRUST_PROXY=1 reads X-Forwarded-For): the shared
// per-IP limits would otherwise refuse this file's many sign-ins from 127.0.0.1.
let addresses = 0;
function nextAddress(): string {
  addresses++;
  return `10.77.${addresses >> 8}.${addresses & 255}`;
}

function client(server: RunningServer, headers: Record<string, string> = {}): TestClient {
  return new TestClient(server.url, { 'x-forwarded-for': nextAddress(), ...headers });
}

/** The same browser (cookies and address) talking to another instance. */
function sameBrowserOn(server: RunningServer, browser: TestClient): TestClient {
  const moved = new TestClient(server.url, browser.headers);
  for (const [name, value] of browser.cookies) moved.cookies.set(name, value);
  return moved;
}

let users = 0;
async function registerUser(server: RunningServer, prefix: string): Promise<{ id: string; email: string }> {
  const email = `${prefix}${++users}@example.com`;
  const result = await client(server).request(Register, { input: { email, password: TEST_PASSWORD } });
  const register = result.data?.register;
  if (register?.__typename !== 'User') throw new Error(`register ${email}: ${JSON.stringify(result)}`);
  return { id: register.id, email };
}

function obtainTokens(server: RunningServer, email: string) {
  return tokenPairOf(client(server), email);
}

const TITLE = 'two server processes sharing one PostgreSQL';

(testServerUrl ? describe : describe.skip)(
  testServerUrl ? TITLE : `${TITLE} — skipped: PostgreSQL only, set TEST_DATABASE_URL to run it`,
  () => {
    beforeAll(async () => {
      database = await freshDatabase(inject('templateDatabase'));
      db = new pg.Client({ connectionString: database.url });
      await db.connect();
      const dataDir = (name: string) => {
        const dir = path.join(database.dir, name);
        fs.mkdirSync(dir);
        return dir;
      };
      const env = (name: string) => ({
        ...database.env,
        SESSION_SECRET: SECRET,
        JWT_SECRET,
        // The same key everywhere, so that a TOTP secret set up through one instance opens on the other.
        TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
        LOG_LEVEL: 'warn',
        BCRYPT_COST: '10',
        RATE_LIMITS: 'on',
        TRUST_PROXY: '1',
        // As behind a proxy with many clients: only the failure limits hold back parallel guesses.
        RATE_LIMIT_IP_ATTEMPTS: '1000/60',
        HASH_QUEUE_MAX_WAIT_SECONDS: '600',
        DATA_DIR: dataDir(name),
      });
      // Both at once, as a deploy would: each runs `prisma migrate deploy` (advisory-locked) first.
      [a, b] = await Promise.all([servers.start(env('a')), servers.start(env('b'))]);
    }, 150_000);

    afterAll(async () => {
      await servers.killAll();
      await db?.end().catch(() => undefined);
      await database?.drop();
    });

    it('a cookie session started through A works on B', async () => {
      const { id, email } = await registerUser(a, 'shared');
      const onA = client(a);
      await onA.login(email, TEST_PASSWORD);
      expect(onA.cookies.has('sid')).toBe(true);
      const onB = sameBrowserOn(b, onA);

      expect(await meOf(onB)).toMatchObject({ id, email });
      expect(await meOf(onA)).toMatchObject({ id, email });
    });

    it('logoutEverywhere through A ends the session on B at once', async () => {
      const { id, email } = await registerUser(a, 'everywhere');
      const browserOnA = client(a);
      await browserOnA.login(email, TEST_PASSWORD);
      const otherBrowserOnB = client(b);
      await otherBrowserOnB.login(email, TEST_PASSWORD);
      // A copy of A's cookie, kept although A's answer to the logout tells the browser to drop it.
      const replayedOnB = sameBrowserOn(b, browserOnA);
      expect(await meOf(replayedOnB)).toMatchObject({ id, email });
      expect(await meOf(otherBrowserOnB)).toMatchObject({ id, email });

      const result = await browserOnA.request(LogoutEverywhere);
      expect(result.errors).toBeUndefined();

      expect(await meOf(otherBrowserOnB)).toBeNull();
      expect(await meOf(replayedOnB)).toBeNull();
    });

    it('revokeSession through A ends a session used on B', async () => {
      const { id, email } = await registerUser(a, 'revoke');
      const onA = client(a);
      await onA.login(email, TEST_PASSWORD);
      const onB = client(b);
      await onB.login(email, TEST_PASSWORD);
      expect(await meOf(onB)).toMatchObject({ id, email });

      const sessions = await onA.request(MySessions);
      expect(sessions.errors).toBeUndefined();
      expect(sessions.data?.mySessions).toHaveLength(2);
      const other = sessions.data!.mySessions.find((session) => !session.current)!;
      const revoked = await onA.request(RevokeSession, { id: other.id });
      expect(revoked).toMatchObject({ data: { revokeSession: true } });

      expect(await meOf(onB)).toBeNull();
      expect(await meOf(onA)).toMatchObject({ id, email });
    });

    it('deactivating a user through A ends their cookie sessions and token sign-ins on B', async () => {
      const staff = await registerUser(a, 'staff');
      await db.query('UPDATE "User" SET "isStaff" = true WHERE "email" = $1', [staff.email]);
      const admin = client(a);
      await admin.login(staff.email, TEST_PASSWORD);

      const target = await registerUser(a, 'deactivated');
      const browserOnB = client(b);
      await browserOnB.login(target.email, TEST_PASSWORD);
      const { accessToken } = await obtainTokens(b, target.email);
      const appOnB = client(b, { authorization: `Bearer ${accessToken}` });
      expect(await meOf(browserOnB)).toMatchObject(target);
      expect(await meOf(appOnB)).toMatchObject(target);

      const deactivated = await admin.request(UpdateUser, { id: target.id, input: { isActive: false } });
      expect(deactivated).toMatchObject({ data: { updateUser: { __typename: 'User', id: target.id, isActive: false } } });
      expect(await meOf(browserOnB)).toBeNull();
      expect(await meOf(appOnB)).toBeNull();

      // Ended, not merely hidden while inactive: reactivation brings neither back.
      const reactivated = await admin.request(UpdateUser, { id: target.id, input: { isActive: true } });
      expect(reactivated).toMatchObject({ data: { updateUser: { __typename: 'User', isActive: true } } });
      expect(await meOf(browserOnB)).toBeNull();
      expect(await meOf(appOnB)).toBeNull();
      const { rows } = await db.query(
        `SELECT (SELECT count(*)::int FROM "Session" WHERE "userId" = $1) AS sessions,
                (SELECT count(*)::int FROM "TokenFamily" WHERE "userId" = $1) AS families`,
        [Number(target.id)],
      );
      expect(rows[0]).toEqual({ sessions: 0, families: 0 });
    });

    it('a bearer token obtained on A works on B, and stops working on B after logout on A', async () => {
      const { id, email } = await registerUser(a, 'bearer');
      const { accessToken, refreshToken } = await obtainTokens(a, email);
      const appOnA = client(a, { authorization: `Bearer ${accessToken}` });
      const appOnB = client(b, { authorization: `Bearer ${accessToken}` });
      expect(await meOf(appOnB)).toMatchObject({ id, email });

      const loggedOut = await appOnA.request(Logout);
      expect(loggedOut.errors).toBeUndefined();

      expect(await meOf(appOnB)).toBeNull();
      const refreshed = await client(b).request(RefreshTokenPair, { refreshToken });
      expect(refreshed).toMatchObject({ data: { refreshTokens: { __typename: 'InvalidTokenError' } } });
    });

    it('failed sign-ins counted through A rate-limit the next attempt on B', async () => {
      const { email } = await registerUser(a, 'limited');
      const attacker = { 'x-forwarded-for': '203.0.113.45' };
      for (let attempt = 1; attempt <= 5; attempt++) {
        const result = await new TestClient(a.url, attacker).request(Login, { input: { email, password: `wrong-${attempt}` } });
        expect(result).toMatchObject({ status: 200, data: { login: { __typename: 'InvalidCredentialsError' } } });
      }

      // Refused before the password is checked, so even the right one is turned away.
      const sixth = await new TestClient(b.url, attacker).request(Login, { input: { email, password: TEST_PASSWORD } });
      expect(sixth.data?.login ?? null).toBeNull();
      expect(sixth.errors).toHaveLength(1);
      expect(sixth.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
      expect(sixth.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);

      // The limit is this email from this address: the owner elsewhere still signs in, on either instance.
      await new TestClient(b.url, { 'x-forwarded-for': '203.0.113.46' }).login(email, TEST_PASSWORD);
    });

    it('50 guesses for one email sent at once over both check no more passwords than the limits allow', { timeout: 90_000 }, async () => {
      const { email } = await registerUser(a, 'parallel');
      const guess = (i: number, ip: string) =>
        new TestClient(i % 2 === 0 ? a.url : b.url, { 'x-forwarded-for': ip })
          .request(Login, { input: { email, password: `wrong-${i}` } })
          .then((result) => result.data?.login.__typename ?? result.errors?.[0]?.extensions?.code);
      const tally = (answers: unknown[]) => ({
        checked: answers.filter((answer) => answer === 'InvalidCredentialsError').length,
        refused: answers.filter((answer) => answer === 'RATE_LIMITED').length,
      });

      // One address: 5 failures per email and address.
      const oneAddress = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(i, '203.0.113.47')));
      expect(tally(oneAddress)).toEqual({ checked: 5, refused: 45 });
      // Many addresses: 20 failures per email in all (5 of them spent above).
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(i, nextAddress())));
      expect(tally(many)).toEqual({ checked: 15, refused: 35 });
      const { rows } = await db.query('SELECT count(*)::int AS count FROM "AuthEvent" WHERE "kind" = $1 AND "email" = $2', ['LOGIN_FAILED', email]);
      expect(rows[0]).toEqual({ count: 20 });
    });

    it('guesses from one address that its own limit turns away leave the owner, signing in elsewhere at the same time, unaffected', { timeout: 90_000 }, async () => {
      const { email } = await registerUser(a, 'crowded');
      const guesses = Array.from({ length: 50 }, (_, i) =>
        new TestClient(i % 2 === 0 ? a.url : b.url, { 'x-forwarded-for': '203.0.113.48' })
          .request(Login, { input: { email, password: `wrong-${i}` } })
          .then((result) => result.data?.login.__typename ?? result.errors?.[0]?.extensions?.code),
      );
      // Sent after the flood, so the 45 guesses refused for their address are counted first: none
      // of them holds a point of the 20 failures the account allows from all addresses.
      const owner = await new TestClient(b.url, { 'x-forwarded-for': '203.0.113.49' }).request(Login, { input: { email, password: TEST_PASSWORD } });
      expect({ login: owner.data?.login.__typename, errors: owner.errors }).toEqual({ login: 'User', errors: undefined });
      const answers = await Promise.all(guesses);
      expect(answers.filter((answer) => answer === 'InvalidCredentialsError')).toHaveLength(5);
      expect(answers.filter((answer) => answer === 'RATE_LIMITED')).toHaveLength(45);
    });

    it(`${CONCURRENT_REGISTRATIONS} concurrent registrations of one email over both give exactly one user`, { timeout: 60_000 }, async () => {
      const email = 'Race@Example.com';
      const results = await Promise.all(
        Array.from({ length: CONCURRENT_REGISTRATIONS }, (_, i) =>
          client(i % 2 === 0 ? a : b).request(Register, {
            // Case and spacing vary too: the address is one account however it is written.
            input: { email: i % 3 === 0 ? email : i % 3 === 1 ? email.toLowerCase() : ` ${email.toUpperCase()} `, password: TEST_PASSWORD },
          }),
        ),
      );

      for (const result of results) {
        expect({ status: result.status, errors: result.errors }).toEqual({ status: 200, errors: undefined });
      }
      const answers = results.map((result) => result.data!.register);
      const created = answers.filter((answer) => answer.__typename === 'User');
      const refused = answers.filter((answer) => answer.__typename === 'ValidationError');
      expect(created).toEqual([expect.objectContaining({ __typename: 'User', id: expect.any(String), email: 'race@example.com' })]);
      expect(refused).toHaveLength(CONCURRENT_REGISTRATIONS - 1);
      for (const answer of refused) {
        expect(answer).toEqual(
          expect.objectContaining({
            __typename: 'ValidationError',
            fieldErrors: [{ field: 'email', messages: ['A user with that email already exists.'] }],
          }),
        );
      }
      const { rows } = await db.query('SELECT count(*)::int AS count FROM "User" WHERE lower("email") = $1', ['race@example.com']);
      expect(rows[0]).toEqual({ count: 1 });
    });

    it('a second-factor challenge started on A completes on B, once', async () => {
      const { email } = await registerUser(a, 'two-step');
      const owner = client(a);
      await owner.login(email, TEST_PASSWORD);
      const setup = (await owner.request(StartTotpSetup)).data!.startTotpSetup;
      const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(setup.secret) });
      // Confirmed on B with the previous step's code, so the current one is still unused.
      const confirmed = await sameBrowserOn(b, owner).request(ConfirmTotpSetup, { code: totp.generate({ timestamp: Date.now() - 30_000 }) });
      expect(confirmed.data?.confirmTotpSetup.__typename).toBe('RecoveryCodes');

      const browser = client(a);
      const login = (await browser.request(Login, { input: { email, password: TEST_PASSWORD } })).data!.login;
      if (login.__typename !== 'SecondFactorRequired') throw new Error(`expected SecondFactorRequired, got ${login.__typename}`);
      expect(browser.cookies.has('sid')).toBe(false);
      const onB = sameBrowserOn(b, browser);
      const verified = await onB.request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode: totp.generate() } });
      expect(verified.data!.verifySecondFactor).toMatchObject({ __typename: 'User', email });
      expect(await meOf(sameBrowserOn(a, onB))).toMatchObject({ email });
      const again = await client(a).request(VerifySecondFactor, { input: { challenge: login.challenge, totpCode: totp.generate() } });
      expect(again.data!.verifySecondFactor.__typename).toBe('InvalidTokenError');
    });

    it('neither server logged an error', () => {
      for (const server of [a, b]) {
        expect(server.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
        expect(server.child.exitCode).toBeNull();
      }
    });
  },
);
