import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { DatabaseError, ensureDatabaseFolder, waitForDatabase } from './db.ts';
import { applyMigrations, MigrationError, type MigrateOptions } from './migrate.ts';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  // Logged through the logger's error serializer (message, code, stack; no driver internals).
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'crashed');
    process.exit(1);
  });
  if (cluster.isPrimary && config.webConcurrency > 1) return primary(config, logger);

  let built;
  try {
    // Imported here, so that a cluster's primary, which serves nothing, loads none of it (docs/performance.md).
    const { createApp } = await import('./app.ts');
    // With WEB_CONCURRENCY > 1 the primary process has applied them before forking this worker.
    if (cluster.isPrimary) await prepareDatabase(config, logger);
    built = await createApp(config, { logger });
  } catch (error) {
    const expected = error instanceof MigrationError || error instanceof DatabaseError;
    logger.fatal(expected ? `cannot start: ${(error as Error).message}` : { err: error }, 'cannot start');
    process.exit(1);
  }
  const { server, close } = built;
  server.listen(config.port, config.host, () => {
    if (cluster.isPrimary) logger.info(`serving ${address(config)}`);
    else logger.info('worker listening');
  });
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'cannot listen');
    process.exit(1);
  });

  // Keep-alive connections would hold the server open after SIGTERM until they time out (and
  // bring it more requests meanwhile): every response finished during shutdown closes its connection.
  let stopping = false;
  const unanswered = new Set<ServerResponse>();
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopping) res.setHeader('connection', 'close');
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  // server.close() resets the connections still queued in the kernel and drops accepted ones whose
  // request is not read yet, and a busy process handles SIGTERM before the connections that came
  // with it (libuv accepts one per loop turn): stop listening after a loop turn that accepts nothing.
  // A cluster worker gets its connections from the primary over IPC, later than that: it waits for
  // a quiet quarter second (without it, PostgreSQL runs of tests/cluster.test.ts saw resets).
  let accepted = 0;
  server.on('connection', () => accepted++);
  const settle = (next: () => void) => (cluster.isWorker ? setTimeout(next, 250) : setImmediate(next));
  const afterQueuedConnections = (then: () => void, seen = -1) =>
    settle(() => (accepted === seen ? then() : afterQueuedConnections(then, accepted)));

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, finishing in-flight requests`);
    for (const res of unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
    let closing = false;
    const stopListening = () => {
      if (closing) return;
      closing = true;
      server.close(async () => {
        clearTimeout(force);
        await close();
        logger.info('stopped');
        process.exit(0);
      });
      server.closeIdleConnections();
    };
    const force = setTimeout(() => {
      stopListening();
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS).unref();
    // An operation that never ends (a database that stopped answering) must not keep the process.
    setTimeout(() => {
      logger.error('operations still running after the grace period; exiting without them');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 5_000).unref();
    afterQueuedConnections(stopListening);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function migrateOptions(config: Config, logger: Logger): MigrateOptions {
  return { lockWaitSeconds: config.migrationLockWaitSeconds, onWait: (message) => logger.warn(message) };
}

/**
 * Before serving: a PostgreSQL that cannot be reached is waited for (a process started during an
 * outage comes up with the server), then pending migrations are applied.
 */
async function prepareDatabase(config: Config, logger: Logger): Promise<void> {
  ensureDatabaseFolder(config.databaseUrl);
  await waitForDatabase(config.migrationDatabaseUrl, (error, attempt) => {
    if (attempt === 1 || attempt % 30 === 0) logger.warn({ err: error }, 'the database is unreachable; trying again every second');
  });
  await applyMigrations(config.migrationDatabaseUrl, migrateOptions(config, logger));
}

function address(config: Config): string {
  return `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/graphql`;
}

/**
 * WEB_CONCURRENCY > 1: this process applies the migrations once, forks that many workers (each a
 * whole server; they share the port, the primary hands out connections in turn), keeps the
 * rate-limit counters for all of them (SQLite; PostgreSQL keeps its own), replaces a worker that
 * dies, and on SIGTERM or SIGINT has every worker finish its requests, then exits.
 */
async function primary(config: Config, logger: Logger): Promise<void> {
  try {
    await prepareDatabase(config, logger);
  } catch (error) {
    const expected = error instanceof MigrationError || error instanceof DatabaseError;
    logger.fatal(expected ? `cannot start: ${(error as Error).message}` : { err: error }, 'cannot start');
    process.exit(1);
  }
  if (config.databaseProvider === 'sqlite') {
    // The cluster master's own file: the package's index loads every store it supports (~8 MB).
    const { RateLimiterClusterMaster } = createRequire(import.meta.url)('rate-limiter-flexible/lib/RateLimiterCluster.js') as Pick<
      typeof import('rate-limiter-flexible'),
      'RateLimiterClusterMaster'
    >;
    new RateLimiterClusterMaster();
  }

  let stopping = false;
  let failed = false;
  // Once a worker has served, the service is known to work: a worker that exits later, even before
  // serving (say it could not start while the database was restarting), is replaced, after a wait
  // that doubles with each replacement that fails in a row (at most 30 s). Only a worker of the
  // first start that exits before serving ends the service, as another would fail the same way.
  let served = false;
  let failedInARow = 0;
  const listening = new Set<number>();
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    served = true;
    failedInARow = 0;
    if (listening.size === config.webConcurrency) {
      logger.info(`serving ${address(config)} from ${config.webConcurrency} processes`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const started = listening.delete(worker.id);
    const how = signal ?? `code ${code}`;
    if (!stopping && served) {
      const delay = started ? 0 : Math.min(1000 * 2 ** failedInARow++, 30_000);
      logger.error(`worker ${worker.process.pid} exited (${how})${started ? '' : ' before serving'}; starting another${delay ? ` in ${delay / 1000} s` : ''}`);
      setTimeout(() => stopping || cluster.fork(), delay);
      return;
    }
    if (code !== 0) failed = true;
    if (!stopping) {
      logger.fatal(`worker ${worker.process.pid} exited (${how}) before serving`);
      shutdown();
    }
    exitWhenNoWorkers();
  });
  const exitWhenNoWorkers = () => {
    if (Object.keys(cluster.workers ?? {}).length > 0) return;
    if (!failed) logger.info('stopped');
    process.exit(failed ? 1 : 0);
  };

  // Each worker finishes its in-flight requests within the grace period and exits by itself.
  const shutdown = (signal?: string) => {
    if (stopping) return;
    stopping = true;
    if (signal) logger.info(`${signal} received, finishing in-flight requests`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS + 10_000).unref();
    // Between a worker's exit and its replacement there may be none left to wait for.
    exitWhenNoWorkers();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  for (let i = 0; i < config.webConcurrency; i += 1) cluster.fork();
}

void main();
