// npm run db:migrate -- --name add_something
// Writes a migration, for SQLite and for PostgreSQL, for the changes in prisma/schema.prisma (run
// `npm run db:derive` first): it applies every existing SQLite migration
// to a scratch database, introspects it, and diffs that against the schema. `prisma migrate dev`
// cannot do this with the WASM engine on SQLite (shadow database defect, see docs/prisma-offline.md), and
// `migrate diff` takes no database URL when a driver adapter is configured.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyMigrations } from '../src/migrate.ts';
import { postgresSchema } from './postgresSchema.ts';

const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const { values } = parseArgs({ options: { name: { type: 'string' } } });
const name = values.name?.trim().replace(/[^a-zA-Z0-9]+/g, '_').toLowerCase();
if (!name) {
  console.error('Usage: npm run db:migrate -- --name what_changed');
  process.exit(1);
}

const postgresUrl = process.env.TEST_DATABASE_URL?.trim();
if (!postgresUrl) {
  console.error('Set TEST_DATABASE_URL to a PostgreSQL server (as for the tests): the PostgreSQL migration is diffed there.');
  process.exit(1);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-migrate-'));
try {
  const url = `file:${path.join(scratch, 'scratch.db')}`;
  await applyMigrations(url);
  const prisma = (...args: string[]) =>
    execFileSync(process.execPath, [prismaCli, ...args], {
      env: { ...process.env, DATABASE_URL: url },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const migrated = path.join(scratch, 'migrated.prisma');
  const pulled = prisma('db', 'pull', '--print');
  const migratedModel = pulled.slice(pulled.search(/^(generator|datasource|model) /m));
  fs.writeFileSync(migrated, migratedModel);
  const sql = prisma('migrate', 'diff', '--from-schema-datamodel', migrated, '--to-schema-datamodel', 'prisma/schema.prisma', '--script');
  if (!/^\s*(CREATE|ALTER|DROP|INSERT|PRAGMA|UPDATE)/im.test(sql)) {
    console.log('No schema changes: nothing to migrate.');
  } else {
    // PostgreSQL's migration is the diff between the same two models under its provider. Prisma
    // connects even for a datamodel diff, so this needs a server (the one the tests use).
    const migratedPostgres = path.join(scratch, 'migrated-postgresql.prisma');
    fs.writeFileSync(migratedPostgres, postgresSchema(migratedModel));
    const postgresSql = execFileSync(
      process.execPath,
      [prismaCli, 'migrate', 'diff', '--from-schema-datamodel', migratedPostgres, '--to-schema-datamodel', 'prisma/postgresql/schema.prisma', '--script'],
      { env: { ...process.env, DATABASE_URL: postgresUrl }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    for (const [root, script] of [['prisma', sql], [path.join('prisma', 'postgresql'), postgresSql]] as const) {
      const folder = path.join(root, 'migrations', `${stamp}_${name}`);
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, 'migration.sql'), script);
      console.log(`wrote ${folder}/migration.sql`);
    }
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
