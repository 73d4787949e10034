import type { Server } from 'node:http';
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

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, finishing in-flight requests`);
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    server.close(async () => {
      clearTimeout(force);
      await close();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
