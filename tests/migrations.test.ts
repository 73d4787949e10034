import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../scripts/startCommand.ts';
import { TEST_PASSWORD, TestClient } from './helpers/app.ts';
import { createPostgresDatabase, dropPostgresDatabase, freshDatabase, testServerUrl } from './helpers/databases.ts';
import { freePort, post, ServerProcesses, type RunningServer } from './helpers/server.ts';
import { Register } from './operations/auth.ts';
import { UserCount } from './operations/users.ts';

// What operators do beside a running service: `npm run create-admin` on the database it serves,
// a second server (or several at once) on one database. Each applies migrations first.

const provider = testServerUrl ? 'PostgreSQL' : 'SQLite';
const servers = new ServerProcesses();
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await servers.killAll();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
afterAll(() => servers.killAll());

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `npm run create-admin` exactly as the README has an operator run it; `stderr()` while it runs. */
function createAdmin(env: Record<string, string>, email: string): Promise<Outcome> & { stderr(): string } {
  const started = Date.now();
  let child!: ReturnType<typeof execFile>;
  const outcome = new Promise<Outcome>((resolve) => {
    child = execFile(
      'npm',
      ['run', '--silent', 'create-admin', '--', '--email', email, '--password', 'a-long-admin-passphrase'],
      { cwd: PROJECT_ROOT, env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', BCRYPT_COST: '10', ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer | string) => (stderr += chunk.toString()));
  return Object.assign(outcome, { stderr: () => stderr });
}

/** A migrated database (a copy of the suite's template), as a running service has. */
async function migratedDatabase() {
  const database = await freshDatabase(inject('templateDatabase'));
  cleanups.push(database.drop);
  return { DATABASE_URL: database.url, DATA_DIR: database.dir };
}

/** A database with no tables yet, as on a first deploy. */
async function emptyDatabase() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-migrations-'));
  if (!testServerUrl) {
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    return { DATABASE_URL: `file:${path.join(dir, 'app.db')}`, DATA_DIR: dir };
  }
  const name = `auth_test_${process.pid}_empty_${Math.random().toString(36).slice(2, 8)}`;
  const url = await createPostgresDatabase(name);
  cleanups.push(async () => {
    await dropPostgresDatabase(name);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { DATABASE_URL: url, DATA_DIR: dir };
}

/** Keeps `concurrency` registrations in flight until stopped; every answer must be a User. */
function load(server: RunningServer, concurrency: number) {
  let stopped = false;
  let answered = 0;
  const problems: unknown[] = [];
  const worker = async (w: number) => {
    for (let i = 0; !stopped; i += 1) {
      const { response } = post(
        server.url,
        Register,
        { input: { email: `load-${w}-${i}@example.com`, password: TEST_PASSWORD } },
        { 'x-forwarded-for': `10.79.${w}.${i % 250}` },
      );
      const { status, body } = await response;
      if (status !== 200 || body.data?.register.__typename !== 'User') problems.push({ status, body });
      answered += 1;
    }
  };
  const running = Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return {
    answered: () => answered,
    async stop() {
      stopped = true;
      await running;
      return { answered, problems };
    },
  };
}

async function signInAs(server: RunningServer, email: string, password: string): Promise<TestClient> {
  const client = new TestClient(server.url, { 'x-forwarded-for': '10.79.255.1' });
  await client.login(email, password);
  return client;
}

describe(`npm run create-admin beside a running server (${provider})`, () => {
  for (const webConcurrency of ['1', '2']) {
    it(`works while a server with WEB_CONCURRENCY=${webConcurrency} serves registrations on the same database`, { timeout: 120_000 }, async () => {
      const env = await migratedDatabase();
      const server = await servers.start({ ...env, WEB_CONCURRENCY: webConcurrency, LOG_LEVEL: 'warn' });
      const traffic = load(server, 3);
      while (traffic.answered() < 3) await new Promise((resolve) => setTimeout(resolve, 50));

      const created = await createAdmin(env, 'live-admin@example.com');
      const promoted = await createAdmin(env, 'load-0-0@example.com');
      const { answered, problems } = await traffic.stop();

      expect(created).toMatchObject({ code: 0, stderr: '' });
      expect(created.stdout).toMatch(/^Created staff user live-admin@example\.com \(id \d+\)\.$/m);
      expect(promoted).toMatchObject({ code: 0, stdout: 'load-0-0@example.com is now staff (password unchanged).\n' });
      expect(problems).toEqual([]);
      expect(answered).toBeGreaterThan(3);

      // The server sees the new admin at once, and so does its audit of the staff check.
      const admin = await signInAs(server, 'live-admin@example.com', 'a-long-admin-passphrase');
      const users = await admin.request(UserCount);
      expect(users.errors).toBeUndefined();
      expect(users.data?.users.totalCount).toBeGreaterThanOrEqual(answered + 1);
      expect(server.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
    });
  }
});

describe(`several servers on one database (${provider})`, () => {
  it('a second server starts beside one that has written to the database', { timeout: 120_000 }, async () => {
    const env = await migratedDatabase();
    const first = await servers.start({ ...env, LOG_LEVEL: 'warn' });
    const traffic = load(first, 2);
    while (traffic.answered() < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await servers.start({ ...env, LOG_LEVEL: 'warn' });
    const { problems } = await traffic.stop();
    expect(problems).toEqual([]);
    const { status, body } = await post(second.url, Register, { input: { email: 'second@example.com', password: TEST_PASSWORD } }).response;
    expect({ status, body }).toEqual({ status: 200, body: { data: { register: expect.objectContaining({ __typename: 'User' }) } } });
  });

  it('three servers started at once on a database without tables all migrate it once and serve', { timeout: 150_000 }, async () => {
    const env = await emptyDatabase();
    const started = await Promise.all([1, 2, 3].map((i) => servers.start({ ...env, LOG_LEVEL: 'info', WEB_CONCURRENCY: i === 3 ? '2' : '1' })));
    for (const [i, server] of started.entries()) {
      const { status, body } = await post(server.url, Register, { input: { email: `at-once-${i}@example.com`, password: TEST_PASSWORD } }).response;
      expect({ status, body }).toEqual({ status: 200, body: { data: { register: expect.objectContaining({ __typename: 'User' }) } } });
    }
  });
});

/** Just what the lock needs of better-sqlite3 (which has no bundled types). */
interface SqliteFile {
  exec(sql: string): void;
  close(): void;
}
const openSqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => SqliteFile;

(testServerUrl ? describe.skip : describe)('pending migrations while another process holds the SQLite file', () => {
  it('waits for the lock, then migrates', { timeout: 120_000 }, async () => {
    const env = await emptyDatabase();
    const holder = new openSqlite(env.DATABASE_URL.slice('file:'.length));
    holder.exec('BEGIN EXCLUSIVE');
    const running = createAdmin(env, 'patient-admin@example.com');
    // Held until create-admin says it waits (bounded by the test's timeout), then let go.
    while (!/is locked by another process/.test(running.stderr())) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    holder.exec('ROLLBACK');
    holder.close();
    const outcome = await running;
    expect(outcome.stderr).toMatch(/is locked by another process; waiting up to 120 seconds for it, to apply the pending migrations/);
    expect(outcome).toMatchObject({ code: 0 });
    expect(outcome.stdout).toMatch(/^Created staff user patient-admin@example\.com/m);
  });

  it('gives up after MIGRATION_LOCK_WAIT_SECONDS and says what to do', { timeout: 120_000 }, async () => {
    const env = await emptyDatabase();
    const holder = new openSqlite(env.DATABASE_URL.slice('file:'.length));
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const outcome = await createAdmin({ ...env, MIGRATION_LOCK_WAIT_SECONDS: '2' }, 'impatient-admin@example.com');
      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toBe('');
      const file = env.DATABASE_URL.slice('file:'.length);
      expect(outcome.stderr).toContain(
        `create-admin failed: Could not apply database migrations: the database file ${file} stayed locked by another process for 2 seconds. ` +
          'Applying migrations to SQLite needs the file to itself: stop the servers (and other programs) using it, start this once, then start the rest.',
      );
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });
});

describe('a database that cannot be reached', () => {
  it('is named, with what to check, when PostgreSQL does not answer', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-migrations-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const outcome = await createAdmin({ DATABASE_URL: `postgresql://auth:secret@127.0.0.1:${port}/auth`, DATA_DIR: dir }, 'nobody@example.com');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(
      new RegExp(`^create-admin failed: Could not connect to the database auth on 127\\.0\\.0\\.1:${port} to apply migrations: .*ECONNREFUSED.*\\. Check DATABASE_URL and that PostgreSQL is running and reachable\\.$`, 'm'),
    );
    expect(outcome.stderr).not.toContain('secret');
  });

  it('is named, with what to check, when the SQLite file is not a database', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-migrations-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'app.db');
    fs.writeFileSync(file, 'not a database, but long enough to be read as one '.repeat(20));
    const outcome = await createAdmin({ DATABASE_URL: `file:${file}`, DATA_DIR: dir }, 'nobody@example.com');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(
      `create-admin failed: Could not read the migrations of the database file ${file}: file is not a database (SQLITE_NOTADB). ` +
        "Check that DATABASE_URL names this service's SQLite file and that this user can read and write it.\n",
    );
  });
});
