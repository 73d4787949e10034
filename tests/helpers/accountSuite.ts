// The set-up the account tests (tests/account.*.test.ts) share: one app per file whose clients
// record every response, which the file's last test searches for password hashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangePassword, MySessions, RevokeSession, UpdateMe } from '../operations/account.ts';
import { Login, LogoutEverywhere } from '../operations/auth.ts';
import { RefreshTokenPair } from '../operations/tokens.ts';
import { browserOf, meOf, tokenClient, tokenPairOf } from './actors.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './app.ts';

export const NEW_PASSWORD = 'Plaid-Otter-Umbrella-47';
export const HASH_MARKERS = ['$2a$', '$2b$', '$2y$', 'passwordHash'];
export const IP_ADDRESS = /^(::ffff:)?127\.0\.0\.1$/;

export let app: TestApp;
/** Every response the file's clients received, as text. */
export const responses: string[] = [];

/** Starts the file's app (beforeAll) and stops it (afterAll). */
export function useAccountApp(): void {
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());
}

export function record<T>(result: T): T {
  const text = JSON.stringify(result);
  responses.push(text);
  for (const marker of HASH_MARKERS) expect(text).not.toContain(marker);
  return result;
}

/** A client whose every response is recorded and checked for password hashes. */
export function client(headers: Record<string, string> = {}): TestClient {
  const created = app.client(headers);
  const request = created.request.bind(created);
  const raw = created.raw.bind(created);
  created.request = (async (...args: Parameters<typeof request>) => record(await request(...args))) as typeof request;
  created.raw = async (...args) => record(await raw(...args));
  return created;
}

let counter = 0;
export async function newUser(label: string, fields: { firstName?: string; lastName?: string; isStaff?: boolean } = {}) {
  counter += 1;
  return app.createUser({ email: `${label}-${counter}@example.com`, ...fields });
}

export async function cookieClient(email: string, userAgent = 'Browser/1.0', password = TEST_PASSWORD): Promise<TestClient> {
  return browserOf({ client }, email, password, { 'user-agent': userAgent });
}

export interface TokenSignIn {
  accessToken: string;
  refreshToken: string;
  bearer: TestClient;
}

export async function tokenSignIn(email: string, userAgent = 'App/1.0'): Promise<TokenSignIn> {
  const pair = await tokenPairOf(client({ 'user-agent': userAgent }), email);
  return { accessToken: pair.accessToken, refreshToken: pair.refreshToken, bearer: tokenClient({ client }, pair.accessToken) };
}

export async function sessionsOf(signedIn: TestClient) {
  const result = await signedIn.request(MySessions);
  expect(result.errors).toBeUndefined();
  return result.data!.mySessions;
}

export async function refreshOutcome(refreshToken: string) {
  return (await client().request(RefreshTokenPair, { refreshToken })).data?.refreshTokens.__typename;
}

export async function liveCounts(userId: number) {
  const { prisma } = app.services;
  const [sessions, families] = await Promise.all([
    prisma.session.count({ where: { userId, expiresAt: { gt: new Date() } } }),
    prisma.tokenFamily.count({ where: { userId, expiresAt: { gt: new Date() } } }),
  ]);
  return { sessions, families };
}

export async function storedUser(id: number) {
  return app.services.prisma.user.findUniqueOrThrow({ where: { id } });
}

export async function storedHash(id: number): Promise<string> {
  const { passwordHash } = await app.services.prisma.user.findUniqueOrThrow({ where: { id }, select: { passwordHash: true } });
  expect(passwordHash).toMatch(/^\$2[aby]\$/);
  return passwordHash;
}

export function rawSessionId(cookie: string): string {
  return decodeURIComponent(cookie).slice(2).split('.')[0]!;
}

/**
 * Signs a new user in both ways and sends every account operation once, so that the check
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

/** The check every account test file ends with, over the responses its clients received. */
export function describeNoPasswordHashes(): void {
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
}
