// Fills a migrated SQLite file with users fast: one precomputed bcrypt hash for everybody, and
// batched multi-row INSERTs in one transaction through better-sqlite3 (the driver Prisma's adapter
// uses), so a million users take seconds rather than the hours that a hash each would.
import { createRequire } from 'node:module';

/** The few better-sqlite3 calls used here (the package ships no types, and @types is not installed). */
interface Statement {
  run(...params: unknown[]): unknown;
}
interface SqliteDatabase {
  pragma(source: string): unknown;
  prepare(source: string): Statement;
  exec(source: string): void;
  transaction<T extends (...args: never[]) => unknown>(run: T): T;
  close(): void;
}

const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => SqliteDatabase;

export const ADMIN_EMAIL = 'admin@bench.example';
export const BENCH_PASSWORD = 'Bench-Horse-Battery-42';
/** Rows per INSERT: 500 rows of 9 columns stay far below SQLite's 32,766 bound parameters. */
const BATCH = 500;
const COLUMNS = ['id', 'email', 'passwordHash', 'firstName', 'lastName', 'isStaff', 'isActive', 'dateJoined', 'lastLogin'];
/** Users joined one second apart, ending about now, so the default order (dateJoined, id) is the id order. */
const JOINED_STEP_MS = 1000;

export function userEmail(index: number): string {
  return `user${index}@bench.example`;
}

/** How Prisma's SQLite adapter stores a DateTime: ISO 8601 text with an explicit +00:00. */
function sqliteDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

/**
 * Inserts the admin (id 1, staff) and `count` users (ids 2.., emails `user1@bench.example`..)
 * into an empty, migrated database. Returns how long it took in ms.
 */
export function seedUsers(file: string, count: number, passwordHash: string): number {
  const started = performance.now();
  const db = new BetterSqlite3(file);
  try {
    // The file is thrown away if this fails: no journal needed while filling it.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const placeholders = (rows: number) =>
      Array.from({ length: rows }, () => `(${COLUMNS.map(() => '?').join(',')})`).join(',');
    const sql = (rows: number) => `INSERT INTO "User" (${COLUMNS.map((c) => `"${c}"`).join(',')}) VALUES ${placeholders(rows)}`;
    const full = db.prepare(sql(BATCH));
    const firstJoined = Date.now() - (count + 1) * JOINED_STEP_MS;
    const row = (id: number): unknown[] =>
      id === 1
        ? [1, ADMIN_EMAIL, passwordHash, 'Ada', 'Admin', 1, 1, sqliteDate(firstJoined), null]
        : [id, userEmail(id - 1), passwordHash, `First${id - 1}`, `Last${id - 1}`, 0, 1, sqliteDate(firstJoined + (id - 1) * JOINED_STEP_MS), null];
    const insertAll = db.transaction(() => {
      const total = count + 1;
      let id = 1;
      while (id <= total) {
        const rows = Math.min(BATCH, total - id + 1);
        const params: unknown[] = [];
        for (let i = 0; i < rows; i += 1) params.push(...row(id + i));
        (rows === BATCH ? full : db.prepare(sql(rows))).run(...params);
        id += rows;
      }
    });
    insertAll();
  } finally {
    db.close();
  }
  return performance.now() - started;
}

/** Prisma keeps UTC in PostgreSQL's `timestamp(3)` (without time zone): a literal, whatever TZ says. */
function utc(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '');
}

/**
 * The same users in a migrated PostgreSQL database (batched multi-row INSERTs in one transaction),
 * and the id sequence moved past them so that registrations get fresh ids. Returns the ms it took.
 */
export async function seedPostgres(databaseUrl: string, count: number, passwordHash: string): Promise<number> {
  const started = performance.now();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    const firstJoined = Date.now() - (count + 1) * JOINED_STEP_MS;
    const total = count + 1;
    const rows = 1000;
    for (let id = 1; id <= total; id += rows) {
      const params: unknown[] = [];
      const tuples: string[] = [];
      for (let i = id; i < Math.min(id + rows, total + 1); i += 1) {
        const values =
          i === 1
            ? [1, ADMIN_EMAIL, passwordHash, 'Ada', 'Admin', true, true, utc(firstJoined), null]
            : [i, userEmail(i - 1), passwordHash, `First${i - 1}`, `Last${i - 1}`, false, true, utc(firstJoined + (i - 1) * JOINED_STEP_MS), null];
        tuples.push(`(${values.map((_, k) => `$${params.length + k + 1}`).join(',')})`);
        params.push(...values);
      }
      await client.query(`INSERT INTO "User" (${COLUMNS.map((c) => `"${c}"`).join(',')}) VALUES ${tuples.join(',')}`, params);
    }
    await client.query(`SELECT setval(pg_get_serial_sequence('"User"', 'id'), (SELECT max("id") FROM "User"))`);
    await client.query('COMMIT');
    await client.query('ANALYZE "User"');
  } finally {
    await client.end();
  }
  return performance.now() - started;
}
