import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { defineConfig } from 'prisma/config';
import { postgresCliAdapter } from './prisma/postgresCliAdapter.ts';

// The CLI reads the datasource's env("DATABASE_URL") even with a driver adapter; without it, it
// falls back to the native engine, which cannot be downloaded on offline machines.
process.env.DATABASE_URL ??= 'file:./data/app.db';
const databaseUrl = process.env.DATABASE_URL;

// DATABASE_URL picks the provider: its own schema, migrations and adapter (the WASM schema engine).
const postgres = /^postgres(ql)?:\/\//.test(databaseUrl);
const folder = postgres ? path.join('prisma', 'postgresql') : 'prisma';

export default defineConfig({
  experimental: { adapter: true },
  schema: path.join(folder, 'schema.prisma'),
  migrations: { path: path.join(folder, 'migrations') },
  engine: 'js',
  async adapter() {
    return postgres ? postgresCliAdapter(databaseUrl) : new PrismaBetterSQLite3({ url: databaseUrl });
  },
});
