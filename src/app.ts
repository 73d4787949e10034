import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { PothosValidationError } from '@pothos/core';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import session from 'express-session';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { AuditLog } from './audit.ts';
import { BackgroundTasks } from './background.ts';
import type { Config } from './config.ts';
import { createContext, type Context, type Services } from './context.ts';
import { connectDatabase, isDatabaseUnavailable, isStorageFull, openPostgresPool, openSqliteReads, postgresReads, reportingReads, StorageFullness } from './db.ts';
import { createLogger } from './logger.ts';
import { HashQueueFullError, PasswordHasher } from './passwords/hasher.ts';
import { schema } from './schema/index.ts';
import { createMailer } from './mail.ts';
import { clusterLimiters, memoryLimiters, postgresLimiters, RateLimitedError, RateLimits } from './rateLimits.ts';
import { queryLimitPlugins } from './queryLimits.ts';
import { SecretBox } from './secondFactor/secretBox.ts';
import { PrismaSessionStore } from './sessionStore.ts';
import { publicKeySet } from './signingKeys.ts';
import { TokenService } from './tokens.ts';
import { trustedDocumentsPlugins } from './trustedDocumentsPlugin.ts';
import { corsMiddleware, useBadRequestOnMalformedParameters, useCsrfRule } from './transport.ts';
import { pruneExpired } from './userSessions.ts';

export const MAX_BODY_BYTES = 100 * 1024;
// Any of these forces a browser to preflight, which a cross-site form or image cannot. A bearer
// token's Authorization header does too, so token clients need no extra header.
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'graphql-require-preflight', 'authorization'];
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

type ServerContext = { req: Request; res: Response };

export interface App {
  app: express.Express;
  yoga: YogaServerInstance<ServerContext, Context>;
  services: Services;
  /** Lets running operations finish (also those whose client has gone), then closes pools and the database. */
  close(): Promise<void>;
}

/** Errors that are answers rather than faults: shown to the client with their code. */
function refusal(error: unknown): GraphQLError | null {
  const located = error instanceof GraphQLError ? error : undefined;
  const original = located ? located.originalError : error;
  const at = { nodes: located?.nodes, path: located?.path };
  if (original instanceof PothosValidationError) {
    return new GraphQLError(original.message, { ...at, extensions: { code: 'BAD_USER_INPUT' } });
  }
  // Too many attempts from one client, or too many sign-ins queued for the hashing threads.
  if (original instanceof RateLimitedError || original instanceof HashQueueFullError) {
    return new GraphQLError(original.message, {
      ...at,
      extensions: { code: 'RATE_LIMITED', retryAfter: original.retryAfterSeconds },
    });
  }
  if (isDatabaseUnavailable(original) || isStorageFull(original)) return serviceUnavailable(at);
  return null;
}

export const SERVICE_UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; try again shortly.';

/** The database cannot be reached (a restart, an outage): the request may succeed when retried. */
function serviceUnavailable(at: { nodes?: GraphQLError['nodes']; path?: GraphQLError['path'] } = {}): GraphQLError {
  return new GraphQLError(SERVICE_UNAVAILABLE_MESSAGE, { ...at, extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503 } } });
}

/** Refusals and GraphQL errors reach the client as they are; anything else is masked. */
function maskError(error: unknown): Error {
  const answer = refusal(error);
  if (answer) return answer;
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
  return new GraphQLError('Unexpected error.', {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

/** Yoga logs the original of every error it masks: refusals are routine, the rest is not. */
function yogaLogger(logger: Logger) {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const [first] = args;
    if (first instanceof Error) {
      const original = first instanceof GraphQLError ? (first.originalError ?? first) : first;
      if (isStorageFull(original)) logger.error({ err: original }, 'database or disk full');
      else if (isDatabaseUnavailable(original)) logger.warn({ err: original }, 'database unavailable');
      else if (refusal(first)) logger.info({ err: original }, 'request refused');
      else logger[level]({ err: original }, 'error while handling a request');
    } else {
      logger[level](args.map(String).join(' '));
    }
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function createYogaServer(services: Services, storage: StorageFullness) {
  const { config, logger } = services;
  return createYoga<ServerContext, Context>({
    schema,
    context: ({ req, res }) => createContext(services, req, res),
    graphiql: config.production ? false : { title: 'Auth API', credentials: 'include' },
    // Yoga's default page loads GraphiQL from a CDN; this one carries its assets, so it works offline.
    // Loaded on first use: its 9 MB of assets added ~70 MB to every process, production included.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    landingPage: false,
    batching: false,
    // CORS is answered before Yoga (corsMiddleware), for listed origins only.
    cors: false,
    maskedErrors: {
      maskError: (error) => {
        storage.note(error instanceof GraphQLError ? (error.originalError ?? error) : error);
        return maskError(error);
      },
    },
    logging: yogaLogger(logger),
    // `documentId` names a trusted document (TRUSTED_DOCUMENTS) in a request's body.
    extraParamNames: config.trustedDocuments ? ['documentId'] : [],
    plugins: [
      useCsrfRule(CSRF_HEADERS),
      useBadRequestOnMalformedParameters(),
      ...(config.trustedDocuments
        ? trustedDocumentsPlugins<ServerContext>(config.trustedDocuments, async ({ req, res }) =>
            (await (await createContext(services, req, res)).viewer())?.isStaff === true,
          )
        : []),
      ...(config.production ? [useDisableIntrospection()] : []),
      ...queryLimitPlugins({ production: config.production }),
    ],
  });
}

const handleBodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (error?.type === 'entity.too.large') {
    res.status(413).json({ errors: [{ message: `Request body is larger than ${MAX_BODY_BYTES} bytes.` }] });
  } else if (typeof error?.status === 'number' && error.status < 500) {
    res.status(error.status).json({ errors: [{ message: 'Malformed request body.' }] });
  } else {
    next(error);
  }
};

export const JWKS_PATH = '/.well-known/jwks.json';
/**
 * How long verifiers and caches may keep the key set. A new key is published this long before it
 * signs, and an old one stays published this long after its last token expires (see the README's
 * key rotation).
 */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * The public keys, the same bytes on every instance with the same keys, so the ETag holds across a
 * load balancer and a verifier's conditional request is answered 304.
 */
function jwksHandler(config: Config): express.RequestHandler {
  const body = JSON.stringify(publicKeySet(config.jwtSigningKeys));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return (req, res) => {
    res.set({
      'Cache-Control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      ETag: etag,
      // Public data: any origin's code may verify tokens with it.
      'Access-Control-Allow-Origin': '*',
    });
    // Compared here rather than with req.fresh, which ignores If-None-Match whenever the request
    // says `Cache-Control: no-cache`, as fetch() does on every conditional request.
    const known = req.get('if-none-match')?.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
    if (known?.includes(etag) || known?.includes('*')) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(body);
  };
}

/**
 * Errors that reach express rather than Yoga (the session store reading the session before Yoga
 * runs, or saving it after): answered in GraphQL's shape, never express's HTML page.
 */
function handleServerErrors(logger: Logger, storage: StorageFullness): ErrorRequestHandler {
  return (error, req, res, _next) => {
    storage.note(error);
    const full = isStorageFull(error);
    const unavailable = full || isDatabaseUnavailable(error);
    // The session could not be read: express-session would take it for an ended one and delete it
    // from the store at the end of this answer (signing the user out once the database is back).
    if (req.session === undefined) delete (req as { sessionID?: string }).sessionID;
    if (full) logger.error({ err: error }, 'database or disk full');
    else if (unavailable) logger.warn({ err: error }, 'database unavailable');
    else logger.error({ err: error }, 'error while handling a request');
    // A failed save or touch at the end of a request: the answer has already gone out.
    if (res.headersSent) return void res.end();
    const answer = unavailable
      ? serviceUnavailable()
      : new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    res.status(unavailable ? 503 : 500).json({ errors: [{ message: answer.message, extensions: { code: answer.extensions.code } }] });
  };
}

/** How long close() waits for running operations. */
const CLOSE_WAIT_MS = 10_000;

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

export interface AppOptions {
  logger?: Logger;
  /** Sees every SQL statement (Prisma's and the direct reads'); tests use it to count queries. */
  onQuery?: (sql: string) => void;
}

/** Which bcrypt hashes passwords, at start-up: logins cost less CPU with the native one (docs/performance.md). */
function logHashing(logger: Logger, hasher: PasswordHasher): void {
  const { name, version, native, fallbackReason } = hasher.implementation!;
  const message = `password hashing: ${name} ${version} (${native ? 'native' : 'JavaScript'}), cost ${hasher.cost}, ${hasher.threads} thread(s)`;
  if (fallbackReason) logger.warn({ bcrypt: name }, `${message}: ${fallbackReason}`);
  else logger.info({ bcrypt: name }, message);
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const onConnectionError = (error: Error) => logger.warn({ err: error }, 'a database connection was lost');
  const prisma = await connectDatabase(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    onQuery: options.onQuery,
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
  const directReads = options.onQuery ? reportingReads(ownReads, options.onQuery) : ownReads;
  const sessions = new PrismaSessionStore(prisma, { maxAgeMs: config.sessionMaxAgeMs, reads: directReads });
  const tokens = new TokenService({
    prisma,
    signingKeys: config.jwtSigningKeys,
    secrets: config.jwtSecrets,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
  });
  if (config.jwtSigningKeys.length === 0) {
    logger.warn('JWT_SIGNING_KEYS is not set: access tokens are signed with JWT_SECRET (HS256), which other services cannot verify through /.well-known/jwks.json');
  }
  const mailer = createMailer(config, logger);
  if (config.production && !config.smtpUrl) {
    logger.warn('SMTP_URL is not set: password reset mails, links included, are written to this log');
  }
  const rateLimits = new RateLimits(
    config.rateLimits,
    config.rateLimitRates,
    directPool ? postgresLimiters(directPool) : cluster.isWorker ? clusterLimiters : memoryLimiters,
  );
  const audit = new AuditLog(prisma, logger);
  const secondFactors = {
    prisma,
    box: new SecretBox(config.totpEncryptionKeys),
    passkeys: { prisma, webauthn: config.webauthn, decoyKey: config.totpEncryptionKeys[0]! },
  };
  const background = new BackgroundTasks();
  const services: Services = { config, prisma, hasher, tokens, mailer, rateLimits, audit, logger, directReads, secondFactors, background };
  const pruneTimer = setInterval(() => {
    Promise.all([pruneExpired(prisma), audit.prune(config.auditRetentionMs)]).catch((error) =>
      logger.error({ err: error }, 'pruning expired sessions and old auth events failed'),
    );
  }, PRUNE_INTERVAL_MS).unref();
  const storage = new StorageFullness();
  const yoga = createYogaServer(services, storage);

  // Operations still running: the HTTP server forgets a request once its client hangs up, but its
  // resolvers go on (a login waits for its hash, then writes): close() lets them finish first.
  const inFlight = new Set<Promise<unknown>>();

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info({ method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  });

  app.get('/health', async (_req, res) => {
    try {
      await prisma.$queryRawUnsafe('SELECT 1');
      // The database answers, but writes failed for lack of space a moment ago (see StorageFullness).
      if (storage.full) return void res.status(503).json({ status: 'unavailable' });
      res.json({ status: 'ok' });
    } catch (error) {
      if (isDatabaseUnavailable(error)) logger.warn({ err: error }, 'health check: database unavailable');
      else logger.error({ err: error }, 'health check failed');
      res.status(503).json({ status: 'unavailable' });
    }
  });

  app.get(JWKS_PATH, jwksHandler(config));

  app.use(
    yoga.graphqlEndpoint,
    corsMiddleware(config.corsOrigins),
    // Buffered with a size cap (chunked bodies included); Yoga parses and reports malformed JSON.
    express.raw({ type: () => true, limit: MAX_BODY_BYTES }),
    session({
      name: config.sessionCookieName,
      secret: config.sessionSecrets,
      store: sessions,
      resave: false,
      saveUninitialized: false,
      unset: 'destroy',
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.production, maxAge: config.sessionMaxAgeMs, path: '/' },
    }),
    (req, res) => {
      const handling = Promise.resolve(yoga.handle(req, res, { req, res }));
      inFlight.add(handling);
      void handling.finally(() => inFlight.delete(handling));
    },
  );
  app.use(handleBodyErrors);
  app.use(handleServerErrors(logger, storage));

  return {
    app,
    yoga,
    services,
    async close() {
      clearInterval(pruneTimer);
      const started = Date.now();
      const finished = await Promise.race([
        Promise.allSettled(inFlight).then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS, false).unref()),
      ]);
      if (!finished) logger.warn(`closing with ${inFlight.size} operation(s) still running`);
      // Then the mails those operations started, within the same bound.
      if (!(await background.settle(CLOSE_WAIT_MS - (Date.now() - started)))) {
        logger.warn(`closing with ${background.size} mail(s) still being sent`);
      }
      mailer.close();
      // A pool ends only once every connection it lent is back: one that never comes back (seen
      // on PostgreSQL after a transaction the driver reported as already closed) must not keep
      // shutdown waiting forever, so each resource gets a bounded time and a warning.
      await closeWithin(RESOURCE_CLOSE_MS, hasher.close(), 'the password hashing threads', logger);
      await closeWithin(RESOURCE_CLOSE_MS, directReads.close(), 'the direct reads', logger);
      if (directPool) await closeWithin(RESOURCE_CLOSE_MS, directPool.end(), 'the service\'s PostgreSQL pool', logger);
      await closeWithin(RESOURCE_CLOSE_MS, prisma.$disconnect(), 'the database client', logger);
    },
  };
}
