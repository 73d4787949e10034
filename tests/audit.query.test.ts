// authEvents: who may read the log, its pages and filters, and what a page costs in SQL statements.
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { type Account, app, authEvents, login, obtainTokens, outcome, staff, useAuditApp, visitor, WRONG_PASSWORD } from './helpers/auditSuite.ts';
import { AuthEvents } from './operations/audit.ts';
import { Logout, Register } from './operations/auth.ts';

useAuditApp();

describe('authEvents', () => {
  // A log of its own to page and filter: 12 visitors who register, fail a login, sign in and
  // out (48 events, 12 of them LOGIN_FAILED), and 5 failed logins of one account.
  beforeAll(async () => {
    for (let i = 0; i < 12; i += 1) {
      const from = visitor(`log ${i}`);
      expect(outcome(await from.client.request(Register, { input: { email: `log-${i}@example.com`, password: TEST_PASSWORD } }))).toBe('User');
      expect(await login(from, `log-${i}@example.com`, WRONG_PASSWORD)).toBe('InvalidCredentialsError');
      expect(await login(from, `log-${i}@example.com`)).toBe('User');
      expect((await from.client.request(Logout)).data?.logout.message).toBe('Successfully logged out');
    }
    const user = await app.createUser({ email: 'rate-limited@example.com' });
    const from = visitor('failing');
    for (let i = 0; i < 5; i += 1) expect(await login(from, user.email, WRONG_PASSWORD)).toBe('InvalidCredentialsError');
  });

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
    app.sql.length = 0;
    const page = await authEvents({ kind: 'LOGIN_FAILED', first: 2 });
    const counts = app.sql.filter((sql) => /\b(COUNT|SUM)\(/i.test(sql));
    expect(page.totalCount).toBe(await prisma.authEvent.count({ where: { kind: 'LOGIN_FAILED' } }));
    expect(counts).toEqual([expect.stringMatching(/^SELECT COUNT\(\*\) .*FROM [`"\w.]*AuthEvent\b/)]);
    expect(counts[0]).not.toMatch(/\b(LIMIT|OFFSET|SELECT\b.*\bSELECT)\b/i);
  });

  it('counts the whole log from its row count, not the table', async () => {
    app.sql.length = 0;
    const page = await authEvents({ first: 2 });
    expect(app.sql.filter((sql) => /\b(COUNT|SUM)\(/i.test(sql))).toEqual([expect.stringMatching(/^SELECT SUM\("rows"\) .*FROM "RowCount"/)]);
    expect(page.totalCount).toBe(await app.services.prisma.authEvent.count());
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
