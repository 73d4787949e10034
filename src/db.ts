import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import type pg from 'pg';
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
      // WAL lets readers proceed during a write and makes each commit ~4x cheaper (docs/prisma-offline.md).
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

/**
 * Single-row reads beside Prisma, for the hottest lookups: the session and its user on every
 * signed-in request, and a cursor's sort key. A Prisma query costs 0.2–0.7 ms of CPU (Prisma 6
 * compiles every query in WASM); the same statement costs ~0.005 ms on better-sqlite3 and 0.12 ms
 * through `pg` (0.43 through Prisma's raw query). The SQL must be valid on both databases, with `?`
 * for parameters.
 */
export interface DirectReads {
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  close(): Promise<void>;
}

/**
 * A second connection to the SQLite file. In WAL mode it reads alongside Prisma's connection and
 * sees everything committed before it. Close it before Prisma's connection, which, closing last,
 * folds the write-ahead log back into the file.
 */
export function openSqliteReads(databaseUrl: string): DirectReads {
  // The same version as the driver of Prisma's adapter (package.json pins it), so one copy is installed.
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options: { fileMustExist: boolean; timeout: number }) => SqliteConnection;
  const connection = new Sqlite(sqliteFile(databaseUrl), { fileMustExist: true, timeout: 5000 });
  const statements = new Map<string, SqliteStatement>();
  return {
    get<T>(sql: string, ...params: unknown[]) {
      return new Promise<T | undefined>((resolve) => {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
        resolve(statement.get(...params) as T | undefined);
      });
    },
    close: async () => connection.close(),
  };
}

/**
 * A small `pg` pool of the service's own, beside Prisma's: direct reads (`postgresReads`) and the
 * rate-limit counters use it. Prisma keeps DateTime columns as `timestamp(3)` in UTC, which `pg`
 * would read as local time: here they are read as UTC.
 */
export async function openPostgresPool(databaseUrl: string, max: number): Promise<pg.Pool> {
  const { default: pgModule } = await import('pg');
  const utcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
  return new pgModule.Pool({
    connectionString: databaseUrl,
    max,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === pgModule.types.builtins.TIMESTAMP ? utcTimestamp : pgModule.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
}

/** Direct reads on `pool` as named prepared statements (closing the pool is its owner's part). */
export function postgresReads(pool: pg.Pool): DirectReads {
  const names = new Map<string, { name: string; text: string }>();
  return {
    async get<T>(sql: string, ...params: unknown[]) {
      let statement = names.get(sql);
      if (!statement) {
        let index = 0;
        statement = { name: `direct_${names.size}`, text: sql.replace(/\?/g, () => `$${++index}`) };
        names.set(sql, statement);
      }
      const result = await pool.query({ ...statement, values: params });
      return result.rows[0] as T | undefined;
    },
    close: async () => undefined,
  };
}

/** `reads` that also report each statement to `onQuery`, as Prisma's statements are (tests see every statement). */
export function reportingReads(reads: DirectReads, onQuery: (sql: string) => void): DirectReads {
  return {
    get<T>(sql: string, ...params: unknown[]) {
      onQuery(sql);
      return reads.get<T>(sql, ...params);
    },
    close: () => reads.close(),
  };
}
