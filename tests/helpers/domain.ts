import type pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { connectDatabase, openPostgresPool, openSqliteReads, postgresReads, reportingReads, type Database, type DirectReads } from '../../src/db.ts';
import { PasswordHasher } from '../../src/passwords/hasher.ts';
import { freshDatabase } from './databases.ts';
import { capturingLogger } from './logs.ts';

/**
 * The parts domain modules are built from, without the app around them: a fresh copy of the
 * migrated database (a SQLite file, or PostgreSQL in the PostgreSQL run), Prisma on it, the direct
 * reads, and the real password hasher at the test cost.
 */
export interface DomainParts {
  config: Config;
  prisma: Database;
  directReads: DirectReads;
  hasher: PasswordHasher;
  /** PostgreSQL: the service's own pool (direct reads, rate-limit counters); null on SQLite. */
  pool: pg.Pool | null;
  /** Every statement run, Prisma's and the direct reads', since the last `sql.length = 0`. */
  sql: string[];
  /** A pino logger whose lines are in `logs`. */
  logger: ReturnType<typeof capturingLogger>['logger'];
  logs: string[];
  close(): Promise<void>;
}

export async function domainParts(env: Record<string, string> = {}): Promise<DomainParts> {
  const database = await freshDatabase(inject('templateDatabase'));
  const config = loadConfig({
    DATA_DIR: database.dir,
    ...database.env,
    LOG_LEVEL: 'error',
    // The cost every test app uses: the cheapest the configuration allows.
    BCRYPT_COST: '10',
    HASH_WORKERS: '1',
    ...env,
  });
  const sql: string[] = [];
  const onQuery = (query: string) => sql.push(query);
  const prisma = await connectDatabase(config.databaseUrl, { poolSize: 2, onQuery });
  const pool = config.databaseProvider === 'postgresql' ? await openPostgresPool(config.databaseUrl, 2, () => undefined) : null;
  const directReads = reportingReads(pool ? postgresReads(pool) : openSqliteReads(config.databaseUrl), onQuery);
  const hasher = new PasswordHasher({ cost: config.bcryptCost, threads: config.hashWorkers, implementation: config.bcryptImplementation });
  await hasher.warmUp();
  const { logger, lines: logs } = capturingLogger('info');
  return {
    config,
    prisma,
    directReads,
    hasher,
    pool,
    sql,
    logger,
    logs,
    async close() {
      await hasher.close();
      await directReads.close();
      await pool?.end();
      await prisma.$disconnect();
      await database.drop();
    },
  };
}
