// The row counts behind an unfiltered totalCount (src/rowCounts.ts, kept by the triggers of the
// migration `row_counts`), on a real database: every way rows come and go, and on PostgreSQL many
// writers at once, folding beside them, a rollback and a TRUNCATE.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit.ts';
import { countRows } from '../../src/pages.ts';
import { foldRowCounts, type CountedTable } from '../../src/rowCounts.ts';
import { testServerUrl } from '../helpers/databases.ts';
import { domainParts, type DomainParts } from '../helpers/domain.ts';
import { withMigrationsBefore } from '../helpers/migrations.ts';

let parts: DomainParts;
beforeAll(async () => {
  parts = await domainParts();
});
afterAll(() => parts?.close());

const email = () => `${randomUUID()}@counts.test`;

/** The total an unfiltered list reports, and what counting the table itself gives. */
async function totals(table: CountedTable) {
  const counted = await parts.prisma.$queryRawUnsafe<{ count: number | bigint }[]>(`SELECT COUNT(*) AS "count" FROM "${table}"`);
  return { reported: await countRows(parts.directReads, table, []), counted: Number(counted[0]!.count) };
}

async function expectExact(table: CountedTable) {
  const { reported, counted } = await totals(table);
  expect(reported, `${table}: the reported total against COUNT(*)`).toBe(counted);
  return reported;
}

describe('an unfiltered total', () => {
  it('reads the counter rows, not the table', async () => {
    parts.sql.length = 0;
    await countRows(parts.directReads, 'User', []);
    expect(parts.sql).toEqual([expect.stringMatching(/FROM "RowCount" WHERE "table" = /)]);
  });

  it('follows users added and removed one at a time, in batches and by plain SQL', async () => {
    const start = await expectExact('User');
    const one = await parts.prisma.user.create({ data: { email: email(), passwordHash: 'unused' } });
    expect(await expectExact('User')).toBe(start + 1);
    await parts.prisma.user.createMany({ data: Array.from({ length: 5 }, () => ({ email: email(), passwordHash: 'unused' })) });
    expect(await expectExact('User')).toBe(start + 6);
    await parts.prisma.$executeRawUnsafe(
      `INSERT INTO "User" ("email", "passwordHash") VALUES ('${email()}', 'x'), ('${email()}', 'x'), ('${email()}', 'x')`,
    );
    expect(await expectExact('User')).toBe(start + 9);
    await parts.prisma.user.delete({ where: { id: one.id } });
    expect(await expectExact('User')).toBe(start + 8);
    const removed = await parts.prisma.user.deleteMany({ where: { email: { endsWith: '@counts.test' } } });
    expect(removed.count).toBe(8);
    expect(await expectExact('User')).toBe(start);
  });

  it('does not count the rows of a transaction rolled back', async () => {
    const start = await expectExact('User');
    const failure = new Error('rolled back on purpose');
    await expect(
      parts.prisma.$transaction(async (tx) => {
        await tx.user.createMany({ data: [{ email: email(), passwordHash: 'unused' }, { email: email(), passwordHash: 'unused' }] });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await expectExact('User')).toBe(start);
  });

  it('follows the audit log as events are recorded and pruned, and as the users they name go', async () => {
    const audit = new AuditLog(parts.prisma, parts.logger);
    const start = await expectExact('AuthEvent');
    const user = await parts.prisma.user.create({ data: { email: email(), passwordHash: 'unused' } });
    for (const kind of ['REGISTERED', 'LOGIN_SUCCEEDED', 'LOGOUT'] as const) await audit.record({ kind, userId: user.id });
    await parts.prisma.authEvent.createMany({ data: [{ kind: 'LOGIN_FAILED', at: new Date(0) }, { kind: 'LOGIN_FAILED', at: new Date(0) }] });
    expect(await expectExact('AuthEvent')).toBe(start + 5);
    // Events outlive the user they name.
    await parts.prisma.user.delete({ where: { id: user.id } });
    expect(await expectExact('AuthEvent')).toBe(start + 5);
    expect(await audit.prune(24 * 3600 * 1000)).toBe(2);
    expect(await expectExact('AuthEvent')).toBe(start + 3);
  });
});

describe.runIf(testServerUrl)('an unfiltered total on PostgreSQL', () => {
  let writers: pg.Pool;
  beforeAll(() => {
    writers = new pg.Pool({ connectionString: parts.config.databaseUrl, max: 8 });
  });
  afterAll(() => writers?.end());

  /** Forty transactions over eight connections, each adding five users and every other one taking two back. */
  async function writeAtOnce() {
    const batch = async (index: number) => {
      const client = await writers.connect();
      try {
        await client.query('BEGIN');
        const emails = Array.from({ length: 5 }, (_, i) => `batch${index}-${i}-${randomUUID()}@counts.test`);
        await client.query(`INSERT INTO "User" ("email", "passwordHash") SELECT unnest($1::text[]), 'x'`, [emails]);
        // An audit event and a second statement on the users in the same transaction, as the
        // service's own transactions do: their counts must not make transactions wait on each other.
        await client.query(`INSERT INTO "AuthEvent" ("kind") VALUES ('USER_CREATED')`);
        if (index % 2 === 1) await client.query(`DELETE FROM "User" WHERE "email" = ANY($1)`, [emails.slice(0, 2)]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: 40 }, (_, index) => batch(index)));
  }
  const added = 20 * 5 + 20 * 3;

  it('stays exact while eight connections add and remove users and events at once', async () => {
    const [users, events] = [await expectExact('User'), await expectExact('AuthEvent')];
    await writeAtOnce();
    expect(await expectExact('User')).toBe(users + added);
    expect(await expectExact('AuthEvent')).toBe(events + 40);
    await parts.prisma.user.deleteMany({ where: { email: { endsWith: '@counts.test' } } });
    expect(await expectExact('User')).toBe(users);
  });

  it('folds the connections\' rows into one a table, also while they write', async () => {
    const start = await expectExact('User');
    await writeAtOnce();
    const slots = async () => Number((await writers.query(`SELECT COUNT(*) AS "n" FROM "RowCount" WHERE "table" = 'User'`)).rows[0].n);
    expect(await slots()).toBeGreaterThan(1);
    expect(await foldRowCounts(parts.prisma, 'postgresql')).toBeGreaterThan(0);
    expect(await slots()).toBe(1);
    expect(await expectExact('User')).toBe(start + added);

    // Folding beside writers neither loses a row nor waits for them.
    await Promise.all([writeAtOnce(), ...Array.from({ length: 10 }, () => foldRowCounts(parts.prisma, 'postgresql'))]);
    expect(await expectExact('User')).toBe(start + 2 * added);
    await foldRowCounts(parts.prisma, 'postgresql');
    expect(await slots()).toBe(1);
    expect(await expectExact('User')).toBe(start + 2 * added);
    await parts.prisma.user.deleteMany({ where: { email: { endsWith: '@counts.test' } } });
    expect(await expectExact('User')).toBe(start);
  });

  it('is zero after a TRUNCATE', async () => {
    await parts.prisma.authEvent.createMany({ data: [{ kind: 'LOGOUT' }, { kind: 'LOGOUT' }] });
    expect(await expectExact('AuthEvent')).toBeGreaterThan(1);
    await writers.query('TRUNCATE "AuthEvent"');
    expect(await expectExact('AuthEvent')).toBe(0);
    await parts.prisma.authEvent.create({ data: { kind: 'LOGOUT' } });
    expect(await expectExact('AuthEvent')).toBe(1);
  });
});

describe('the migration row_counts', () => {
  it('counts the rows that existed before it, and then keeps counting', async () => {
    await withMigrationsBefore('row_counts', async (db, migration) => {
      await db.exec(`INSERT INTO "User" ("email", "passwordHash") VALUES ('a@counts.test', 'x'), ('b@counts.test', 'x'), ('c@counts.test', 'x')`);
      await db.exec(`INSERT INTO "AuthEvent" ("kind") VALUES ('LOGOUT')`);
      await db.exec(migration);
      const sums = async () =>
        Object.fromEntries(
          (await db.query(`SELECT "table", SUM("rows") AS "rows" FROM "RowCount" GROUP BY "table"`)).map((row) => [row.table, Number(row.rows)]),
        );
      expect(await sums()).toEqual({ User: 3, AuthEvent: 1 });
      await db.exec(`INSERT INTO "User" ("email", "passwordHash") VALUES ('d@counts.test', 'x')`);
      await db.exec(`DELETE FROM "User" WHERE "email" IN ('a@counts.test', 'b@counts.test')`);
      await db.exec(`INSERT INTO "AuthEvent" ("kind") VALUES ('LOGOUT'), ('LOGOUT')`);
      expect(await sums()).toEqual({ User: 2, AuthEvent: 3 });
    });
  });
});
