// mySessions, revokeSession and logoutEverywhere: the signed-in user’s cookie sessions and token sign-ins.
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from './helpers/app.ts';
import { meOf } from './helpers/actors.ts';
import { app, client, cookieClient, describeNoPasswordHashes, IP_ADDRESS, liveCounts, newUser, rawSessionId, refreshOutcome, sessionsOf, type TokenSignIn, tokenSignIn, useAccountApp } from './helpers/accountSuite.ts';
import { MySessions, RevokeSession } from './operations/account.ts';
import { LogoutEverywhere } from './operations/auth.ts';

useAccountApp();

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

describeNoPasswordHashes();
