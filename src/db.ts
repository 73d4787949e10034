import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { databaseProvider } from './config.ts';
import { PrismaClient } from './generated/prisma/client.ts';

/** Both providers' clients have the same models and API; the SQLite one's types stand for both. */
export type Database = PrismaClient;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** The file behind a `file:` URL, so its folder can be created before first use. */
export function sqliteFile(databaseUrl: string): string {
  return path.resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''));
}

export interface ConnectOptions {
  /** Connections per process on PostgreSQL. */
  poolSize?: number;
  onQuery?: (sql: string) => void;
}

export async function connectDatabase(databaseUrl: string, options: ConnectOptions = {}): Promise<Database> {
  const postgres = databaseProvider(databaseUrl) === 'postgresql';
  const settings = {
    log: options.onQuery ? [{ emit: 'event' as const, level: 'query' as const }] : [],
    // The hash leaves the database only where a query asks for it by name.
    omit: { user: { passwordHash: true } },
  };
  // PostgreSQL's driver and client load only when used (~3 MB a process otherwise).
  const prisma = (
    postgres
      ? await connectPostgres(databaseUrl, settings, options.poolSize ?? 10)
      : new PrismaClient({ ...settings, adapter: new PrismaBetterSQLite3({ url: databaseUrl }) })
  ) as unknown as PrismaClient<'query'>;
  if (options.onQuery) prisma.$on('query', (event) => options.onQuery!(event.query));
  try {
    if (postgres) {
      await prisma.$queryRawUnsafe('SELECT 1');
    } else {
      // WAL lets readers proceed during a write and makes each commit ~4x cheaper (see STACK.md).
      await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
      await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
      await prisma.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
      await prisma.$queryRawUnsafe('PRAGMA foreign_keys = ON');
    }
  } catch (error) {
    await prisma.$disconnect().catch(() => undefined);
    throw new DatabaseError(`Cannot open the database: ${(error as Error).message}`);
  }
  return prisma as unknown as Database;
}

async function connectPostgres(databaseUrl: string, settings: object, poolSize: number) {
  const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
    import('@prisma/adapter-pg'),
    import('./generated/prisma-postgresql/client.ts'),
  ]);
  return new PostgresClient({ ...settings, adapter: new PrismaPg({ connectionString: databaseUrl, max: poolSize }) });
}

export function ensureDatabaseFolder(databaseUrl: string): void {
  if (databaseProvider(databaseUrl) === 'sqlite') fs.mkdirSync(path.dirname(sqliteFile(databaseUrl)), { recursive: true });
}

/** The part of better-sqlite3 used for direct reads (it ships no types). */
interface SqliteStatement {
  get(...params: unknown[]): unknown;
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  close(): void;
}

/** Prepared single-row reads on a connection of their own (see `openSqliteReads`). */
export interface SqliteReads {
  get<T>(sql: string, ...params: unknown[]): T | undefined;
  close(): void;
}

/**
 * A second connection to the SQLite file for the hottest read (the session of every signed-in
 * request), run as a prepared statement without Prisma: a Prisma query costs 0.2–0.4 ms of CPU (its
 * query compiler runs for each one), the statement itself 0.005 ms. In WAL mode it reads alongside
 * Prisma's connection and sees everything committed before it. Close it before Prisma's connection,
 * which, closing last, folds the write-ahead log back into the file.
 */
export function openSqliteReads(databaseUrl: string): SqliteReads {
  // The same version as the driver of Prisma's adapter (package.json pins it), so one copy is installed.
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options: { fileMustExist: boolean; timeout: number }) => SqliteConnection;
  const connection = new Sqlite(sqliteFile(databaseUrl), { fileMustExist: true, timeout: 5000 });
  const statements = new Map<string, SqliteStatement>();
  return {
    get<T>(sql: string, ...params: unknown[]) {
      let statement = statements.get(sql);
      if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
      return statement.get(...params) as T | undefined;
    },
    close: () => connection.close(),
  };
}
