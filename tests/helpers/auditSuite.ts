// The set-up the audit tests (tests/audit.*.test.ts) share: one app per file, visitors told apart
// by address and user agent, and the events the audit log should hold for what they did.
import { afterAll, beforeAll, expect } from 'vitest';
import type { AuthEventKind } from '../../src/audit.ts';
import { digest } from '../../src/opaqueTokens.ts';
import { AuthEvents } from '../operations/audit.ts';
import { Login } from '../operations/auth.ts';
import { RefreshTokenPair } from '../operations/tokens.ts';
import { staffMember, tokenPairOf } from './actors.ts';
import { startTestApp, TEST_PASSWORD, type TestApp, type TestClient } from './app.ts';

export const WRONG_PASSWORD = 'Wrong-Password-123';
export const CHANGED_PASSWORD = 'Quartz-Lantern-Meadow-51';
export const RESET_PASSWORD = 'Velvet-Harbor-Compass-83';
export const STAFF_SET_PASSWORD = 'Granite-Orchid-Falcon-26';
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface Account {
  id: number | string;
  email: string;
}

export interface Visitor {
  client: TestClient;
  headers: Record<string, string>;
  ip: string;
  userAgent: string;
}

export type Outcome = { data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] };

export let app: TestApp;
export let staff: TestClient;
/** Every password and token handed to or by the API in the file's app. */
export const secrets = new Set<string>([TEST_PASSWORD, WRONG_PASSWORD, CHANGED_PASSWORD, RESET_PASSWORD, STAFF_SET_PASSWORD]);

/**
 * Starts the file's app (beforeAll: rate limits on, clients told apart by the address a trusted
 * proxy forwards) with a signed-in staff member, and stops it (afterAll).
 */
export function useAuditApp(): void {
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMITS: 'on', TRUST_PROXY: '1', RATE_LIMIT_IP_ATTEMPTS: '10000/60' });
    staff = await staffMember(app, 'audit-staff@example.com');
  });
  afterAll(() => app?.stop());
}

let visitors = 0;

/** A client with its own address (through the trusted proxy) and user agent, so its events can be told apart. */
export function visitor(name: string, extraHeaders: Record<string, string> = {}): Visitor {
  visitors += 1;
  const ip = `198.51.${Math.floor(visitors / 200)}.${(visitors % 200) + 1}`;
  const userAgent = `AuditProbe/${visitors} (${name})`;
  const headers = { 'x-forwarded-for': ip, 'user-agent': userAgent, ...extraHeaders };
  return { client: app.client(headers), headers, ip, userAgent };
}

export function rememberCookie(client: TestClient) {
  const sid = client.cookies.get('sid');
  if (!sid) return;
  const signed = decodeURIComponent(sid);
  secrets.add(signed);
  secrets.add(signed.replace(/^s:/, '').split('.')[0]!);
}

export function rememberToken(token: string) {
  secrets.add(token);
  secrets.add(digest(token));
}

export function outcome(result: Outcome): unknown {
  const [value] = Object.values((result.data as Record<string, unknown> | null | undefined) ?? {});
  if (value && typeof value === 'object' && '__typename' in value) return value.__typename;
  if (value !== undefined && value !== null) return value;
  return result.errors?.[0]?.extensions?.code;
}

export async function login(from: Visitor, email: string, password = TEST_PASSWORD) {
  const result = await from.client.request(Login, { input: { email, password } });
  rememberCookie(from.client);
  return outcome(result);
}

export async function obtainTokens(from: Visitor, email: string) {
  const pair = await tokenPairOf(from.client, email);
  rememberToken(pair.accessToken);
  rememberToken(pair.refreshToken);
  return pair;
}

export async function refreshTokens(from: Visitor, refreshToken: string) {
  const result = (await from.client.request(RefreshTokenPair, { refreshToken })).data?.refreshTokens;
  if (result?.__typename === 'TokenPair') {
    rememberToken(result.accessToken);
    rememberToken(result.refreshToken);
  }
  return result;
}

export async function authEvents(variables: { first?: number; after?: string; userId?: string; kind?: AuthEventKind } = {}) {
  const result = await staff.request(AuthEvents, variables);
  expect(result.errors).toBeUndefined();
  return result.data!.authEvents;
}

/** The events caused by one visitor, newest first. */
export async function eventsFrom(from: Visitor) {
  const { edges } = await authEvents({ first: 100 });
  return edges.map((edge) => edge.node).filter((node) => node.userAgent === from.userAgent);
}

export function ref(account: Account | null | undefined) {
  return account ? { id: String(account.id), email: account.email } : null;
}

export function event(kind: AuthEventKind, from: Visitor, fields: { user?: Account | null; actor?: Account | null; email?: string | null } = {}) {
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
