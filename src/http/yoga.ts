import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { PothosValidationError } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { Logger } from 'pino';
import { isDatabaseUnavailable, isStorageFull, type StorageFullness } from '../db.ts';
import { HashQueueFullError } from '../passwords/hasher.ts';
import { queryLimitPlugins } from '../queryLimits.ts';
import { RateLimitedError } from '../rateLimits.ts';
import { useBadRequestOnMalformedParameters, useCsrfRule } from './transport.ts';

// Any of these forces a browser to preflight, which a cross-site form or image cannot. A bearer
// token's Authorization header does too, so token clients need no extra header.
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'graphql-require-preflight', 'authorization'];

export const SERVICE_UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; try again shortly.';

type At = { nodes?: GraphQLError['nodes']; path?: GraphQLError['path'] };

/** The database cannot be reached (a restart, an outage): the request may succeed when retried. */
export function serviceUnavailable(at: At = {}): GraphQLError {
  return new GraphQLError(SERVICE_UNAVAILABLE_MESSAGE, { ...at, extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503 } } });
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

export interface YogaSettings<ServerContext extends object> {
  production: boolean;
  logger: Logger;
  /** Notes failed writes for lack of space, which /health then reports. */
  storage?: StorageFullness;
  /** Plugins of the app's own (trusted documents), before the CSRF rule and the limits. */
  plugins?: Plugin<Record<string, unknown>, ServerContext>[];
}

/**
 * Every Yoga option but the schema and the context: the app's and the benchmark floor's (which
 * answers a constant schema through the same transport, errors and limits).
 */
export function yogaOptions<ServerContext extends object>({ production, logger, storage, plugins = [] }: YogaSettings<ServerContext>) {
  return {
    graphiql: production ? false : { title: 'Auth API', credentials: 'include' as const },
    // Yoga's default page loads GraphiQL from a CDN; this one carries its assets, so it works offline.
    // Loaded on first use: its 9 MB of assets would otherwise weigh on every process, production included.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    landingPage: false,
    batching: false,
    // readBody (http/pipeline.ts) has already buffered the body under its cap; Yoga's own limit
    // would stream those bytes once more through a TransformStream, for every request.
    maxRequestBodySize: false as const,
    // CORS is answered before Yoga (see corsHeaders), for listed origins only.
    cors: false,
    maskedErrors: {
      maskError: (error) => {
        storage?.note(error instanceof GraphQLError ? (error.originalError ?? error) : error);
        return maskError(error);
      },
    },
    logging: yogaLogger(logger),
    plugins: [
      useCsrfRule(CSRF_HEADERS),
      useBadRequestOnMalformedParameters(),
      ...plugins,
      ...(production ? [useDisableIntrospection()] : []),
      ...queryLimitPlugins({ production }),
    ],
  } satisfies Omit<YogaServerOptions<ServerContext, object>, 'schema' | 'context'>;
}
