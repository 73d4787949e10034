import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { AuditLog } from './audit.ts';
import { BackgroundTasks } from './background.ts';
import type { Config } from './config.ts';
import { connectDatabase, openPostgresPool, openSqliteReads, postgresReads, reportingReads, StorageFullness, type Database, type DirectReads } from './db.ts';
import { createMailer, type Mailer } from './mail.ts';
import { PasswordHasher } from './passwords/hasher.ts';
import { clusterLimiters, memoryLimiters, postgresLimiters, RateLimits } from './rateLimits.ts';
import { SecretBox } from './secondFactor/secretBox.ts';
import type { SignInStepDeps } from './secondFactor/signInStep.ts';
import { pruneExpired } from './pruning.ts';
import { foldRowCounts } from './rowCounts.ts';
import { PrismaSessionStore } from './sessions.ts';
import { TokenService, tokenSettings } from './tokens.ts';

/** What the app holds for its lifetime and every request's resolvers share. */
export interface Services {
  config: Config;
  prisma: Database;
  hasher: PasswordHasher;
  tokens: TokenService;
  mailer: Mailer;
  rateLimits: RateLimits;
  audit: AuditLog;
  logger: Logger;
  /** Prepared reads without Prisma, for the hottest lookups (see `DirectReads`). */
  directReads: DirectReads;
  /** The Session table's owner, express-session's store included. */
  sessions: PrismaSessionStore;
  /** TOTP secrets' encryption and the passkeys' relying party. */
  secondFactors: SignInStepDeps;
  /** Work that outlives its request (mails); close() waits for it. */
  background: BackgroundTasks;
  /** Whether writes failed for lack of space a moment ago (see `StorageFullness`). */
  storage: StorageFullness;
}

export interface ServicesOptions {
  logger: Logger;
  /** Sees every SQL statement (Prisma's and the direct reads'); tests use it to count queries. */
  onQuery?: (sql: string) => void;
}

export interface OpenServices {
  services: Services;
  /** Waits for background work within `waitMs`, then closes every pool, client and thread. */
  close(waitMs: number): Promise<void>;
}

const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/** How long close() waits for each pool or client to let go. */
const RESOURCE_CLOSE_MS = 5_000;

async function closeWithin(ms: number, closing: Promise<unknown>, what: string, logger: Logger): Promise<void> {
  const closed = await Promise.race([
    closing.then(
      () => true,
      (error) => {
        logger.warn({ err: error }, `closing ${what} failed`);
        return true;
      },
    ),
    new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref()),
  ]);
  if (!closed) logger.warn(`${what} did not close within ${ms} ms; going on without waiting`);
}

/** Which bcrypt hashes passwords, at start-up: logins cost less CPU with the native one (docs/performance.md). */
function logHashing(logger: Logger, hasher: PasswordHasher): void {
  const { name, version, native, fallbackReason } = hasher.implementation!;
  const message = `password hashing: ${name} ${version} (${native ? 'native' : 'JavaScript'}), cost ${hasher.cost}, ${hasher.threads} thread(s)`;
  if (fallbackReason) logger.warn({ bcrypt: name }, `${message}: ${fallbackReason}`);
  else logger.info({ bcrypt: name }, message);
}

/** Connects the database, starts the hashing threads and builds every service from the config. */
export async function openServices(config: Config, { logger, onQuery }: ServicesOptions): Promise<OpenServices> {
  const onConnectionError = (error: Error) => logger.warn({ err: error }, 'a database connection was lost');
  const prisma = await connectDatabase(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    onQuery,
    onConnectionError,
    // A process that starts during an outage waits for the database, then serves.
    onUnavailable: (error, attempt) => {
      if (attempt === 1 || attempt % 30 === 0) logger.warn({ err: error }, 'the database is unreachable; trying again every second');
    },
  });
  const hasher = new PasswordHasher({
    cost: config.bcryptCost,
    threads: config.hashWorkers,
    maxWaitMs: config.hashQueueMaxWaitMs,
    implementation: config.bcryptImplementation,
  });
  await hasher.warmUp();
  logHashing(logger, hasher);
  // PostgreSQL: a small pool of the service's own for direct reads and, as several instances share
  // one PostgreSQL, for the rate-limit counters. On SQLite the counters are in this process, or in the
  // cluster's primary when WEB_CONCURRENCY > 1 (see src/server.ts).
  const directPool = config.databaseProvider === 'postgresql' ? await openPostgresPool(config.databaseUrl, 4, onConnectionError) : null;
  const ownReads = directPool ? postgresReads(directPool) : openSqliteReads(config.databaseUrl);
  const directReads = onQuery ? reportingReads(ownReads, onQuery) : ownReads;
  const tokens = new TokenService({
    prisma,
    reads: directReads,
    ...tokenSettings(config),
  });
  if (config.jwtSigningKeys.length === 0) {
    logger.warn('JWT_SIGNING_KEYS is not set: access tokens are signed with JWT_SECRET (HS256), which other services cannot verify through /.well-known/jwks.json');
  }
  const mailer = createMailer(config, logger);
  if (config.production && !config.smtpUrl) {
    logger.warn('SMTP_URL is not set: password reset mails, links included, are written to this log');
  }
  const audit = new AuditLog(prisma, logger);
  const background = new BackgroundTasks();
  const services: Services = {
    config,
    prisma,
    hasher,
    tokens,
    mailer,
    rateLimits: new RateLimits(
      config.rateLimits,
      config.rateLimitRates,
      directPool ? postgresLimiters(directPool) : cluster.isWorker ? clusterLimiters : memoryLimiters,
    ),
    audit,
    logger,
    directReads,
    sessions: new PrismaSessionStore(prisma, { maxAgeMs: config.sessionMaxAgeMs, reads: directReads }),
    secondFactors: {
      prisma,
      box: new SecretBox(config.totpEncryptionKeys),
      passkeys: { prisma, webauthn: config.webauthn, decoyKey: config.totpEncryptionKeys[0]! },
    },
    background,
    storage: new StorageFullness(),
  };
  const pruneTimer = setInterval(() => {
    Promise.all([pruneExpired(prisma), audit.prune(config.auditRetentionMs), foldRowCounts(prisma, config.databaseProvider)]).catch((error) =>
      logger.error({ err: error }, 'pruning expired sessions and old auth events, or folding row counts, failed'),
    );
  }, PRUNE_INTERVAL_MS).unref();

  return {
    services,
    async close(waitMs) {
      clearInterval(pruneTimer);
      if (!(await background.settle(waitMs))) logger.warn(`closing with ${background.size} mail(s) still being sent`);
      mailer.close();
      // A pool ends only once every connection it lent is back: one that never comes back (seen
      // on PostgreSQL after a transaction the driver reported as already closed) must not keep
      // shutdown waiting forever, so each resource gets a bounded time and a warning.
      await closeWithin(RESOURCE_CLOSE_MS, hasher.close(), 'the password hashing threads', logger);
      await closeWithin(RESOURCE_CLOSE_MS, directReads.close(), 'the direct reads', logger);
      if (directPool) await closeWithin(RESOURCE_CLOSE_MS, directPool.end(), "the service's PostgreSQL pool", logger);
      await closeWithin(RESOURCE_CLOSE_MS, prisma.$disconnect(), 'the database client', logger);
    },
  };
}
