import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './helpers/app.ts';
import { Login, LogoutEverywhere, Me } from './operations/auth.ts';
import { browserOf, loginOutcome, meOf, tokenClient } from './helpers/actors.ts';
import { ChangePassword, MySessions, RevokeSession, UpdateMe } from './operations/account.ts';
import { ObtainTokenPair, RefreshTokenPair } from './operations/tokens.ts';

const NEW_PASSWORD = 'Plaid-Otter-Umbrella-47';
const HASH_MARKERS = ['$2a$', '$2b$', '$2y$', 'passwordHash'];
const IP_ADDRESS = /^(::ffff:)?127\.0\.0\.1$/;

let app: TestApp;
const responses: string[] = [];

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

function record<T>(result: T): T {
  const text = JSON.stringify(result);
  responses.push(text);
  for (const marker of HASH_MARKERS) expect(text).not.toContain(marker);
  return result;
}

/** A client whose every response is recorded and checked for password hashes. */
function client(headers: Record<string, string> = {}): TestClient {
  const created = app.client(headers);
  const request = created.request.bind(created);
  const raw = created.raw.bind(created);
  created.request = (async (...args: Parameters<typeof request>) => record(await request(...args))) as typeof request;
  created.raw = async (...args) => record(await raw(...args));
  return created;
}

let counter = 0;
async function newUser(label: string, fields: { firstName?: string; lastName?: string; isStaff?: boolean } = {}) {
  counter += 1;
  return app.createUser({ email: `${label}-${counter}@example.com`, ...fields });
}

async function cookieClient(email: string, userAgent = 'Browser/1.0', password = TEST_PASSWORD): Promise<TestClient> {
  return browserOf({ client }, email, password, { 'user-agent': userAgent });
}

interface TokenSignIn {
  accessToken: string;
  refreshToken: string;
  bearer: TestClient;
}

async function tokenSignIn(email: string, userAgent = 'App/1.0'): Promise<TokenSignIn> {
  const result = await client({ 'user-agent': userAgent }).request(ObtainTokenPair, { input: { email, password: TEST_PASSWORD } });
  const pair = result.data?.obtainTokens;
  if (pair?.__typename !== 'TokenPair') throw new Error(`obtainTokens failed for ${email}`);
  return { accessToken: pair.accessToken, refreshToken: pair.refreshToken, bearer: tokenClient({ client }, pair.accessToken) };
}

async function sessionsOf(signedIn: TestClient) {
  const result = await signedIn.request(MySessions);
  expect(result.errors).toBeUndefined();
  return result.data!.mySessions;
}

async function refreshOutcome(refreshToken: string) {
  return (await client().request(RefreshTokenPair, { refreshToken })).data?.refreshTokens.__typename;
}

async function liveCounts(userId: number) {
  const { prisma } = app.services;
  const [sessions, families] = await Promise.all([
    prisma.session.count({ where: { userId, expiresAt: { gt: new Date() } } }),
    prisma.tokenFamily.count({ where: { userId, expiresAt: { gt: new Date() } } }),
  ]);
  return { sessions, families };
}

async function storedUser(id: number) {
  return app.services.prisma.user.findUniqueOrThrow({ where: { id } });
}

async function storedHash(id: number): Promise<string> {
  const { passwordHash } = await app.services.prisma.user.findUniqueOrThrow({ where: { id }, select: { passwordHash: true } });
  expect(passwordHash).toMatch(/^\$2[aby]\$/);
  return passwordHash;
}

function rawSessionId(cookie: string): string {
  return decodeURIComponent(cookie).slice(2).split('.')[0]!;
}

describe('anonymous clients', () => {
  const fields = [
    ['mySessions', () => client().request(MySessions)],
    ['updateMe', () => client().request(UpdateMe, { input: { firstName: 'Anon' } })],
    ['changePassword', () => client().request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } })],
    ['revokeSession', () => client().request(RevokeSession, { id: 'c_anything' })],
    ['logoutEverywhere', () => client().request(LogoutEverywhere)],
  ] as const;

  it.each(fields)('%s is UNAUTHENTICATED', async (_field, send) => {
    const result = await send();
    expect(result.data).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('an invalid bearer token is UNAUTHENTICATED, even alongside a valid cookie', async () => {
    const { email } = await newUser('bad-bearer');
    const signedIn = await cookieClient(email);
    const forged = client({ authorization: 'Bearer not-a-jwt' });
    forged.cookies.set('sid', signedIn.cookies.get('sid')!);
    const result = await forged.request(MySessions);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('updateMe', () => {
  it('changes both names, trimmed, and returns the user', async () => {
    const user = await newUser('names', { firstName: 'Old', lastName: 'Name' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: '  Ada ', lastName: '\tLovelace  ' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.updateMe).toEqual({
      __typename: 'User',
      id: expect.any(String),
      email: user.email,
      firstName: 'Ada',
      lastName: 'Lovelace',
      isStaff: false,
      isActive: true,
      dateJoined: expect.any(String),
      lastLogin: expect.any(String),
    });
    expect(await meOf(signedIn)).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
  });

  it('is partial: an omitted name keeps its value', async () => {
    const user = await newUser('partial', { firstName: 'Grace', lastName: 'Murray' });
    const signedIn = await cookieClient(user.email);
    const last = await signedIn.request(UpdateMe, { input: { lastName: 'Hopper' } });
    expect(last.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'Grace', lastName: 'Hopper' });
    const first = await signedIn.request(UpdateMe, { input: { firstName: 'G.' } });
    expect(first.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'G.', lastName: 'Hopper' });
    const none = await signedIn.request(UpdateMe, { input: {} });
    expect(none.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'G.', lastName: 'Hopper' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'G.', lastName: 'Hopper' });
  });

  it('works through a bearer token too', async () => {
    const user = await newUser('bearer-names');
    const { bearer } = await tokenSignIn(user.email);
    const result = await bearer.request(UpdateMe, { input: { firstName: 'Token' } });
    expect(result.data?.updateMe).toMatchObject({ __typename: 'User', firstName: 'Token' });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Token' });
  });

  it('accepts 150 characters after trimming', async () => {
    const user = await newUser('long-ok');
    const signedIn = await cookieClient(user.email);
    const name = 'n'.repeat(150);
    const result = await signedIn.request(UpdateMe, { input: { firstName: ` ${name} ` } });
    expect(result.data?.updateMe).toMatchObject({ __typename: 'User', firstName: name });
  });

  it('counts characters, not UTF-16 code units, against the 150 limit', async () => {
    const user = await newUser('long-astral', { firstName: 'Before' });
    const signedIn = await cookieClient(user.email);
    const name = '𠮷'.repeat(150);
    const accepted = await signedIn.request(UpdateMe, { input: { firstName: name } });
    expect(accepted.data?.updateMe).toMatchObject({ __typename: 'User', firstName: name });
    const refused = await signedIn.request(UpdateMe, { input: { firstName: `${name}𠮷` } });
    expect(refused.data?.updateMe).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'firstName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
  });

  it('refuses a first name over 150 characters on field firstName and changes nothing', async () => {
    const user = await newUser('long-first', { firstName: 'Keep', lastName: 'Me' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: 'f'.repeat(151), lastName: 'Changed' } });
    expect(result.data?.updateMe).toEqual({
      __typename: 'ValidationError',
      message: expect.any(String),
      fieldErrors: [{ field: 'firstName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'Keep', lastName: 'Me' });
  });

  it('refuses a last name over 150 characters on field lastName', async () => {
    const user = await newUser('long-last', { lastName: 'Kept' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { lastName: 'l'.repeat(151) } });
    expect(result.data?.updateMe).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'lastName', messages: ['Ensure this value has at most 150 characters.'] }],
    });
    expect(await storedUser(user.id)).toMatchObject({ lastName: 'Kept' });
  });

  it('reports both names at once when both are too long', async () => {
    const user = await newUser('long-both', { firstName: 'A', lastName: 'B' });
    const signedIn = await cookieClient(user.email);
    const result = await signedIn.request(UpdateMe, { input: { firstName: 'f'.repeat(200), lastName: 'l'.repeat(151) } });
    const updateMe = result.data?.updateMe;
    expect(updateMe?.__typename).toBe('ValidationError');
    const fieldErrors = updateMe?.__typename === 'ValidationError' ? updateMe.fieldErrors : [];
    expect(Object.fromEntries(fieldErrors.map((error) => [error.field, error.messages]))).toEqual({
      firstName: ['Ensure this value has at most 150 characters.'],
      lastName: ['Ensure this value has at most 150 characters.'],
    });
    expect(await storedUser(user.id)).toMatchObject({ firstName: 'A', lastName: 'B' });
  });

  it.each([
    ['isStaff', 'true'],
    ['isActive', 'false'],
  ])('rejects %s in the input as a document and as a variable, leaving the row unchanged', async (field, value) => {
    const user = await newUser(`self-${field}`, { firstName: 'Same' });
    const signedIn = await cookieClient(user.email);
    const before = await storedUser(user.id);

    const inline = await signedIn.raw(`mutation { updateMe(input: { firstName: "Changed", ${field}: ${value} }) { __typename } }`);
    expect(inline.data).toBeUndefined();
    expect(inline.errors?.[0]?.message).toContain(field);

    const variables = await signedIn.raw(
      'mutation AccountUpdateMeRaw($input: UpdateMeInput!) { updateMe(input: $input) { __typename } }',
      { input: { firstName: 'Changed', [field]: JSON.parse(value) } },
    );
    expect(variables.data).toBeUndefined();
    expect(variables.errors?.[0]?.message).toContain(field);

    expect(await storedUser(user.id)).toEqual(before);
    expect(before).toMatchObject({ isStaff: false, isActive: true, firstName: 'Same' });
  });
});

describe('mySessions', () => {
  let alice: { id: number; email: string };
  let bob: { id: number; email: string };
  let browserOne: TestClient;
  let browserTwo: TestClient;
  let aliceTokens: TokenSignIn;
  let bobBrowser: TestClient;
  let bobTokens: TokenSignIn;

  beforeAll(async () => {
    alice = await newUser('sessions-alice');
    bob = await newUser('sessions-bob');
    browserOne = await cookieClient(alice.email, 'Browser-One/1.0');
    browserTwo = await cookieClient(alice.email, 'Browser-Two/2.0');
    aliceTokens = await tokenSignIn(alice.email, 'Alice-App/3.0');
    bobBrowser = await cookieClient(bob.email, 'Bob-Browser/1.0');
    bobTokens = await tokenSignIn(bob.email, 'Bob-App/1.0');
  });

  it('lists every live cookie session and token sign-in with its details', async () => {
    const started = Date.now();
    const sessions = await sessionsOf(browserOne);
    expect(sessions).toHaveLength(3);
    expect(sessions.map((session) => session.userAgent).sort()).toEqual(['Alice-App/3.0', 'Browser-One/1.0', 'Browser-Two/2.0']);
    for (const session of sessions) {
      expect(session.ipAddress).toMatch(IP_ADDRESS);
      const createdAt = Date.parse(session.createdAt);
      const lastSeenAt = Date.parse(session.lastSeenAt);
      const expiresAt = Date.parse(session.expiresAt);
      expect(started - createdAt).toBeLessThan(60_000);
      expect(createdAt).toBeLessThanOrEqual(Date.now());
      expect(lastSeenAt).toBeGreaterThanOrEqual(createdAt);
      expect(lastSeenAt).toBeLessThanOrEqual(Date.now());
      expect(expiresAt).toBeGreaterThan(Date.now() + 24 * 3600_000);
    }
  });

  it('marks exactly the calling cookie session as current', async () => {
    for (const [caller, userAgent] of [
      [browserOne, 'Browser-One/1.0'],
      [browserTwo, 'Browser-Two/2.0'],
    ] as const) {
      const current = (await sessionsOf(caller)).filter((session) => session.current);
      expect(current).toHaveLength(1);
      expect(current[0]!.userAgent).toBe(userAgent);
    }
  });

  it('marks exactly the calling token sign-in as current', async () => {
    const sessions = await sessionsOf(aliceTokens.bearer);
    expect(sessions).toHaveLength(3);
    const current = sessions.filter((session) => session.current);
    expect(current).toHaveLength(1);
    expect(current[0]!.userAgent).toBe('Alice-App/3.0');
  });

  it('never lists another user’s sessions', async () => {
    const aliceIds = (await sessionsOf(browserOne)).map((session) => session.id);
    const bobSessions = await sessionsOf(bobBrowser);
    expect(bobSessions.map((session) => session.userAgent).sort()).toEqual(['Bob-App/1.0', 'Bob-Browser/1.0']);
    for (const session of bobSessions) expect(aliceIds).not.toContain(session.id);
    expect((await sessionsOf(bobTokens.bearer)).map((session) => session.id).sort()).toEqual(bobSessions.map((s) => s.id).sort());
  });

  it('gives distinct opaque ids that reveal no cookie or token', async () => {
    const sessions = await sessionsOf(browserOne);
    const ids = sessions.map((session) => session.id);
    expect(new Set(ids).size).toBe(ids.length);
    const secrets = [browserOne, browserTwo].flatMap((signedIn) => {
      const cookie = signedIn.cookies.get('sid')!;
      return [cookie, decodeURIComponent(cookie), rawSessionId(cookie)];
    });
    secrets.push(aliceTokens.accessToken, aliceTokens.refreshToken);
    for (const id of ids) {
      expect(id.length).toBeGreaterThan(0);
      for (const secret of secrets) {
        expect(id).not.toBe(secret);
        expect(id).not.toContain(secret);
      }
    }
  });

  it('leaves out expired sessions and token sign-ins', async () => {
    const user = await newUser('sessions-expired');
    const live = await cookieClient(user.email, 'Live/1.0');
    await cookieClient(user.email, 'Expired-Browser/1.0');
    await tokenSignIn(user.email, 'Expired-App/1.0');
    await tokenSignIn(user.email, 'Live-App/1.0');
    const past = new Date(Date.now() - 1_000);
    const { prisma } = app.services;
    await prisma.session.updateMany({ where: { userId: user.id, userAgent: 'Expired-Browser/1.0' }, data: { expiresAt: past } });
    await prisma.tokenFamily.updateMany({ where: { userId: user.id, userAgent: 'Expired-App/1.0' }, data: { expiresAt: past } });
    const sessions = await sessionsOf(live);
    expect(sessions.map((session) => session.userAgent).sort()).toEqual(['Live-App/1.0', 'Live/1.0']);
  });

  it('drops a session once it has logged out', async () => {
    const { email } = await newUser('sessions-logout');
    const staying = await cookieClient(email, 'Staying/1.0');
    const leaving = await cookieClient(email, 'Leaving/1.0');
    expect(await sessionsOf(staying)).toHaveLength(2);
    await leaving.raw('mutation { logout { message } }');
    const sessions = await sessionsOf(staying);
    expect(sessions.map((session) => session.userAgent)).toEqual(['Staying/1.0']);
  });
});

describe('revokeSession', () => {
  async function sessionId(viewer: TestClient, userAgent: string): Promise<string> {
    const session = (await sessionsOf(viewer)).find((candidate) => candidate.userAgent === userAgent);
    if (!session) throw new Error(`no session with user agent ${userAgent}`);
    return session.id;
  }

  it('ends another cookie session of the caller and only that one', async () => {
    const user = await newUser('revoke-cookie');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const target = await cookieClient(user.email, 'Target/1.0');
    const bystander = await cookieClient(user.email, 'Bystander/1.0');
    const id = await sessionId(caller, 'Target/1.0');

    const result = await caller.request(RevokeSession, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data?.revokeSession).toBe(true);
    expect(await meOf(target)).toBeNull();
    expect(await meOf(caller)).toMatchObject({ email: user.email });
    expect(await meOf(bystander)).toMatchObject({ email: user.email });
    expect((await sessionsOf(caller)).map((session) => session.id)).not.toContain(id);
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 0 });

    expect((await caller.request(RevokeSession, { id })).data?.revokeSession).toBe(false);
  });

  it('ends the caller’s own current cookie session', async () => {
    const user = await newUser('revoke-self');
    const caller = await cookieClient(user.email, 'Self/1.0');
    const id = (await sessionsOf(caller)).find((session) => session.current)!.id;
    expect((await caller.request(RevokeSession, { id })).data?.revokeSession).toBe(true);
    expect(await meOf(caller)).toBeNull();
    expect(await liveCounts(user.id)).toEqual({ sessions: 0, families: 0 });
  });

  it('ends a token sign-in: its access token stops working and its refresh token is invalid', async () => {
    const user = await newUser('revoke-token');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const app1 = await tokenSignIn(user.email, 'Revoked-App/1.0');
    const app2 = await tokenSignIn(user.email, 'Kept-App/1.0');
    expect(await meOf(app1.bearer)).toMatchObject({ email: user.email });
    const id = await sessionId(caller, 'Revoked-App/1.0');

    expect((await caller.request(RevokeSession, { id })).data?.revokeSession).toBe(true);
    expect(await meOf(app1.bearer)).toBeNull();
    expect((await app1.bearer.request(MySessions)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await refreshOutcome(app1.refreshToken)).toBe('InvalidTokenError');
    expect(await meOf(app2.bearer)).toMatchObject({ email: user.email });
    expect(await refreshOutcome(app2.refreshToken)).toBe('TokenPair');
    expect(await meOf(caller)).toMatchObject({ email: user.email });
  });

  it('a bearer client can end a cookie session', async () => {
    const user = await newUser('revoke-from-token');
    const browser = await cookieClient(user.email, 'Browser/9.0');
    const { bearer } = await tokenSignIn(user.email);
    const id = await sessionId(bearer, 'Browser/9.0');
    expect((await bearer.request(RevokeSession, { id })).data?.revokeSession).toBe(true);
    expect(await meOf(browser)).toBeNull();
    expect(await meOf(bearer)).toMatchObject({ email: user.email });
  });

  it('answers false for another user’s sessions and ends nothing', async () => {
    const victim = await newUser('revoke-victim');
    const attacker = await newUser('revoke-attacker');
    const victimBrowser = await cookieClient(victim.email, 'Victim-Browser/1.0');
    const victimApp = await tokenSignIn(victim.email, 'Victim-App/1.0');
    const caller = await cookieClient(attacker.email, 'Attacker/1.0');
    const victimIds = (await sessionsOf(victimBrowser)).map((session) => session.id);
    expect(victimIds).toHaveLength(2);

    for (const id of victimIds) {
      const result = await caller.request(RevokeSession, { id });
      expect(result.errors).toBeUndefined();
      expect(result.data?.revokeSession).toBe(false);
    }
    expect(await liveCounts(victim.id)).toEqual({ sessions: 1, families: 1 });
    expect(await meOf(victimBrowser)).toMatchObject({ email: victim.email });
    expect(await meOf(victimApp.bearer)).toMatchObject({ email: victim.email });
    expect(await refreshOutcome(victimApp.refreshToken)).toBe('TokenPair');
    expect(await meOf(caller)).toMatchObject({ email: attacker.email });
  });

  it('answers false for ids it never gave out and ends nothing', async () => {
    const user = await newUser('revoke-garbage');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    await tokenSignIn(user.email);
    const cookie = caller.cookies.get('sid')!;
    const [real] = await sessionsOf(caller);
    const garbage = [
      'garbage',
      '',
      '1',
      'c_',
      't_',
      'c_' + 'x'.repeat(64),
      't_' + 'y'.repeat(24),
      cookie,
      'c_' + rawSessionId(cookie),
      real!.id.slice(2),
      real!.id + 'x',
      '%',
      'c_%',
      "c_' OR 1=1 --",
    ];
    for (const id of garbage) {
      const result = await caller.request(RevokeSession, { id });
      expect(result.errors, id).toBeUndefined();
      expect(result.data?.revokeSession, id).toBe(false);
    }
    expect(await liveCounts(user.id)).toEqual({ sessions: 1, families: 1 });
    expect(await meOf(caller)).toMatchObject({ email: user.email });
  });
});

describe('logoutEverywhere', () => {
  it('ends every cookie session and token sign-in of the caller, clears the cookie, and spares other users', async () => {
    const user = await newUser('everywhere');
    const other = await newUser('everywhere-other');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const otherBrowser = await cookieClient(user.email, 'Other-Browser/1.0');
    const app1 = await tokenSignIn(user.email, 'App-One/1.0');
    const app2 = await tokenSignIn(user.email, 'App-Two/1.0');
    const bystanderBrowser = await cookieClient(other.email);
    const bystanderApp = await tokenSignIn(other.email);
    const oldCookie = caller.cookies.get('sid')!;
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 2 });

    const result = await caller.request(LogoutEverywhere);
    expect(result.errors).toBeUndefined();
    expect(result.data?.logoutEverywhere).toEqual({ message: 'Successfully logged out' });
    expect(result.headers.getSetCookie().join()).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
    expect(caller.cookies.has('sid')).toBe(false);

    const replay = client();
    replay.cookies.set('sid', oldCookie);
    expect(await meOf(replay)).toBeNull();
    expect(await meOf(caller)).toBeNull();
    expect(await meOf(otherBrowser)).toBeNull();
    expect(await meOf(app1.bearer)).toBeNull();
    expect(await meOf(app2.bearer)).toBeNull();
    expect(await refreshOutcome(app1.refreshToken)).toBe('InvalidTokenError');
    expect(await refreshOutcome(app2.refreshToken)).toBe('InvalidTokenError');
    expect(await liveCounts(user.id)).toEqual({ sessions: 0, families: 0 });

    expect(await meOf(bystanderBrowser)).toMatchObject({ email: other.email });
    expect(await meOf(bystanderApp.bearer)).toMatchObject({ email: other.email });
    expect(await sessionsOf(bystanderBrowser)).toHaveLength(2);
    expect(await refreshOutcome(bystanderApp.refreshToken)).toBe('TokenPair');
  });

  it('from a bearer client ends that sign-in and every other session too', async () => {
    const user = await newUser('everywhere-bearer');
    const browser = await cookieClient(user.email);
    const caller = await tokenSignIn(user.email, 'Caller-App/1.0');
    const otherApp = await tokenSignIn(user.email, 'Other-App/1.0');

    const result = await caller.bearer.request(LogoutEverywhere);
    expect(result.data?.logoutEverywhere).toEqual({ message: 'Successfully logged out' });
    expect(await meOf(caller.bearer)).toBeNull();
    expect(await meOf(otherApp.bearer)).toBeNull();
    expect(await meOf(browser)).toBeNull();
    expect(await refreshOutcome(caller.refreshToken)).toBe('InvalidTokenError');
    expect(await refreshOutcome(otherApp.refreshToken)).toBe('InvalidTokenError');
    expect(await liveCounts(user.id)).toEqual({ sessions: 0, families: 0 });
  });
});

describe('changePassword', () => {

  it('refuses a wrong current password with InvalidCredentialsError and changes nothing', async () => {
    const user = await newUser('change-wrong');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const otherBrowser = await cookieClient(user.email, 'Other/1.0');
    const { bearer, refreshToken } = await tokenSignIn(user.email);
    const cookie = caller.cookies.get('sid');
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: 'Not-The-Password-1', newPassword: NEW_PASSWORD } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.changePassword).toEqual({ __typename: 'InvalidCredentialsError', message: 'Invalid credentials' });
    expect(result.headers.getSetCookie()).toEqual([]);
    expect(caller.cookies.get('sid')).toBe(cookie);

    expect(await storedHash(user.id)).toBe(passwordHash);
    expect(await meOf(caller)).toMatchObject({ email: user.email });
    expect(await meOf(otherBrowser)).toMatchObject({ email: user.email });
    expect(await meOf(bearer)).toMatchObject({ email: user.email });
    expect(await refreshOutcome(refreshToken)).toBe('TokenPair');
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 1 });
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('InvalidCredentialsError');
  });

  it('reports every failing rule of a weak new password on newPassword and changes nothing', async () => {
    const user = await newUser('change-weak');
    const caller = await cookieClient(user.email);
    const otherBrowser = await cookieClient(user.email);
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: '1234' } });
    expect(result.data?.changePassword).toEqual({
      __typename: 'ValidationError',
      message: expect.any(String),
      fieldErrors: [
        {
          field: 'newPassword',
          messages: [
            'This password is too short. It must contain at least 8 characters.',
            'This password is entirely numeric.',
            'This password is too common.',
          ],
        },
      ],
    });
    expect(await storedHash(user.id)).toBe(passwordHash);
    expect(await meOf(otherBrowser)).toMatchObject({ email: user.email });
    expect(await liveCounts(user.id)).toEqual({ sessions: 2, families: 0 });
  });

  it('refuses a new password similar to the user’s own names or email', async () => {
    const user = await newUser('change-similar', { firstName: 'Jonathan', lastName: 'Swift' });
    const caller = await cookieClient(user.email);
    const names = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: 'jonathan99!' } });
    expect(names.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['The password is too similar to the first name.'] }],
    });
    const email = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: user.email } });
    expect(email.data?.changePassword).toMatchObject({
      __typename: 'ValidationError',
      fieldErrors: [{ field: 'newPassword', messages: ['The password is too similar to the email address.'] }],
    });
  });

  it('from a cookie session: keeps the caller signed in under a new cookie and ends every other session', async () => {
    const user = await newUser('change-cookie');
    const caller = await cookieClient(user.email, 'Caller/1.0');
    const otherBrowser = await cookieClient(user.email, 'Other/1.0');
    const app1 = await tokenSignIn(user.email);
    const oldCookie = caller.cookies.get('sid')!;
    const passwordHash = await storedHash(user.id);

    const result = await caller.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.changePassword).toEqual({
      __typename: 'User',
      id: expect.any(String),
      email: user.email,
      firstName: '',
      lastName: '',
      isStaff: false,
      isActive: true,
      dateJoined: expect.any(String),
      lastLogin: expect.any(String),
    });
    expect(result.headers.getSetCookie().join()).toMatch(/^sid=/);
    const newCookie = caller.cookies.get('sid');
    expect(newCookie).toBeDefined();
    expect(newCookie).not.toBe(oldCookie);
    expect(rawSessionId(newCookie!)).not.toBe(rawSessionId(oldCookie));

    expect(await meOf(caller)).toMatchObject({ email: user.email });
    const sessions = await sessionsOf(caller);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ current: true, userAgent: 'Caller/1.0' });

    const replay = client();
    replay.cookies.set('sid', oldCookie);
    expect(await meOf(replay)).toBeNull();
    expect(await meOf(otherBrowser)).toBeNull();
    expect(await meOf(app1.bearer)).toBeNull();
    expect(await refreshOutcome(app1.refreshToken)).toBe('InvalidTokenError');
    expect(await liveCounts(user.id)).toEqual({ sessions: 1, families: 0 });

    expect(await storedHash(user.id)).not.toBe(passwordHash);
    expect(await loginOutcome(client(), user.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('User');
  });

  it('from a bearer client: keeps that token working and ends every other session', async () => {
    const user = await newUser('change-bearer');
    const browser = await cookieClient(user.email);
    const caller = await tokenSignIn(user.email, 'Caller-App/1.0');
    const otherApp = await tokenSignIn(user.email, 'Other-App/1.0');

    const result = await caller.bearer.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
    expect(result.data?.changePassword).toMatchObject({ __typename: 'User', email: user.email });
    expect(result.headers.getSetCookie()).toEqual([]);

    expect(await meOf(caller.bearer)).toMatchObject({ email: user.email });
    const sessions = await sessionsOf(caller.bearer);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ current: true, userAgent: 'Caller-App/1.0' });
    expect(await meOf(browser)).toBeNull();
    expect(await meOf(otherApp.bearer)).toBeNull();
    expect(await refreshOutcome(otherApp.refreshToken)).toBe('InvalidTokenError');
    expect(await refreshOutcome(caller.refreshToken)).toBe('TokenPair');
    expect(await liveCounts(user.id)).toEqual({ sessions: 0, families: 1 });

    expect(await loginOutcome(client(), user.email, TEST_PASSWORD)).toBe('InvalidCredentialsError');
    expect(await loginOutcome(client(), user.email, NEW_PASSWORD)).toBe('User');
  });
});

/**
 * Signs a new user in both ways and sends every operation of this file once, so that the check
 * below reads answers of every kind even when it runs alone.
 */
async function tourOfAccountOperations() {
  const user = await newUser('tour');
  const browser = await cookieClient(user.email, 'Tour-Browser/1.0');
  const app1 = await tokenSignIn(user.email, 'Tour-App/1.0');
  await meOf(browser);
  await meOf(app1.bearer);
  const sessions = await sessionsOf(browser);
  await sessionsOf(app1.bearer);
  await browser.request(UpdateMe, { input: { firstName: 'Tour', lastName: 'Guide' } });
  await browser.request(UpdateMe, { input: { firstName: 'x'.repeat(151) } });
  await browser.request(ChangePassword, { input: { currentPassword: 'Wrong-Password-1', newPassword: NEW_PASSWORD } });
  await client().request(Login, { input: { email: user.email, password: 'Wrong-Password-1' } });
  await refreshOutcome(app1.refreshToken);
  await browser.request(RevokeSession, { id: sessions.find((session) => !session.current)?.id ?? 'c_unknown' });
  await app1.bearer.request(ChangePassword, { input: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
  await app1.bearer.request(LogoutEverywhere);
  await meOf(browser);
}

describe('password hashes', () => {
  it('appear in no response of this file', async () => {
    while (responses.length <= 50) await tourOfAccountOperations();
    expect(responses.length).toBeGreaterThan(50);
    const hashes = (await app.services.prisma.user.findMany({ select: { passwordHash: true } })).map((row) => row.passwordHash);
    expect(hashes.length).toBeGreaterThan(0);
    for (const text of responses) {
      for (const hash of hashes) expect(text).not.toContain(hash);
      for (const marker of HASH_MARKERS) expect(text).not.toContain(marker);
    }
  });
});
