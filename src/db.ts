import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type pg from 'pg';
import { databaseProvider } from './config.ts';
import type { PrismaClient } from './generated/prisma/client.ts';

/** Both providers' clients have the same models and API; the SQLite one's types stand for both. */
export type Database = PrismaClient;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** Node's socket errors and PostgreSQL's SQLSTATEs that mean the server is gone or not taking work now. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', // admin_shutdown: "terminating connection due to administrator command"
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: "the database system is starting up / shutting down"
  '53300', // too_many_connections
  // Prisma's: cannot reach the server, operation timed out, server closed the connection, no pool connection in time.
  'P1001', 'P1002', 'P1008', 'P1017', 'P2024',
]);
/** Kinds of the errors Prisma's driver adapters report (DriverAdapterError's cause). */
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** `pg`'s own errors carry no code. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|Can't reach database server|Server has closed the connection/i;

/**
 * Whether `test` holds for the error or anything it wraps: its `cause`, GraphQL's `originalError`
 * and Prisma's `meta.driverAdapterError`, a few levels deep.
 */
function inErrorChain(error: unknown, test: (fields: Record<string, unknown>) => boolean): boolean {
  const seen = new Set<unknown>();
  const pending = [error];
  while (pending.length > 0 && seen.size < 10) {
    const current = pending.pop();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const fields = current as Record<string, unknown>;
    if (test(fields)) return true;
    pending.push(fields.cause, fields.originalError, (fields.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError);
  }
  return false;
}

/**
 * Whether an error means the database cannot be reached right now (a restart, a stop, a network
 * fault) rather than a fault of the request or the code: such requests are answered
 * SERVICE_UNAVAILABLE. The one place that knows what `pg`, Prisma and its pg adapter throw then.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return inErrorChain(error, ({ code, kind, message }) =>
    (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) ||
    (typeof kind === 'string' && UNAVAILABLE_KINDS.has(kind)) ||
    (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)),
  );
}

/** SQLite's SQLITE_FULL and PostgreSQL's disk_full (53100), as their drivers report them. */
const STORAGE_FULL = /database or disk is full|No space left on device|could not extend file|SQLITE_FULL/i;

/** Whether an error means writes fail for lack of space: answered SERVICE_UNAVAILABLE, and shown by /health. */
export function isStorageFull(error: unknown): boolean {
  return inErrorChain(error, ({ code, message }) =>
    code === '53100' || code === 'SQLITE_FULL' || (typeof message === 'string' && STORAGE_FULL.test(message)),
  );
}

/**
 * Remembers writes that failed for lack of space, so that /health can say so: its own probe only
 * reads (a probe that writes would cost a write per probe and still pass on a full disk, as SQLite
 * reuses the space of its write-ahead log and PostgreSQL that of dead rows). /health answers 503 for
 * FULL_FOR_MS after the last such failure.
 */
export class StorageFullness {
  static readonly FULL_FOR_MS = 30_000;
  private lastFullAt = Number.NEGATIVE_INFINITY;

  note(error: unknown): void {
    if (isStorageFull(error)) this.lastFullAt = Date.now();
  }

  get full(): boolean {
    return Date.now() - this.lastFullAt < StorageFullness.FULL_FOR_MS;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How often a process that starts during an outage tries the database again. */
const RECONNECT_INTERVAL_MS = 1000;

/** The file behind a `file:` URL, so its folder can be created before first use. */
export function sqliteFile(databaseUrl: string): string {
  return path.resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''));
}

export interface ConnectOptions {
  /** Connections per process on PostgreSQL. */
  poolSize?: number;
  onQuery?: (sql: string) => void;
  /**
   * PostgreSQL: while the server cannot be reached, try again every second instead of failing;
   * called before each wait. Without it an unreachable server fails like any other error.
   */
  onUnavailable?: (error: unknown, attempt: number) => void;
  /** A connection of Prisma's pool was lost (the pool replaces it at the next query). */
  onConnectionError?: (error: Error) => void;
}

export async function connectDatabase(databaseUrl: string, options: ConnectOptions = {}): Promise<Database> {
  const postgres = databaseProvider(databaseUrl) === 'postgresql';
  const settings = {
    log: options.onQuery ? [{ emit: 'event' as const, level: 'query' as const }] : [],
    // The hash leaves the database only where a query asks for it by name.
    omit: { user: { passwordHash: true } },
  };
  // Each database's driver and client load only when used: a cluster's primary, which imports
  // this module but serves nothing, loads neither.
  const prisma = (
    postgres
      ? await connectPostgres(databaseUrl, settings, options.poolSize ?? 10, options.onConnectionError)
      : await connectSqlite(databaseUrl, settings)
  ) as unknown as PrismaClient<'query'>;
  if (options.onQuery) prisma.$on('query', (event) => options.onQuery!(event.query));
  try {
    if (postgres) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await prisma.$queryRawUnsafe('SELECT 1');
          break;
        } catch (error) {
          if (!options.onUnavailable || !isDatabaseUnavailable(error)) throw error;
          options.onUnavailable(error, attempt);
          await sleep(RECONNECT_INTERVAL_MS);
        }
      }
    } else {
      // First, so that the next statements wait for a lock another process holds (a second
      // worker starting, `npm run create-admin`) instead of failing at once with SQLITE_BUSY.
      await prisma.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
      // WAL lets readers proceed during a write and makes each commit ~4x cheaper (docs/prisma-offline.md).
      await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
      await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
      await prisma.$queryRawUnsafe('PRAGMA foreign_keys = ON');
    }
  } catch (error) {
    await prisma.$disconnect().catch(() => undefined);
    throw new DatabaseError(`Cannot open the database: ${(error as Error).message}`);
  }
  return prisma as unknown as Database;
}

async function connectSqlite(databaseUrl: string, settings: object) {
  const [{ PrismaBetterSQLite3 }, { PrismaClient: SqliteClient }] = await Promise.all([
    import('@prisma/adapter-better-sqlite3'),
    import('./generated/prisma/client.ts'),
  ]);
  return new SqliteClient({ ...settings, adapter: new PrismaBetterSQLite3({ url: databaseUrl }) });
}

async function connectPostgres(databaseUrl: string, settings: object, poolSize: number, onConnectionError?: (error: Error) => void) {
  const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
    import('@prisma/adapter-pg'),
    import('./generated/prisma-postgresql/client.ts'),
  ]);
  // The adapter makes its own pg.Pool and listens to its 'error' events (a connection lost while
  // idle, e.g. at a server restart), passing them to onPoolError; a connection lost inside a
  // transaction goes to onConnectionError. Either way the pool drops that connection and opens a
  // new one at the next query.
  const adapter = new PrismaPg(
    { ...postgresConnection(databaseUrl), max: poolSize },
    { onPoolError: onConnectionError, onConnectionError },
  );
  return new PostgresClient({ ...settings, adapter });
}

/**
 * How long the start-up probe waits for a connection. Not set on the pools: there `pg` applies it to
 * waiting for a free pool connection too, which a burst of requests may rightly do for longer.
 */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * `pg`'s settings for a DATABASE_URL. `pgbouncer=true` (Prisma's name for it) says that a PgBouncer
 * in transaction mode stands between: it is not a PostgreSQL parameter, so it is taken off the URL.
 */
export function postgresConnection(databaseUrl: string): { connectionString: string; pgbouncer: boolean } {
  const url = new URL(databaseUrl);
  const pgbouncer = url.searchParams.get('pgbouncer') === 'true';
  url.searchParams.delete('pgbouncer');
  return { connectionString: url.toString(), pgbouncer };
}

/**
 * Waits while PostgreSQL cannot be reached (trying every second, calling `onUnavailable` before
 * each wait), so that a process started during an outage comes up when the server does. Returns
 * at once on SQLite, when the server answers, and on any other error (a wrong password, a missing
 * database), which the next step then reports.
 */
export async function waitForDatabase(databaseUrl: string, onUnavailable: (error: unknown, attempt: number) => void): Promise<void> {
  if (databaseProvider(databaseUrl) !== 'postgresql') return;
  const { default: pgModule } = await import('pg');
  const { connectionString } = postgresConnection(databaseUrl);
  for (let attempt = 1; ; attempt += 1) {
    const client = new pgModule.Client({ connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) return;
      onUnavailable(error, attempt);
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(RECONNECT_INTERVAL_MS);
  }
}

/**
 * SQLite: creates the file's folder, and refuses a file or folder the process cannot write (SQLite
 * writes the file and, beside it, its write-ahead log), which Prisma's migration engine would only
 * report as `External error id#0`.
 */
export function ensureDatabaseFolder(databaseUrl: string): void {
  if (databaseProvider(databaseUrl) !== 'sqlite') return;
  const file = sqliteFile(databaseUrl);
  const folder = path.dirname(file);
  fs.mkdirSync(folder, { recursive: true });
  const writable = (target: string) => {
    try {
      fs.accessSync(target, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (fs.existsSync(file) && !writable(file)) {
    throw new DatabaseError(`the SQLite database file ${file} cannot be written (it is read-only for this user): give the service's user write access to it`);
  }
  if (!writable(folder)) {
    throw new DatabaseError(
      `the folder of the SQLite database, ${folder}, cannot be written (it is read-only for this user): SQLite keeps its write-ahead log beside the file, so the service's user needs write access to the folder`,
    );
  }
}

/** The part of better-sqlite3 used for direct reads (it ships no types). */
interface SqliteStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  close(): void;
}

/**
 * Reads beside Prisma, for the hottest lookups: the session and its user on every signed-in
 * request, a user by id, a page of users and its count, a cursor's sort key. A Prisma query costs 0.2–0.7 ms of CPU (Prisma 6
 * compiles every query in WASM); the same statement costs ~0.005 ms on better-sqlite3 and 0.12 ms
 * through `pg` (0.43 through Prisma's raw query). The SQL must be valid on both databases, with `?`
 * for parameters.
 */
export interface DirectReads {
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
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
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
    return statement;
  };
  return {
    get<T>(sql: string, ...params: unknown[]) {
      return new Promise<T | undefined>((resolve) => resolve(prepared(sql).get(...params) as T | undefined));
    },
    all<T>(sql: string, ...params: unknown[]) {
      return new Promise<T[]>((resolve) => resolve(prepared(sql).all(...params) as T[]));
    },
    close: async () => connection.close(),
  };
}

/**
 * A small `pg` pool of the service's own, beside Prisma's: direct reads (`postgresReads`) and the
 * rate-limit counters use it. Prisma keeps DateTime columns as `timestamp(3)` in UTC, which `pg`
 * would read as local time: here they are read as UTC.
 *
 * `onConnectionError` hears of connections lost while idle (a server restart or stop ends them
 * all): without a listener the pool's 'error' event would end the process. The pool opens new
 * connections at the next query, so the service recovers as soon as the server is back.
 *
 * Behind PgBouncer in transaction mode (`pgbouncer=true` on the URL) statements go unnamed: a named
 * statement is prepared on one server connection and PgBouncer (before 1.21) may run the next
 * query on another, which does not know it. Both users of the pool (`postgresReads`, and
 * rate-limiter-flexible's counters) name their statements, so names are dropped here, in one place.
 */
export async function openPostgresPool(databaseUrl: string, max: number, onConnectionError: (error: Error) => void): Promise<pg.Pool> {
  const { default: pgModule } = await import('pg');
  const { connectionString, pgbouncer } = postgresConnection(databaseUrl);
  const utcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
  const pool = new pgModule.Pool({
    connectionString,
    max,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === pgModule.types.builtins.TIMESTAMP ? utcTimestamp : pgModule.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
  pool.on('error', onConnectionError);
  if (pgbouncer) {
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    pool.query = ((config: unknown, ...rest: unknown[]) =>
      query(config && typeof config === 'object' && 'name' in config ? { ...config, name: undefined } : config, ...rest)) as typeof pool.query;
  }
  return pool;
}

/** Direct reads on `pool` as named prepared statements (closing the pool is its owner's part). */
export function postgresReads(pool: pg.Pool): DirectReads {
  const names = new Map<string, { name: string; text: string }>();
  const rows = async (sql: string, params: unknown[]) => {
    let statement = names.get(sql);
    if (!statement) {
      let index = 0;
      statement = { name: `direct_${names.size}`, text: sql.replace(/\?/g, () => `$${++index}`) };
      names.set(sql, statement);
    }
    return (await pool.query({ ...statement, values: params })).rows;
  };
  return {
    async get<T>(sql: string, ...params: unknown[]) {
      return (await rows(sql, params))[0] as T | undefined;
    },
    async all<T>(sql: string, ...params: unknown[]) {
      return (await rows(sql, params)) as T[];
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
    all<T>(sql: string, ...params: unknown[]) {
      onQuery(sql);
      return reads.all<T>(sql, ...params);
    },
    close: () => reads.close(),
  };
}
