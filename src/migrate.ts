import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseProvider, DEFAULT_MIGRATION_LOCK_WAIT_SECONDS } from './config.ts';
import { sqliteFile } from './db.ts';

/** The folder with package.json above this module: src/ in development, a build folder under dist-builds/ in production. */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const prismaCli = require.resolve('prisma/build/index.js');
const unrefLongTimers = path.join(projectRoot, 'prisma', 'unrefLongTimers.cjs');

const RETRY_PAUSE_MS = 500;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrateOptions {
  /** How long to wait for another process's lock on the database before giving up. */
  lockWaitSeconds?: number;
  /** Told once when another process holds the database and this one waits for it. */
  onWait?: (message: string) => void;
}

/**
 * Applies pending migrations with Prisma's own `migrate deploy`, as a deploy step would.
 *
 * `migrate deploy` needs the database to itself: on SQLite it fails whenever a running server has
 * the file open (after a busy timeout, as `unknown variant SocketTimeout`: Prisma 6.19's WASM
 * schema engine has no name for the driver's "database is locked"); on PostgreSQL it takes an
 * advisory lock that it waits 10 seconds for. So the migrations table is read first with a plain
 * query, and when nothing is pending Prisma is not run at all: a second server or `create-admin`
 * beside a running one starts at once. When some are pending and another process holds the lock,
 * this waits (up to `lockWaitSeconds`) and looks again: the other process may be a server applying
 * the same migrations.
 */
export async function applyMigrations(databaseUrl: string, options: MigrateOptions = {}): Promise<void> {
  const lockWaitSeconds = options.lockWaitSeconds ?? DEFAULT_MIGRATION_LOCK_WAIT_SECONDS;
  const deadline = Date.now() + lockWaitSeconds * 1000;
  let told = false;
  for (;;) {
    const state = await pendingMigrations(databaseUrl);
    if (state !== 'busy' && state.length === 0) return;
    const outcome = state === 'busy' ? ({ busy: true } as const) : await migrateDeploy(databaseUrl);
    if (!outcome.busy) return;
    if (Date.now() >= deadline) {
      throw new MigrationError(
        `Could not apply database migrations: ${where(databaseUrl)} stayed locked by another process for ` +
          `${lockWaitSeconds} seconds. ${
            databaseProvider(databaseUrl) === 'sqlite'
              ? 'Applying migrations to SQLite needs the file to itself: stop the servers (and other programs) using it, start this once, then start the rest.'
              : 'Another process is applying migrations or holds the lock: wait for it to finish, or find and stop it, then try again.'
          }`,
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(
        `${where(databaseUrl)} is locked by another process; waiting up to ${lockWaitSeconds} seconds for it, to apply the pending migrations`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
  }
}

function where(databaseUrl: string): string {
  if (databaseProvider(databaseUrl) === 'sqlite') return `the database file ${sqliteFile(databaseUrl)}`;
  const url = new URL(databaseUrl);
  return `the database ${url.pathname.slice(1)} on ${url.hostname}:${url.port || 5432}`;
}

/** The migration folders of this checkout, by name. */
function localMigrations(databaseUrl: string): string[] {
  const folder =
    databaseProvider(databaseUrl) === 'postgresql'
      ? path.join(projectRoot, 'prisma', 'postgresql', 'migrations')
      : path.join(projectRoot, 'prisma', 'migrations');
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(folder, entry.name, 'migration.sql')))
    .map((entry) => entry.name);
}

interface MigrationRow {
  migration_name: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/**
 * The migrations not yet applied, read from Prisma's `_prisma_migrations` table; all of them when
 * there is no database or table yet, and 'busy' when another process holds the database so that
 * even a read must wait. A failed migration counts as pending, so that `migrate deploy` reports it.
 */
async function pendingMigrations(databaseUrl: string): Promise<string[] | 'busy'> {
  const local = localMigrations(databaseUrl);
  const rows = databaseProvider(databaseUrl) === 'postgresql' ? await postgresRows(databaseUrl) : sqliteRows(databaseUrl);
  if (rows === 'busy') return rows;
  const applied = new Set(rows.filter((row) => row.finished_at !== null && row.rolled_back_at === null).map((row) => row.migration_name));
  const failed = rows.some((row) => row.finished_at === null && row.rolled_back_at === null);
  return failed ? local : local.filter((name) => !applied.has(name));
}

const READ_MIGRATIONS = 'SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations';

function sqliteRows(databaseUrl: string): MigrationRow[] | 'busy' {
  const file = sqliteFile(databaseUrl);
  if (!fs.existsSync(file)) return [];
  type Connection = { prepare(sql: string): { all(): unknown[] }; close(): void };
  const Sqlite = require('better-sqlite3') as new (file: string, options: object) => Connection;
  let connection: Connection | undefined;
  try {
    connection = new Sqlite(file, { fileMustExist: true, timeout: 1000 });
    return connection.prepare(READ_MIGRATIONS).all() as MigrationRow[];
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (/no such table/.test(message)) return [];
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'busy';
    throw new MigrationError(
      `Could not read the migrations of ${where(databaseUrl)}: ${message} (${code ?? 'no code'}). ` +
        'Check that DATABASE_URL names this service\'s SQLite file and that this user can read and write it.',
    );
  } finally {
    connection?.close();
  }
}

async function postgresRows(databaseUrl: string): Promise<MigrationRow[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === '3D000') return [];
    throw new MigrationError(
      `Could not connect to ${where(databaseUrl)} to apply migrations: ${message}${code ? ` (${code})` : ''}. ` +
        'Check DATABASE_URL and that PostgreSQL is running and reachable.',
    );
  }
  try {
    const schema = new URL(databaseUrl).searchParams.get('schema') ?? 'public';
    return (await client.query<MigrationRow>(READ_MIGRATIONS.replace('_prisma_migrations', `"${schema.replaceAll('"', '""')}"._prisma_migrations`))).rows;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === '42P01') return [];
    throw new MigrationError(`Could not read the migrations of ${where(databaseUrl)}: ${message}${code ? ` (${code})` : ''}.`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What `migrate deploy` says when another process holds the database or the migration lock. */
const LOCKED = /SocketTimeout|database is locked|SQLITE_BUSY|advisory lock|P1002/i;

function migrateDeploy(databaseUrl: string): Promise<{ busy: boolean }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--require', unrefLongTimers, prismaCli, 'migrate', 'deploy'],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ busy: false });
        const output = `${stdout}\n${stderr}`;
        if (LOCKED.test(output)) return resolve({ busy: true });
        const reason =
          output
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => /error|P\d{4}|unable|denied|cannot/i.test(line))
            .slice(0, 3)
            .join(' ') || error.message;
        reject(new MigrationError(`Could not apply database migrations to ${where(databaseUrl)}: ${reason}`));
      },
    );
  });
}
