import type { SessionData } from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneExpired } from '../src/pruning.ts';
import { endSessions, PrismaSessionStore, sessionKey } from '../src/sessions.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { Me } from './operations/auth.ts';

let app: TestApp;
let store: PrismaSessionStore;
beforeAll(async () => {
  app = await startTestApp();
  store = new PrismaSessionStore(app.services.prisma, { maxAgeMs: 60_000, touchIntervalMs: 50, reads: app.services.directReads });
});
afterAll(() => app?.stop());

function call<T>(run: (done: (error?: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

const cookie = (expires: Date) => ({ originalMaxAge: 60_000, expires, httpOnly: true, path: '/' }) as never;

describe('session store', () => {
  it('round-trips a session and stores it under a hash of its id', async () => {
    const { id: userId } = await app.createUser({ email: 'store@example.com' });
    await call((done) =>
      store.set('plain-sid', { cookie: cookie(new Date(Date.now() + 60_000)), userId, userAgent: 'ua', ipAddress: '::1' } as never, done),
    );
    const row = await app.services.prisma.session.findUniqueOrThrow({ where: { id: sessionKey('plain-sid') } });
    expect(row).toMatchObject({ userId, userAgent: 'ua', ipAddress: '::1' });
    expect(await app.services.prisma.session.count({ where: { id: 'plain-sid' } })).toBe(0);
    const loaded = await call<SessionData | null>((done) => store.get('plain-sid', done));
    expect(loaded).toMatchObject({ userId, userAgent: 'ua' });
  });

  it('treats an expired session as none and deletes it', async () => {
    await call((done) => store.set('expired-sid', { cookie: cookie(new Date(Date.now() - 1_000)) } as never, done));
    expect(await call((done) => store.get('expired-sid', done))).toBeNull();
    expect(await app.services.prisma.session.count({ where: { id: sessionKey('expired-sid') } })).toBe(0);
  });

  it('prunes expired sessions and keeps live ones', async () => {
    await call((done) => store.set('old-1', { cookie: cookie(new Date(Date.now() - 1_000)) } as never, done));
    await call((done) => store.set('old-2', { cookie: cookie(new Date(Date.now() - 1_000)) } as never, done));
    await call((done) => store.set('live', { cookie: cookie(new Date(Date.now() + 60_000)) } as never, done));
    expect(await pruneExpired(app.services.prisma)).toBeGreaterThanOrEqual(2);
    const ids = (await app.services.prisma.session.findMany({ select: { id: true } })).map((row) => row.id);
    expect(ids).toContain(sessionKey('live'));
    expect(ids).not.toContain(sessionKey('old-1'));
  });

  it('records activity at most once per interval', async () => {
    await call((done) => store.set('touched', { cookie: cookie(new Date(Date.now() + 60_000)) } as never, done));
    const lastSeen = async () =>
      (await app.services.prisma.session.findUniqueOrThrow({ where: { id: sessionKey('touched') } })).lastSeenAt.getTime();
    const initial = await lastSeen();
    const fresh = (await call<SessionData | null>((done) => store.get('touched', done)))!;
    await call((done) => store.touch('touched', fresh, done));
    expect(await lastSeen()).toBe(initial);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const stale = (await call<SessionData | null>((done) => store.get('touched', done)))!;
    await call((done) => store.touch('touched', stale, done));
    expect(await lastSeen()).toBeGreaterThan(initial);
  });

  it('ends every session of a user', async () => {
    const alice = await app.signedIn({ email: 'many@example.com' });
    const second = app.client();
    await second.login('many@example.com', TEST_PASSWORD);
    const user = await app.services.prisma.user.findUniqueOrThrow({ where: { email: 'many@example.com' } });
    const [cookieSessions] = await app.services.prisma.$transaction(endSessions(app.services.prisma, user.id));
    expect(cookieSessions?.count).toBe(2);
    expect((await alice.request(Me)).data?.me).toBeNull();
    expect((await second.request(Me)).data?.me).toBeNull();
  });
});

describe('session reads', () => {
  it('reads the user’s dates as Prisma does, whatever the time zone of the process', async () => {
    const user = await app.createUser({ email: 'zone@example.com' });
    const client = app.client();
    await client.login(user.email, TEST_PASSWORD);
    const stored = await app.services.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    const zone = process.env.TZ;
    // Node applies a change of TZ at once; PostgreSQL's timestamp(3) columns carry no zone.
    process.env.TZ = 'America/New_York';
    try {
      const { data } = await client.request(Me);
      expect(data?.me).toMatchObject({ dateJoined: stored.dateJoined.toISOString(), lastLogin: stored.lastLogin!.toISOString() });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
