import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase, sqliteFile } from '../src/db.ts';
import { TEST_PASSWORD, TestClient } from './helpers/app.ts';
import { freshDatabase, testServerUrl } from './helpers/databases.ts';
import { EXIT_TIMEOUT_MS, post, ServerProcesses, within, type RunningServer } from './helpers/server.ts';
import { Register } from './operations/auth.ts';

/** Just what the checks need of better-sqlite3 (which has no bundled types). */
interface SqliteFile {
  pragma(source: string): unknown;
  close(): void;
}
const openSqlite = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
  options: { readonly: boolean; fileMustExist: boolean },
) => SqliteFile;

const provider = testServerUrl ? 'PostgreSQL' : 'SQLite';
/** Registrations in flight at once: each hashes a password, so the server is busy throughout. */
const CONCURRENCY = 6;
/** Each round kills the server once this many registrations have been answered (and others are in flight). */
const KILL_AFTER_ANSWERS = [12, 21];
const MAX_REQUESTS_PER_ROUND = 400;
const LOAD_TIMEOUT_MS = 60_000;
const LOGIN_CONCURRENCY = 8;

type Outcome = { email: string; answered: true; body: unknown; status: number } | { email: string; answered: false; error: string };

interface Round {
  outcomes: Outcome[];
  /** Requests fully sent and not answered when SIGKILL went out. */
  inFlightAtKill: number;
}

const servers = new ServerProcesses();
const allServers: RunningServer[] = [];
let database: Awaited<ReturnType<typeof freshDatabase>>;
const rounds: Round[] = [];

function startServer(): Promise<RunningServer> {
  return servers
    .start({ ...database.env, DATA_DIR: database.dir, LOG_LEVEL: 'warn', RATE_LIMITS: 'off', BCRYPT_COST: '10' })
    .then((server) => (allServers.push(server), server));
}

/**
 * Keeps CONCURRENCY registrations (distinct emails) in flight and SIGKILLs the server as soon as
 * `killAfter` have been answered while at least one more has been sent and not answered.
 */
async function registerUntilKilled(server: RunningServer, round: number, killAfter: number): Promise<Round> {
  const outcomes: Outcome[] = [];
  let issued = 0;
  let answered = 0;
  let sentUnanswered = 0;
  let inFlightAtKill = 0;
  let killed = false;
  const maybeKill = () => {
    if (killed || answered < killAfter || sentUnanswered === 0) return;
    killed = true;
    inFlightAtKill = sentUnanswered;
    server.child.kill('SIGKILL');
  };
  const worker = async () => {
    while (!killed && issued < MAX_REQUESTS_PER_ROUND) {
      const email = `crash-${round}-${issued++}@example.com`;
      const { sent, response } = post(server.url, Register, { input: { email, password: TEST_PASSWORD } });
      let settled = false;
      let counted = false;
      void sent.then(() => {
        if (settled) return;
        counted = true;
        sentUnanswered++;
        maybeKill();
      });
      try {
        const { status, body } = await response;
        settled = true;
        if (counted) sentUnanswered--;
        answered++;
        outcomes.push({ email, answered: true, status, body });
        maybeKill();
      } catch (error) {
        settled = true;
        if (counted) sentUnanswered--;
        outcomes.push({ email, answered: false, error: String(error) });
      }
    }
  };
  await within(Promise.all(Array.from({ length: CONCURRENCY }, worker)), LOAD_TIMEOUT_MS, `round ${round}'s load and kill`);
  expect(killed, `the server was not killed after ${issued} requests (${answered} answered)`).toBe(true);
  expect(await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  return { outcomes, inFlightAtKill };
}

function answeredWithUser(outcome: Outcome): boolean {
  return outcome.answered && (outcome.body as { data?: { register?: { __typename?: string } } }).data?.register?.__typename === 'User';
}

/** Runs `task` over `items`, `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) results.push(...(await Promise.all(items.slice(i, i + limit).map(task))));
  return results;
}

describe(`crash safety on ${provider}: kill -9 during a load of registrations`, () => {
  beforeAll(async () => {
    database = await freshDatabase(inject('templateDatabase'));
  });

  afterAll(async () => {
    await servers.killAll();
    await database?.drop();
  });

  KILL_AFTER_ANSWERS.forEach((killAfter, index) => {
    const round = index + 1;
    it(`round ${round}: registrations answered until SIGKILL with requests in flight`, { timeout: 120_000 }, async () => {
      const server = await startServer();
      const result = await registerUntilKilled(server, round, killAfter);
      rounds.push(result);

      expect(result.inFlightAtKill).toBeGreaterThan(0);
      // Before the kill, every answer was a new User: nothing failed under the load itself.
      const answers = result.outcomes.filter((outcome) => outcome.answered);
      expect(answers.length).toBeGreaterThanOrEqual(killAfter);
      for (const outcome of answers) {
        expect(outcome).toEqual({
          email: outcome.email,
          answered: true,
          status: 200,
          body: { data: { register: expect.objectContaining({ __typename: 'User', id: expect.any(String), email: outcome.email }) } },
        });
      }
      expect(result.outcomes.filter((outcome) => !outcome.answered).length).toBeGreaterThan(0);
      expect(server.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
    });
  });

  it('after a restart every answered registration exists and signs in; unanswered ones exist whole or not at all', { timeout: 120_000 }, async () => {
    expect(rounds).toHaveLength(KILL_AFTER_ANSWERS.length);
    const server = await startServer();
    const outcomes = rounds.flatMap((round) => round.outcomes);
    const sent = new Set(outcomes.map((outcome) => outcome.email));
    const answered = outcomes.filter(answeredWithUser).map((outcome) => outcome.email);

    const prisma = await connectDatabase(database.url);
    let rows: { email: string; passwordHash: string; isActive: boolean }[];
    let registered: string[];
    try {
      rows = await prisma.user.findMany({ select: { email: true, passwordHash: true, isActive: true } });
      registered = (
        await prisma.authEvent.findMany({ where: { kind: 'REGISTERED', email: { in: answered } }, select: { email: true } })
      ).map((event) => event.email!);
    } finally {
      await prisma.$disconnect();
    }
    const stored = new Set(rows.map((row) => row.email));

    expect(rows.length).toBe(stored.size);
    expect(rows.filter((row) => !sent.has(row.email))).toEqual([]);
    expect(answered.filter((email) => !stored.has(email))).toEqual([]);
    // Whatever exists is whole: an active account with a bcrypt hash of the password it was sent.
    for (const row of rows) {
      expect({ email: row.email, isActive: row.isActive, hash: /^\$2[aby]\$10\$[./A-Za-z0-9]{53}$/.test(row.passwordHash) }).toEqual({
        email: row.email,
        isActive: true,
        hash: true,
      });
    }
    const refused = await inBatches([...stored], LOGIN_CONCURRENCY, async (email) => {
      try {
        await new TestClient(server.url).login(email, TEST_PASSWORD);
        return null;
      } catch (error) {
        return `${email}: ${String(error)}`;
      }
    });
    expect(refused.filter(Boolean)).toEqual([]);
    // Each answer came after its audit event was written, so the event survived the crash too.
    expect([...new Set(registered)].sort()).toEqual([...answered].sort());

    expect(await servers.stop(server)).toEqual({ code: 0, signal: null });
    for (const each of allServers) expect(each.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
    console.info(
      `crash test (${provider}): ${outcomes.length} registrations sent, ${answered.length} answered, ` +
        `${rounds.map((round) => round.inFlightAtKill).join(' + ')} in flight at the kills, ` +
        `${rows.length - answered.length} unanswered ones committed`,
    );
  });

  it('the database passes its integrity check', async ({ annotate }) => {
    if (!testServerUrl) {
      // The last server was stopped, so the file is complete on its own.
      const file = new openSqlite(sqliteFile(database.url), { readonly: true, fileMustExist: true });
      try {
        expect(file.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
        expect(file.pragma('foreign_key_check')).toEqual([]);
      } finally {
        file.close();
      }
      return;
    }

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const duplicates = await client.query('SELECT "email", count(*)::int AS count FROM "User" GROUP BY "email" HAVING count(*) > 1');
      expect(duplicates.rows).toEqual([]);

      let amcheck = true;
      try {
        await client.query('CREATE EXTENSION IF NOT EXISTS amcheck');
      } catch (error) {
        if ((error as { code?: string }).code !== '42501') throw error;
        amcheck = false;
        const note = `amcheck skipped: this role may not CREATE EXTENSION amcheck (${(error as Error).message}); compared an index scan of "User_email_key" with a table scan instead`;
        console.warn(note);
        await annotate(note, 'notice');
      }
      if (amcheck) {
        // heapallindexed: every row of the table is also found in the index.
        await client.query(`SELECT bt_index_check('"User_email_key"'::regclass, true)`);
        const indexes = await client.query(
          `SELECT c.oid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE am.amname = 'btree' AND n.nspname = current_schema()`,
        );
        for (const { name } of indexes.rows) await client.query('SELECT bt_index_check($1::regclass, true)', [name]);
        return;
      }

      // Without amcheck: the unique index and the table must hold exactly the same emails.
      await client.query('BEGIN');
      try {
        await client.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off');
        const plan = await client.query('EXPLAIN SELECT "email" FROM "User" ORDER BY "email"');
        expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('User_email_key');
        const viaIndex = await client.query('SELECT "email" FROM "User" ORDER BY "email"');
        await client.query('SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off');
        const viaTable = await client.query('SELECT "email" FROM "User"');
        const emails = (result: pg.QueryResult) => result.rows.map((row) => row.email as string).sort();
        expect(emails(viaIndex)).toEqual(emails(viaTable));
        expect(viaTable.rows.length).toBeGreaterThan(0);
      } finally {
        await client.query('ROLLBACK');
      }
    } finally {
      await client.end();
    }
  });
});
