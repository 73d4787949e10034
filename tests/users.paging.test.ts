// users: cursor pages forward and backward, their order, and totalCount across them.
import { beforeAll, describe, expect, it } from 'vitest';
import type { UsersQueryVariables } from './generated/graphql.ts';
import type { TestApp } from './helpers/app.ts';
import { app, emailsOf, errorCode, listUsers, pageBackward, pageForward, staff, useUsersApp } from './helpers/usersSuite.ts';
import { Users } from './operations/users.ts';

useUsersApp();

describe('users', () => {
  const PAGING = { search: '@paging.test' };
  const COUNT = 45;
  const base = Date.parse('2024-01-01T00:00:00.000Z');
  let seeded: { id: number; email: string; dateJoined: Date; lastLogin: Date | null }[];

  const byDateJoined = () =>
    [...seeded].sort((a, b) => a.dateJoined.getTime() - b.dateJoined.getTime() || a.id - b.id).map((user) => user.email);

  beforeAll(async () => {
    seeded = [];
    for (let i = 0; i < COUNT; i += 1) {
      const { id, email } = await app.createUser({ email: `u${String((i * 17) % COUNT).padStart(2, '0')}@paging.test` });
      const dateJoined = new Date(base + Math.floor((COUNT - 1 - i) / 3) * 60_000);
      const lastLogin = i % 3 === 0 ? null : new Date(base + ((i * 7) % 5) * 3_600_000);
      await app.services.prisma.user.update({ where: { id }, data: { dateJoined, lastLogin } });
      seeded.push({ id, email, dateJoined, lastLogin });
    }
  });

  describe('paging', () => {
    it('pages forward through every matching user once, in DATE_JOINED ASC order with ties by id', async () => {
      const pages = await pageForward({ filter: PAGING }, 10);
      expect(pages.map((page) => page.edges.length)).toEqual([10, 10, 10, 10, 5]);
      expect(pages.map((page) => page.pageInfo.hasNextPage)).toEqual([true, true, true, true, false]);
      expect(pages.map((page) => page.pageInfo.hasPreviousPage)).toEqual([false, true, true, true, true]);
      expect(pages.every((page) => page.totalCount === COUNT)).toBe(true);
      for (const page of pages) {
        expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor);
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      }
      expect(emailsOf(pages)).toEqual(byDateJoined());
    });

    it('pages backward through the same users in the same order', async () => {
      const pages = await pageBackward({ filter: PAGING }, 10);
      expect(pages.map((page) => page.edges.length)).toEqual([5, 10, 10, 10, 10]);
      expect(pages.map((page) => page.pageInfo.hasPreviousPage)).toEqual([false, true, true, true, true]);
      expect(pages.map((page) => page.pageInfo.hasNextPage)).toEqual([true, true, true, true, false]);
      expect(emailsOf(pages)).toEqual(byDateJoined());
    });

    it('returns 20 users when neither first nor last is given', async () => {
      const page = await listUsers({ filter: PAGING });
      expect(page.edges).toHaveLength(20);
      expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
      expect(page.edges.map((edge) => edge.node.email)).toEqual(byDateJoined().slice(0, 20));
    });

    it('accepts the largest page size, 100', async () => {
      const page = await listUsers({ filter: PAGING, first: 100 });
      expect(page.edges).toHaveLength(COUNT);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it.each([
      ['first', 101],
      ['first', 10_000],
      ['first', -1],
      ['last', 101],
      ['last', -1],
    ])('refuses %s: %i with BAD_USER_INPUT', async (name, size) => {
      const result = await staff.client.request(Users, { [name]: size });
      expect(result.data).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
    });

    it.each([
      ['a string that is not a cursor', 'abc'],
      ['base64 without the cursor prefix', Buffer.from('N:1').toString('base64')],
      ['a well-formed cursor holding a string id', Buffer.from('GPC:S:abc').toString('base64')],
    ])('refuses an after cursor that is %s with BAD_USER_INPUT', async (_case, after) => {
      const result = await staff.client.request(Users, { first: 5, after });
      expect(result.data).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
    });
  });

  describe('filter', () => {
    it('totalCount counts the search matches while a page shows some of them', async () => {
      const page = await listUsers({ filter: PAGING, first: 3 });
      expect(page.edges).toHaveLength(3);
      expect(page.totalCount).toBe(COUNT);
    });
  });

  describe('orderBy', () => {
    it.each(['ASC', 'DESC'] as const)('EMAIL %s pages in small pages with no gaps or repeats', async (direction) => {
      const pages = await pageForward({ filter: PAGING, orderBy: { field: 'EMAIL', direction } }, 4);
      const expected = seeded.map((user) => user.email).sort();
      if (direction === 'DESC') expected.reverse();
      expect(pages).toHaveLength(Math.ceil(COUNT / 4));
      expect(emailsOf(pages)).toEqual(expected);
    });

    it.each(['ASC', 'DESC'] as const)(
      'LAST_LOGIN %s pages users with and without a last login with no gaps or repeats',
      async (direction) => {
        const pages = await pageForward({ filter: PAGING, orderBy: { field: 'LAST_LOGIN', direction } }, 4);
        const ascending = [...seeded]
          .sort((a, b) => (a.lastLogin?.getTime() ?? -Infinity) - (b.lastLogin?.getTime() ?? -Infinity) || a.id - b.id)
          .map((user) => user.email);
        const emails = emailsOf(pages);
        expect(new Set(emails).size).toBe(emails.length);
        expect([...emails].sort()).toEqual(seeded.map((user) => user.email).sort());
        expect(emails).toEqual(direction === 'ASC' ? ascending : ascending.reverse());
      },
    );

    it('LAST_LOGIN pages backward to the same order', async () => {
      const orderBy = { field: 'LAST_LOGIN', direction: 'ASC' } as const;
      const forward = emailsOf(await pageForward({ filter: PAGING, orderBy }, 4));
      const backward = emailsOf(await pageBackward({ filter: PAGING, orderBy }, 4));
      expect(backward).toEqual(forward);
    });

    it('DATE_JOINED DESC is the exact reverse of the default order', async () => {
      const pages = await pageForward({ filter: PAGING, orderBy: { field: 'DATE_JOINED', direction: 'DESC' } }, 7);
      expect(emailsOf(pages)).toEqual(byDateJoined().reverse());
    });
  });
});

describe('totalCount', () => {
  beforeAll(async () => {
    const people: Parameters<TestApp['createUser']>[0][] = [
      { email: 'ada_lovelace@count.test', firstName: 'Ada', lastName: 'Lovelace', isStaff: true },
      { email: 'adaxlovelace@count.test', firstName: 'Adax', lastName: 'Lovelace' },
      { email: 'grace%hopper@count.test', firstName: 'Grace', lastName: 'HOPPER', isActive: false },
      { email: 'alan.turing@count.test', firstName: 'Alan', lastName: 'Turing', isStaff: true, isActive: false },
      { email: 'edsger@count.test', firstName: 'Edsger', lastName: 'Dijkstra' },
      { email: 'barbara@count.test', firstName: 'Barbara', lastName: 'Liskov', isStaff: true },
    ];
    for (const person of people) await app.createUser(person);
    for (let i = 0; i < 23; i += 1) await app.createUser({ email: `crowd${i}@count.test`, firstName: i % 2 ? 'Crowd' : 'Ada', isActive: i % 5 !== 0 });
  });

  it.each<UsersQueryVariables['filter']>([
    null,
    { search: '@count.test' },
    { search: 'ADA' },
    { search: 'ada_' },
    { search: 'grace%' },
    { search: 'hopper' },
    { search: 'jkst' },
    { search: 'crowd1' },
    { search: 'nobody-at-all' },
    { isStaff: true },
    { isStaff: false, isActive: true },
    { isActive: false },
    { isActive: false, search: 'count.test' },
    { isStaff: true, isActive: true, search: 'LOVELACE' },
  ])('equals the number of users listed across all pages for the filter %j', async (filter) => {
    const pages = await pageForward({ filter }, 7);
    const listed = pages.reduce((sum, page) => sum + page.edges.length, 0);
    expect(pages.map((page) => page.totalCount)).toEqual(pages.map(() => listed));
    // The same count from the other end and from the last page on its own.
    const backward = await pageBackward({ filter, orderBy: { field: 'EMAIL', direction: 'DESC' } }, 9);
    expect(backward.map((page) => page.totalCount)).toEqual(backward.map(() => listed));
  });

  it('is one plain COUNT(*) with the filter, without LIMIT or OFFSET', async () => {
    const first = await listUsers({ first: 2, filter: { search: 'count.test', isActive: true } });
    app.sql.length = 0;
    const page = await listUsers({ first: 2, after: first.pageInfo.endCursor, filter: { search: 'count.test', isActive: true } });
    expect(page.totalCount).toBeGreaterThan(20);
    const counts = app.sql.filter((sql) => /\bCOUNT\(/i.test(sql));
    expect(counts).toHaveLength(1);
    expect(counts[0]).toMatch(/^SELECT COUNT\(\*\) .*FROM [`"\w.]*User[`"]? WHERE /);
    expect(counts[0]).not.toMatch(/\b(LIMIT|OFFSET|SELECT\b.*\bSELECT)\b/i);
  });

  it('is read from the row count, not the table, without a filter', async () => {
    app.sql.length = 0;
    const page = await listUsers({ first: 2 });
    expect(app.sql.filter((sql) => /\b(COUNT|SUM)\(/i.test(sql))).toEqual([expect.stringMatching(/^SELECT SUM\("rows"\) .*FROM "RowCount"/)]);
    expect(page.totalCount).toBe(await app.services.prisma.user.count());
  });
});
