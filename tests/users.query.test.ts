// user(id), and what one users page costs in SQL statements.
import { beforeAll, describe, expect, it } from 'vitest';
import { browserOf } from './helpers/actors.ts';
import { app, signIn, staff, userRow, useUsersApp } from './helpers/usersSuite.ts';
import { UserById, Users } from './operations/users.ts';

useUsersApp();

describe('user(id)', () => {
  it('returns the user with the selected fields', async () => {
    const { id } = await app.createUser({ email: 'single@lookup.test', firstName: 'Ada', lastName: 'Lovelace', isActive: false });
    const row = (await userRow(id))!;
    const result = await staff.client.request(UserById, { id: String(id) });
    expect(result.errors).toBeUndefined();
    expect(result.data?.user).toEqual({
      id: String(id),
      email: 'single@lookup.test',
      firstName: 'Ada',
      lastName: 'Lovelace',
      isStaff: false,
      isActive: false,
      emailVerified: false,
      dateJoined: row.dateJoined.toISOString(),
      lastLogin: null,
    });
  });

  it('reports lastLogin once the user has logged in', async () => {
    const { id, email } = await app.createUser({ email: 'logged-in@lookup.test' });
    await browserOf(app, email);
    const row = (await userRow(id))!;
    const result = await staff.client.request(UserById, { id: String(id) });
    expect(result.data?.user?.lastLogin).toBe(row.lastLogin!.toISOString());
  });

  it.each(['999999', 'abc', '0', '-1', '1.5', ''])('is null for the id %j', async (id) => {
    const result = await staff.client.request(UserById, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ user: null });
  });
});

describe('query count', () => {
  beforeAll(async () => {
    for (let i = 0; i < 25; i += 1) await app.createUser({ email: `row${i}@sql.test`, firstName: `Row${i}` });
  });

  it('is the same small constant for a page of 20 and a page of 5', async () => {
    const counter = await signIn({ email: 'counter@sql.test', isStaff: true });
    await counter.client.request(Users, { first: 1 });

    const statementsFor = async (first: number) => {
      app.sql.length = 0;
      const result = await counter.client.request(Users, { first });
      expect(result.errors).toBeUndefined();
      expect(result.data!.users.edges).toHaveLength(first);
      expect(result.data!.users.pageInfo.hasNextPage).toBe(true);
      return [...app.sql];
    };

    const twenty = await statementsFor(20);
    const five = await statementsFor(5);
    // The session and its user, the page, its count (the table's row count): the page of public
    // columns is one direct statement.
    // (A write may join them: the session's activity, recorded at most once a minute.)
    expect(twenty.filter((sql) => /^\s*SELECT/i.test(sql)), twenty.join('\n')).toHaveLength(3);
    expect(five).toEqual(twenty);
    expect(twenty.filter((sql) => /\bFROM [`"\w.]*User[`"]?.*\bORDER BY\b/.test(sql))).toHaveLength(1);
    expect(twenty.filter((sql) => /\bFROM "RowCount"/.test(sql))).toHaveLength(1);
  });

  it('answers user(id) with one statement beside the session read', async () => {
    const reader = await signIn({ email: 'reader@sql.test', isStaff: true });
    const { id } = await app.createUser({ email: 'read-me@sql.test' });
    await reader.client.request(UserById, { id: String(id) });
    app.sql.length = 0;
    const result = await reader.client.request(UserById, { id: String(id) });
    expect(result.data?.user?.email).toBe('read-me@sql.test');
    expect(app.sql.filter((sql) => /^\s*SELECT/i.test(sql)), app.sql.join('\n')).toHaveLength(2);
    expect(app.sql.filter((sql) => /FROM "User" u WHERE u."id" = /.test(sql))).toHaveLength(1);
  });
});
