// The framework floor: the service's node:http + Yoga setup (the same Yoga options from
// src/http/yoga.ts: CSRF rule, introspection off, graphql-armor limits, masked errors, batching off;
// the same body reader and request log from src/http/pipeline.ts) answering a constant `me`, with
// no database, no session and no Pothos. The service can at best approach this; run.ts compares
// against it.
// Started by run.ts as its own process: PORT in the environment; prints "listening" when ready.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { logRequests, readBody } from '../../src/http/pipeline.ts';
import { yogaOptions } from '../../src/http/yoga.ts';
import { createLogger } from '../../src/logger.ts';

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

type ServerContext = { req: IncomingMessage; res: ServerResponse };

const schema = createSchema<ServerContext>({
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

const yoga = createYoga<ServerContext>({
  schema,
  context: ({ req, res }) => ({ req, res }),
  ...yogaOptions<ServerContext>({ production: true, logger }),
});

const log = logRequests(logger);
const server = http.createServer((req, res) => {
  log(req, res);
  void readBody(req, res).then((read) => {
    if (read) void yoga.handle(req, res, { req, res });
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
