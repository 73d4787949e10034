// Staff's list of users (src/userDirectory.ts) called directly on a real database: every filter
// and their combinations, every order, keyset pages across the whole list, and counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import {
  countUsers,
  findUsers,
  MAX_SEARCH_LENGTH,
  type UserFilter,
  type UserOrder,
  type UserOrderField,
  type UserSelection,
  type UserWindow,
} from '../../src/userDirectory.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';

interface Seed {
  email: string;
  firstName: string;
  lastName: string;
  isStaff: boolean;
  isActive: boolean;
  hasSecondFactor: boolean;
  emailVerified: boolean;
  /** Minutes after the epoch of the test. */
  joined: number;
  login: number | null;
  roles: string[];
}

// Sort keys that disagree with the insertion (id) order, with ties in each and null lastLogins.
const SEEDS: Seed[] = [
  { email: 'mia@dir.test', firstName: 'Mia', lastName: 'Zedd', isStaff: true, isActive: true, hasSecondFactor: true, emailVerified: true, joined: 5, login: 30, roles: ['auditor'] },
  { email: 'ben@dir.test', firstName: 'Ben', lastName: 'Ng', isStaff: false, isActive: true, hasSecondFactor: false, emailVerified: false, joined: 3, login: null, roles: [] },
  { email: 'zed@example.org', firstName: 'Ola', lastName: 'Berg', isStaff: false, isActive: false, hasSecondFactor: true, emailVerified: true, joined: 5, login: 10, roles: ['support'] },
  { email: 'ana@dir.test', firstName: 'Ana', lastName: 'Costa', isStaff: false, isActive: true, hasSecondFactor: false, emailVerified: true, joined: 1, login: 10, roles: ['auditor', 'support'] },
  { email: 'kim@dir.test', firstName: 'Kim', lastName: 'Lee', isStaff: true, isActive: false, hasSecondFactor: false, emailVerified: false, joined: 9, login: null, roles: [] },
  { email: 'lou@example.org', firstName: 'Lou', lastName: 'Zeddon', isStaff: false, isActive: true, hasSecondFactor: true, emailVerified: false, joined: 2, login: 50, roles: ['auditor'] },
  { email: 'eve@dir.test', firstName: 'Eve', lastName: 'Adams', isStaff: false, isActive: true, hasSecondFactor: false, emailVerified: true, joined: 7, login: 20, roles: [] },
  { email: 'dan@dir.test', firstName: 'Dan', lastName: 'Brown', isStaff: true, isActive: true, hasSecondFactor: false, emailVerified: true, joined: 7, login: null, roles: ['support'] },
  { email: 'ivy@example.org', firstName: 'Ivy', lastName: 'Chen', isStaff: false, isActive: true, hasSecondFactor: true, emailVerified: true, joined: 4, login: 20, roles: [] },
  { email: 'gus@dir.test', firstName: 'Gus', lastName: 'Diaz', isStaff: false, isActive: false, hasSecondFactor: false, emailVerified: false, joined: 8, login: 40, roles: [] },
  { email: 'hal@dir.test', firstName: 'Hal', lastName: 'Evans', isStaff: false, isActive: true, hasSecondFactor: false, emailVerified: true, joined: 6, login: 5, roles: [] },
];

const EPOCH = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(EPOCH + minutes * 60_000);

let parts: DomainParts;
/** The seeded users with their ids, in insertion (id) order. */
let users: (Seed & { id: number })[];

beforeAll(async () => {
  parts = await domainParts();
  users = [];
  for (const seed of SEEDS) {
    const { id } = await parts.prisma.user.create({
      data: {
        email: seed.email,
        passwordHash: 'not a hash: nobody signs in here',
        firstName: seed.firstName,
        lastName: seed.lastName,
        isStaff: seed.isStaff,
        isActive: seed.isActive,
        hasSecondFactor: seed.hasSecondFactor,
        emailVerified: seed.emailVerified,
        dateJoined: at(seed.joined),
        lastLogin: seed.login === null ? null : at(seed.login),
        roles: { create: seed.roles.map((role) => ({ role })) },
      },
      select: { id: true },
    });
    users.push({ ...seed, id });
  }
});
afterAll(() => parts?.close());

function matches(user: Seed, filter: UserFilter): boolean {
  const search = filter.search?.trim().toLowerCase();
  return (
    (filter.isStaff == null || user.isStaff === filter.isStaff) &&
    (filter.isActive == null || user.isActive === filter.isActive) &&
    (filter.hasSecondFactor == null || user.hasSecondFactor === filter.hasSecondFactor) &&
    (filter.emailVerified == null || user.emailVerified === filter.emailVerified) &&
    (filter.role == null || user.roles.includes(filter.role)) &&
    (!search || [user.email, user.firstName, user.lastName].some((text) => text.toLowerCase().includes(search)))
  );
}

/** The order the directory promises: by the field, then by id, the same way; no lastLogin sorts lowest. */
function ordered(list: (Seed & { id: number })[], { field, direction }: UserOrder) {
  const key = (user: Seed & { id: number }) =>
    field === 'email' ? user.email : field === 'dateJoined' ? user.joined : (user.login ?? Number.NEGATIVE_INFINITY);
  const sign = direction === 'asc' ? 1 : -1;
  return [...list].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return sign * (x < y ? -1 : x > y ? 1 : a.id - b.id);
  });
}

const ids = (rows: { id: number }[]) => rows.map(({ id }) => id);

const FILTERS: UserFilter[] = [
  {},
  { isStaff: true },
  { isStaff: false },
  { isActive: false },
  { hasSecondFactor: true },
  { hasSecondFactor: false },
  { emailVerified: false },
  { role: 'auditor' },
  { role: 'support' },
  { role: 'nobody-has-it' },
  { search: 'zed' },
  { search: '  EXAMPLE.org ' },
  { search: 'ZEDD' },
  { search: '   ' },
  { isStaff: false, isActive: true },
  { isActive: true, hasSecondFactor: true, emailVerified: true },
  { role: 'support', isActive: true },
  { role: 'auditor', search: 'zed', hasSecondFactor: true },
  { search: 'dir.test', isStaff: false, emailVerified: true, isActive: true },
  { isStaff: true, isActive: false, hasSecondFactor: false, emailVerified: false, role: 'support' },
];

const DEFAULT_ORDER: UserOrder = { field: 'dateJoined', direction: 'asc' };
const ORDERS: UserOrder[] = (['dateJoined', 'email', 'lastLogin'] as UserOrderField[]).flatMap((field) =>
  (['asc', 'desc'] as const).map((direction) => ({ field, direction })),
);

/** Pages of public columns are read with one direct statement, others (roles) through Prisma: both must give the same rows. */
const READS: [string, UserSelection][] = [
  ['through Prisma (every column)', {}],
  ['as one direct statement (public columns)', { select: { id: true, email: true, lastLogin: true, hasSecondFactor: true } }],
];

describe.each(READS)('read %s', (_how, selection) => {
  const find = (filter: UserFilter | null | undefined, order: UserOrder | null | undefined, window: UserWindow) =>
    findUsers(parts, filter, order, { ...window, ...selection });

  describe('filters', () => {
    it.each(FILTERS)('%j selects exactly the matching users, and countUsers counts them', async (filter) => {
      const expected = ordered(users.filter((user) => matches(user, filter)), DEFAULT_ORDER);
      expect(ids(await find(filter, null, { take: 100 }))).toEqual(ids(expected));
      expect(await countUsers(parts, filter)).toBe(expected.length);
    });

    it('every filter narrows the list: none is ignored', () => {
      // Guards the table above: each filter must select fewer users than no filter at all.
      for (const filter of FILTERS.filter((filter) => Object.keys(filter).length > 0 && filter.search?.trim() !== '')) {
        expect(users.filter((user) => matches(user, filter)).length, JSON.stringify(filter)).toBeLessThan(users.length);
      }
    });

    it('a null filter or null conditions select everyone', async () => {
      expect(await countUsers(parts, null)).toBe(users.length);
      const nulls = { search: null, isStaff: null, isActive: null, role: null, hasSecondFactor: null, emailVerified: null };
      expect(ids(await find(nulls, null, { take: 100 }))).toEqual(ids(ordered(users, DEFAULT_ORDER)));
      expect(await countUsers(parts, nulls)).toBe(users.length);
    });

    it.each([
      ['a search longer than the limit', { search: 'x'.repeat(MAX_SEARCH_LENGTH + 1) }, `filter.search must be at most ${MAX_SEARCH_LENGTH} characters`],
      ['a role that is no role name', { role: 'Not A Role' }, 'filter.role must be a role name'],
      ['an empty role', { role: '' }, 'filter.role must be a role name'],
    ])('refuses %s with InvalidArgumentError, before any query', async (_case, filter, message) => {
      parts.sql.length = 0;
      await expect(find(filter, null, { take: 10 })).rejects.toThrow(InvalidArgumentError);
      await expect(find(filter, null, { take: 10 })).rejects.toThrow(message);
      await expect(countUsers(parts, filter)).rejects.toThrow(InvalidArgumentError);
      expect(parts.sql).toEqual([]);
    });

    it(`takes a search of exactly ${MAX_SEARCH_LENGTH} characters (surrounding spaces aside)`, async () => {
      const search = ` ${'q'.repeat(MAX_SEARCH_LENGTH)} `;
      expect(await find({ search }, null, { take: 10 })).toEqual([]);
      expect(await countUsers(parts, { search })).toBe(0);
    });
  });

  describe('order', () => {
    it.each(ORDERS)('%j orders by the field, then by id, with users who never logged in lowest', async (order) => {
      expect(ids(await find({}, order, { take: 100 }))).toEqual(ids(ordered(users, order)));
    });

    it('without an order, oldest account first', async () => {
      expect(ids(await find(undefined, undefined, { take: 100 }))).toEqual(ids(ordered(users, DEFAULT_ORDER)));
    });
  });

  describe('keyset pages', () => {
    const PAGE = 3;

    /** Reads the whole list forwards, a page at a time, as a connection does: one more row than shown tells whether a next page exists. */
    async function forwards(filter: UserFilter, order: UserOrder) {
      const pages: number[][] = [];
      let after: number | undefined;
      for (let hasNext = true; hasNext; ) {
        const rows = await find(filter, order, after === undefined ? { take: PAGE + 1 } : { take: PAGE + 1, skip: 1, cursor: { id: after } });
        hasNext = rows.length > PAGE;
        pages.push(ids(rows.slice(0, PAGE)));
        after = pages.at(-1)!.at(-1);
        expect(pages.length).toBeLessThanOrEqual(users.length);
      }
      return pages;
    }

    /** Reads it backwards from its last row, as `last`/`before` do (Prisma returns each page in list order). */
    async function backwards(filter: UserFilter, order: UserOrder, last: number) {
      const pages: number[][] = [];
      let before = last;
      for (let hasPrevious = true; hasPrevious; ) {
        const rows = await find(filter, order, { take: -(PAGE + 1), skip: 1, cursor: { id: before } });
        hasPrevious = rows.length > PAGE;
        pages.unshift(ids(rows.slice(-PAGE)));
        before = pages[0]![0]!;
        expect(pages.length).toBeLessThanOrEqual(users.length);
      }
      return pages;
    }

    it.each(ORDERS)('%j: forward pages cover the list once, in order, and the last says there is no next', async (order) => {
      const expected = ids(ordered(users, order));
      const pages = await forwards({}, order);
      expect(pages.flat()).toEqual(expected);
      expect(pages.map((page) => page.length)).toEqual([3, 3, 3, 2]);
    });

    it.each(ORDERS)('%j: backward pages from the last row cover the rest of the list once, in order', async (order) => {
      const expected = ids(ordered(users, order));
      const pages = await backwards({}, order, expected.at(-1)!);
      expect([...pages.flat(), expected.at(-1)]).toEqual(expected);
    });

    it.each(ORDERS)('%j with a filter: pages hold only matching users, across ties', async (order) => {
      const filter: UserFilter = { isActive: true };
      const expected = ids(ordered(users.filter((user) => matches(user, filter)), order));
      expect((await forwards(filter, order)).flat()).toEqual(expected);
    });

    it('a cursor naming no user gives an empty page', async () => {
      expect(await find({}, null, { take: PAGE + 1, skip: 1, cursor: { id: 987_654 } })).toEqual([]);
    });
  });
});

describe('statements', () => {
  const PAGE = 3;

  it('through Prisma, a page after a cursor is one read of the cursor’s sort key and one bounded SELECT', async () => {
    const list = ordered(users, { field: 'email', direction: 'asc' });
    parts.sql.length = 0;
    const rows = await findUsers(parts, {}, { field: 'email', direction: 'asc' }, { take: PAGE + 1, skip: 1, cursor: { id: list[4]!.id } });
    expect(ids(rows)).toEqual(ids(list.slice(5, 5 + PAGE + 1)));
    const reads = parts.sql.filter((sql) => /^\s*SELECT/i.test(sql));
    expect(reads).toHaveLength(2);
    expect(reads[0]).toMatch(/SELECT "email" AS "key" FROM "User" WHERE "id" = /);
    // The bound on the sort key, beside Prisma's own cursor condition, lets the index start at the cursor.
    expect(reads[1]).toMatch(/[`"]email[`"]\s*>=/);
  });

  it('with public columns only, a page after a cursor is one bounded SELECT, the cursor’s key read inside it', async () => {
    const list = ordered(users, { field: 'email', direction: 'asc' });
    parts.sql.length = 0;
    const rows = await findUsers(parts, {}, { field: 'email', direction: 'asc' }, { take: PAGE + 1, skip: 1, cursor: { id: list[4]!.id }, select: { id: true, email: true } });
    expect(ids(rows)).toEqual(ids(list.slice(5, 5 + PAGE + 1)));
    expect(rows[0]).toEqual({ ...rows[0], email: list[5]!.email });
    expect(parts.sql).toHaveLength(1);
    expect(parts.sql[0]).toMatch(/"email" >= \(SELECT "email" FROM "User" WHERE "id" = \?\)/);
  });
});

describe('selection', () => {
  it('reads the columns and relations asked for', async () => {
    const [first] = await findUsers(parts, { role: 'support' }, { field: 'email', direction: 'asc' }, {
      take: 1,
      select: { id: true, email: true, roles: { select: { role: true }, orderBy: { role: 'asc' } } },
    });
    expect(first).toEqual({ id: users[3]!.id, email: 'ana@dir.test', roles: [{ role: 'auditor' }, { role: 'support' }] });
  });
});
