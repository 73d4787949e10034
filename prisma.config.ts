import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

// The CLI reads the datasource's env("DATABASE_URL") even with a driver adapter; without it, it
// falls back to the native engine, which cannot be downloaded on offline machines.
process.env.DATABASE_URL ??= 'file:./data/app.db';
const databaseUrl = process.env.DATABASE_URL;

export default defineConfig({
  experimental: { adapter: true },
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  engine: 'js',
  async adapter() {
    return new PrismaBetterSQLite3({ url: databaseUrl });
  },
});
