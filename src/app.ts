import http from 'node:http';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { createContext, type Context } from './context.ts';
import { createPipeline } from './http/pipeline.ts';
import type { ServerContext } from './http/request.ts';
import { yogaOptions } from './http/yoga.ts';
import { createLogger } from './logger.ts';
import { schema } from './schema/index.ts';
import { openServices, type Services } from './services.ts';
import { trustedDocumentsPlugins } from './trustedDocumentsPlugin.ts';

export interface App {
  /** An HTTP server serving the app, not listening yet. */
  server: http.Server;
  yoga: YogaServerInstance<ServerContext, Context>;
  services: Services;
  /** Lets running operations finish (also those whose client has gone), then closes pools and the database. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: ReturnType<typeof createLogger>;
  /** Sees every SQL statement (Prisma's and the direct reads'); tests use it to count queries. */
  onQuery?: (sql: string) => void;
}

/** How long close() waits for running operations, then for the mails they started. */
const CLOSE_WAIT_MS = 10_000;

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const { services, close } = await openServices(config, { logger, onQuery: options.onQuery });
  const yoga = createYoga<ServerContext, Context>({
    schema,
    context: ({ req, res }) => createContext(services, { req, res }),
    // `documentId` names a trusted document (TRUSTED_DOCUMENTS) in a request's body.
    extraParamNames: config.trustedDocuments ? ['documentId'] : [],
    ...yogaOptions<ServerContext>({
      production: config.production,
      logger,
      storage: services.storage,
      plugins: config.trustedDocuments
        ? trustedDocumentsPlugins<ServerContext>(config.trustedDocuments, async (server) =>
            (await (await createContext(services, server)).viewer())?.isStaff === true,
          )
        : [],
    }),
  });
  const pipeline = createPipeline(services, yoga);
  return {
    server: http.createServer(pipeline.handle),
    yoga,
    services,
    async close() {
      const started = Date.now();
      if (!(await pipeline.settle(CLOSE_WAIT_MS))) logger.warn(`closing with ${pipeline.running} operation(s) still running`);
      await close(CLOSE_WAIT_MS - (Date.now() - started));
    },
  };
}
