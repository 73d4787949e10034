// The framework floor: the service's express + Yoga setup (the same Yoga options and plugins: CSRF
// prevention, introspection off, graphql-armor limits, masked errors, batching off; the same raw
// body parser and request-log middleware) answering a constant `me`, with no database, no session
// and no Pothos. The service can at best approach this; run.ts compares against it.
// Started by run.ts as its own process: PORT in the environment; prints "listening" when ready.
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import express, { type Request, type Response } from 'express';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { CSRF_HEADERS, MAX_BODY_BYTES } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { queryLimitPlugins } from '../../src/queryLimits.ts';

const logger = createLogger({ logLevel: 'warn' });

const me = {
  id: '2',
  email: 'user1@bench.example',
  firstName: 'First1',
  lastName: 'Last1',
  isStaff: false,
  isActive: true,
  dateJoined: new Date('2026-01-01T00:00:00Z'),
  lastLogin: null,
};

const schema = createSchema<{ req: Request; res: Response }>({
  typeDefs: /* GraphQL */ `
    scalar DateTime
    type User {
      id: ID!
      email: String!
      firstName: String!
      lastName: String!
      isStaff: Boolean!
      isActive: Boolean!
      dateJoined: DateTime!
      lastLogin: DateTime
    }
    type Query {
      me: User
    }
  `,
  resolvers: { Query: { me: () => me } },
});

const yoga = createYoga<{ req: Request; res: Response }>({
  schema,
  context: ({ req, res }) => ({ req, res }),
  graphiql: false,
  landingPage: false,
  batching: false,
  cors: false,
  maskedErrors: { maskError: (error) => (error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.')) },
  logging: 'warn',
  plugins: [useCSRFPrevention({ requestHeaders: CSRF_HEADERS }), useDisableIntrospection(), ...queryLimitPlugins({ production: true })],
});

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', 'loopback');
app.use((req, res, next) => {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info({ method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
  });
  next();
});
app.use(
  yoga.graphqlEndpoint,
  express.raw({ type: () => true, limit: MAX_BODY_BYTES }),
  (req, res) => yoga.handle(req, res, { req, res }),
);

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
