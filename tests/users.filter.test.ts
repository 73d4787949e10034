// users: search and flag filters.
import { beforeAll, describe, expect, it } from 'vitest';
import type { UsersQueryVariables } from './generated/graphql.ts';
import type { TestApp } from './helpers/app.ts';
import { app, listUsers, useUsersApp } from './helpers/usersSuite.ts';

useUsersApp();

describe('users', () => {
  describe('filter', () => {
    let filtered: Record<'alice' | 'bob' | 'carol' | 'dave', number>;

    beforeAll(async () => {
      const create = async (email: string, fields: Omit<Parameters<TestApp['createUser']>[0], 'email'>) =>
        (await app.createUser({ email, ...fields })).id;
      filtered = {
        alice: await create('alice.xq@filter.test', { firstName: 'Alice', lastName: 'Wexford' }),
        bob: await create('bob@filter.test', { firstName: 'Quentin', lastName: 'Smith', isStaff: true }),
        carol: await create('carol@filter.test', { firstName: 'Carol', lastName: 'MCPHERSONZ', isActive: false }),
        dave: await create('dave@filter.test', { firstName: 'Dave', lastName: 'Brown', isStaff: true, isActive: false }),
      };
    });

    async function idsMatching(filter: UsersQueryVariables['filter']) {
      const page = await listUsers({ filter, first: 100 });
      expect(page.totalCount).toBe(page.edges.length);
      return page.edges.map((edge) => Number(edge.node.id)).sort((a, b) => a - b);
    }

    const ids = (...names: (keyof typeof filtered)[]) => names.map((name) => filtered[name]).sort((a, b) => a - b);

    it.each([
      ['an email substring in another case', 'ALICE.XQ@', ['alice']],
      ['a first name substring in another case', 'qUENTI', ['bob']],
      ['a last name substring in another case', 'mcphersonz', ['carol']],
      ['a term with surrounding spaces', '  wexford ', ['alice']],
      ['the common domain', 'FILTER.TEST', ['alice', 'bob', 'carol', 'dave']],
    ] as const)('search matches %s', async (_case, search, names) => {
      expect(await idsMatching({ search })).toEqual(ids(...names));
    });

    it('search matches nothing for an absent term', async () => {
      const page = await listUsers({ filter: { search: 'no-such-user-anywhere' } });
      expect(page).toMatchObject({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false } });
    });

    // Prisma's `contains` is LIKE with no ESCAPE clause on SQLite, so % and _ still act as wildcards.
    it.todo('search treats % and _ as literal characters, not LIKE wildcards');

    it.each([
      [{ isStaff: true }, ['bob', 'dave']],
      [{ isStaff: false }, ['alice', 'carol']],
      [{ isActive: false }, ['carol', 'dave']],
      [{ isActive: true }, ['alice', 'bob']],
      [{ isStaff: true, isActive: false }, ['dave']],
    ] as const)('combines search with %j', async (flags, names) => {
      expect(await idsMatching({ search: 'filter.test', ...flags })).toEqual(ids(...names));
    });

    it.each([{ isStaff: true }, { isStaff: false }, { isActive: false }, {}])(
      'totalCount counts every user matching %j, beyond the page',
      async (flags) => {
        const page = await listUsers({ filter: flags, first: 1 });
        expect(page.edges).toHaveLength(1);
        expect(page.totalCount).toBe(await app.services.prisma.user.count({ where: flags }));
      },
    );
  });
});
