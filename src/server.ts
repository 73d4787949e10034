import type { Server, ServerResponse } from 'node:http';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { DatabaseError, ensureDatabaseFolder } from './db.ts';
import { applyMigrations, MigrationError } from './migrate.ts';

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

  let built;
  try {
    ensureDatabaseFolder(config.databaseUrl);
    await applyMigrations(config.databaseUrl);
    built = await createApp(config, { logger });
  } catch (error) {
    const expected = error instanceof MigrationError || error instanceof DatabaseError;
    logger.fatal(expected ? `cannot start: ${(error as Error).message}` : { err: error }, 'cannot start');
    process.exit(1);
  }
  const { app, close } = built;
  const server: Server = app.listen(config.port, config.host, () => {
    logger.info(`serving http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/graphql`);
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
  let accepted = 0;
  server.on('connection', () => accepted++);
  const afterQueuedConnections = (then: () => void, seen = -1) =>
    setImmediate(() => (accepted === seen ? then() : afterQueuedConnections(then, accepted)));

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
    afterQueuedConnections(stopListening);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
