import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * Where the suite runs: SQLite files by default, or PostgreSQL when TEST_DATABASE_URL names a
 * server and a role that may create databases. Each test app gets a fresh copy of one migrated
 * template either way.
 */
export const testServerUrl = process.env.TEST_DATABASE_URL?.trim() || null;

/**
 * With TEST_PGBOUNCER_URL (a PgBouncer in transaction mode in front of TEST_DATABASE_URL's server,
 * e.g. postgresql://user:password@127.0.0.1:6432/), the apps and servers under test reach their
 * database through it, as `DATABASE_URL=...?pgbouncer=true` with `DIRECT_DATABASE_URL` for
 * migrations; databases are still created, copied and dropped directly.
 */
export const testPoolerUrl = (testServerUrl && process.env.TEST_PGBOUNCER_URL?.trim()) || null;

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testServerUrl! });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export const TEMPLATE_DATABASE = `auth_test_template_${process.pid}`;

export async function createPostgresDatabase(name: string, template?: string): Promise<string> {
  await admin((client) => client.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`));
  return withDatabase(testServerUrl!, name);
}

export async function dropPostgresDatabase(name: string): Promise<void> {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

export interface FreshDatabase {
  /** The app's DATABASE_URL. */
  url: string;
  /** The variables a server needs for it: DATABASE_URL, and DIRECT_DATABASE_URL through PgBouncer. */
  env: Record<string, string>;
  dir: string;
  drop: () => Promise<void>;
}

/** A fresh database for one test app, and how to remove it. */
export async function freshDatabase(template: string): Promise<FreshDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-test-'));
  if (!testServerUrl) {
    const file = path.join(dir, 'app.db');
    fs.copyFileSync(template, file);
    const url = `file:${file}`;
    return { url, env: { DATABASE_URL: url }, dir, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `auth_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const direct = await createPostgresDatabase(name, template);
  const url = testPoolerUrl ? `${withDatabase(testPoolerUrl, name)}?pgbouncer=true` : direct;
  return {
    url,
    env: testPoolerUrl ? { DATABASE_URL: url, DIRECT_DATABASE_URL: direct } : { DATABASE_URL: url },
    dir,
    drop: async () => {
      await dropPostgresDatabase(name);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
