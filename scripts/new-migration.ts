// npm run db:migrate -- --name add_something
// Writes a migration for the changes in prisma/schema.prisma: it applies every existing migration
// to a scratch database, introspects it, and diffs that against the schema. `prisma migrate dev`
// cannot do this with the WASM engine on SQLite (shadow database defect, see STACK.md), and
// `migrate diff` takes no database URL when a driver adapter is configured.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyMigrations } from '../src/migrate.ts';

const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const { values } = parseArgs({ options: { name: { type: 'string' } } });
const name = values.name?.trim().replace(/[^a-zA-Z0-9]+/g, '_').toLowerCase();
if (!name) {
  console.error('Usage: npm run db:migrate -- --name what_changed');
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
  fs.writeFileSync(migrated, pulled.slice(pulled.search(/^(generator|datasource|model) /m)));
  const sql = prisma('migrate', 'diff', '--from-schema-datamodel', migrated, '--to-schema-datamodel', 'prisma/schema.prisma', '--script');
  if (!/^\s*(CREATE|ALTER|DROP|INSERT|PRAGMA|UPDATE)/im.test(sql)) {
    console.log('No schema changes: nothing to migrate.');
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const folder = path.join('prisma', 'migrations', `${stamp}_${name}`);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'migration.sql'), sql);
    console.log(`wrote ${folder}/migration.sql`);
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
