import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import session from 'express-session';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import type { Config } from '../config.ts';
import { isDatabaseUnavailable, isStorageFull } from '../db.ts';
import type { Services } from '../services.ts';
import { publicKeySet } from '../signingKeys.ts';
import { compileTrust, identifyClient, sessionCookieOptions, type HttpRequest, type ServerContext } from './request.ts';
import { corsHeaders } from './transport.ts';
import { serviceUnavailable } from './yoga.ts';

export const MAX_BODY_BYTES = 100 * 1024;

export const JWKS_PATH = '/.well-known/jwks.json';
/**
 * How long verifiers and caches may keep the key set. A new key is published this long before it
 * signs, and an old one stays published this long after its last token expires (see the README's
 * key rotation).
 */
export const JWKS_MAX_AGE_SECONDS = 300;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers }).end(text);
}

/** One log line per answered request, when info is logged (a listener and a clock read otherwise wasted). */
export function logRequests(logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  if (!logger.isLevelEnabled('info')) return () => {};
  return (req, res) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info({ method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
  };
}

/** Decodes a compressed body as body parsers do; null for an encoding it does not know. */
function decodedBody(req: IncomingMessage): Readable | null {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return req;
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : null;
  if (!decoder) return null;
  // Yoga gets the decoded bytes, so it must not decode them again.
  delete req.headers['content-encoding'];
  return req.pipe(decoder);
}

/**
 * Buffers a request's body, at most MAX_BODY_BYTES once decoded (chunked and compressed bodies
 * included), for Yoga to parse; answers 413, 415 or 400 itself and then resolves false.
 */
export async function readBody(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  const identity = req.headers['content-encoding'] === undefined;
  const body = decodedBody(req);
  if (!body) {
    sendJson(res, 415, { errors: [{ message: `Unsupported Content-Encoding: ${req.headers['content-encoding']}.` }] });
    return false;
  }
  try {
    const bytes = await getRawBody(body, { limit: MAX_BODY_BYTES, length: identity ? req.headers['content-length'] : undefined });
    if (bytes.length > 0) (req as HttpRequest).body = bytes;
    return true;
  } catch (error) {
    const { type, status } = error as { type?: string; status?: number };
    if (type === 'request.aborted') return false;
    if (type === 'entity.too.large') {
      sendJson(res, 413, { errors: [{ message: `Request body is larger than ${MAX_BODY_BYTES} bytes.` }] });
    } else {
      sendJson(res, typeof status === 'number' && status < 500 ? status : 400, { errors: [{ message: 'Malformed request body.' }] });
    }
    // The rest of an over-long or broken body is not read: the connection cannot carry another request.
    res.shouldKeepAlive = false;
    return false;
  }
}

/**
 * The public keys, the same bytes on every instance with the same keys, so the ETag holds across a
 * load balancer and a verifier's conditional request is answered 304.
 */
function jwksHandler(config: Config): Handler {
  const body = JSON.stringify(publicKeySet(config.jwtSigningKeys));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const headers = {
    'Cache-Control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
    ETag: etag,
    // Public data: any origin's code may verify tokens with it.
    'Access-Control-Allow-Origin': '*',
  };
  return (req, res) => {
    const known = req.headers['if-none-match']?.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
    if (known?.includes(etag) || known?.includes('*')) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };
}

function healthHandler({ prisma, storage, logger }: Services): Handler {
  return (_req, res) => {
    prisma.$queryRawUnsafe('SELECT 1').then(
      // The database answers, but writes failed for lack of space a moment ago (see StorageFullness).
      () => sendJson(res, storage.full ? 503 : 200, { status: storage.full ? 'unavailable' : 'ok' }),
      (error) => {
        if (isDatabaseUnavailable(error)) logger.warn({ err: error }, 'health check: database unavailable');
        else logger.error({ err: error }, 'health check failed');
        sendJson(res, 503, { status: 'unavailable' });
      },
    );
  };
}

/**
 * Errors outside Yoga (the session store reading the session before Yoga runs, or saving it
 * after): answered in GraphQL's shape.
 */
function serverErrorHandler({ logger, storage }: Services) {
  return (error: unknown, req: HttpRequest, res: ServerResponse) => {
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
    const answer = unavailable ? serviceUnavailable() : { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    sendJson(res, unavailable ? 503 : 500, { errors: [{ message: answer.message, extensions: { code: answer.extensions.code } }] });
  };
}

export interface Pipeline {
  /** Node's request listener. */
  handle: Handler;
  /** Waits, at most `ms`, for the GraphQL operations still running; false when some still are. */
  settle(ms: number): Promise<boolean>;
  /** How many operations are running. */
  readonly running: number;
}

/**
 * The HTTP side of the service, on node:http: `/health`, the JWKS, and the GraphQL endpoint
 * (CORS, a bounded body, the cookie session, then Yoga). Anything else is a 404.
 */
export function createPipeline<Context extends object>(services: Services, yoga: YogaServerInstance<ServerContext, Context>): Pipeline {
  const { config } = services;
  const trust = compileTrust(config.trustProxy);
  const log = logRequests(services.logger);
  const cors = corsHeaders(config.corsOrigins);
  const jwks = jwksHandler(config);
  const health = healthHandler(services);
  const serverError = serverErrorHandler(services);
  const cookieSession = session({
    name: config.sessionCookieName,
    secret: config.sessionSecrets,
    store: services.sessions,
    resave: false,
    saveUninitialized: false,
    unset: 'destroy',
    cookie: { ...sessionCookieOptions(config.production), maxAge: config.sessionMaxAgeMs },
  }) as unknown as (req: HttpRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

  // Operations still running: the HTTP server forgets a request once its client hangs up, but its
  // resolvers go on (a login waits for its hash, then writes): close() lets them finish first.
  const inFlight = new Set<Promise<unknown>>();

  const graphql = async (req: HttpRequest, res: ServerResponse) => {
    if (cors(req, res) || !(await readBody(req, res))) return;
    cookieSession(req, res, (error) => {
      if (error) return serverError(error, req, res);
      const handling = Promise.resolve(yoga.handle(req, res, { req, res })).catch((failure) =>
        serverError(failure, req, res),
      );
      inFlight.add(handling);
      void handling.finally(() => inFlight.delete(handling));
    });
  };

  return {
    handle(req, res) {
      log(req, res);
      identifyClient(req, trust);
      const path = req.url?.split('?', 1)[0];
      const reading = req.method === 'GET' || req.method === 'HEAD';
      if (path === yoga.graphqlEndpoint) void graphql(req, res).catch((error) => serverError(error, req, res));
      else if (path === '/health' && reading) health(req, res);
      else if (path === JWKS_PATH && reading) jwks(req, res);
      else sendJson(res, 404, { errors: [{ message: `Nothing at ${req.method} ${path}.` }] });
    },
    async settle(ms) {
      return Promise.race([
        Promise.allSettled(inFlight).then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref()),
      ]);
    },
    get running() {
      return inFlight.size;
    },
  };
}
