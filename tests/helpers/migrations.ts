import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { createPostgresDatabase, dropPostgresDatabase, testServerUrl } from './databases.ts';

/** Just what a migration check needs of better-sqlite3 (which has no bundled types). */
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => {
  exec(sql: string): void;
  prepare(sql: string): { all(): unknown[] };
  close(): void;
};

const root = testServerUrl ? path.join('prisma', 'postgresql', 'migrations') : path.join('prisma', 'migrations');
const folders = fs.readdirSync(root).filter((name) => /^\d+_/.test(name)).sort();
const migrationSql = (folder: string) => fs.readFileSync(path.join(root, folder, 'migration.sql'), 'utf8');

export type Row = Record<string, unknown>;
/** Plain SQL on a scratch database: several statements at once for `exec`. */
export interface ScratchDb {
  exec(sql: string): Promise<void>;
  query(sql: string): Promise<Row[]>;
}

/**
 * A scratch database of the suite's kind (SQLite, or PostgreSQL in the PostgreSQL run) with the
 * migrations before the one named `name` applied; `run` gets it and that migration's SQL, to put
 * rows in place before applying it. The database is gone afterwards.
 */
export async function withMigrationsBefore(name: string, run: (db: ScratchDb, migration: string) => Promise<void>): Promise<void> {
  const index = folders.findIndex((folder) => folder.endsWith(`_${name}`));
  expect(index).toBeGreaterThan(0);
  const go = async (db: ScratchDb) => {
    for (const folder of folders.slice(0, index)) await db.exec(migrationSql(folder));
    await run(db, migrationSql(folders[index]!));
  };
  if (testServerUrl) {
    const database = `auth_test_migration_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const client = new pg.Client({ connectionString: await createPostgresDatabase(database) });
    await client.connect();
    try {
      await go({ exec: async (text) => void (await client.query(text)), query: async (text) => (await client.query(text)).rows });
    } finally {
      await client.end();
      await dropPostgresDatabase(database);
    }
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-migration-'));
    const db = new Sqlite(path.join(dir, 'app.db'));
    try {
      await go({ exec: async (text) => void db.exec(text), query: async (text) => db.prepare(text).all() as Row[] });
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
