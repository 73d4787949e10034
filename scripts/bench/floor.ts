// The framework floors: the service's node:http + Yoga setup (the same Yoga options from
// src/http/yoga.ts: CSRF rule, introspection off, graphql-armor limits, masked errors, batching off;
// the same body reader and request log from src/http/pipeline.ts) with no database, no session and
// no Pothos, answering
// - a constant `me` (the read floor, one process);
// - with FLOOR_HASH_COST set, `login` with one check on the service's hashing pool (PasswordHasher,
//   FLOOR_HASH_THREADS threads a process) against a fixed hash, in FLOOR_PROCESSES cluster workers
//   as the service runs them: the login floor, what a login costs when it is nothing but the hash
//   behind this HTTP and GraphQL set-up.
// The service can at best approach these; run.ts compares against them.
// Started by run.ts as its own process: PORT in the environment; prints "listening" when every
// process serves.
import cluster from 'node:cluster';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { logRequests, readBody } from '../../src/http/pipeline.ts';
import { yogaOptions } from '../../src/http/yoga.ts';
import { createLogger } from '../../src/logger.ts';
import { PasswordHasher } from '../../src/passwords/hasher.ts';
import type { BcryptPreference } from '../../src/config.ts';

const processes = Number(process.env.FLOOR_PROCESSES ?? 1);

if (processes > 1 && cluster.isPrimary) {
  let serving = 0;
  for (let i = 0; i < processes; i += 1) {
    cluster.fork().on('message', (message) => {
      if (message === 'listening' && (serving += 1) === processes) console.log('listening');
    });
  }
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  });
} else {
  await serve();
}

async function serve() {
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

  const hashCost = process.env.FLOOR_HASH_COST;
  const hasher =
    hashCost === undefined
      ? null
      : new PasswordHasher({
          cost: Number(hashCost),
          threads: Number(process.env.FLOOR_HASH_THREADS ?? 1),
          implementation: (process.env.FLOOR_HASH_IMPLEMENTATION ?? 'auto') as BcryptPreference,
        });
  await hasher?.warmUp();
  const storedHash = await hasher?.hash(process.env.FLOOR_PASSWORD ?? '');

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
      interface Error {
        message: String!
      }
      type InvalidCredentialsError implements Error {
        message: String!
      }
      union LoginResult = User | InvalidCredentialsError
      input LoginInput {
        email: String!
        password: String!
      }
      type Query {
        me: User
      }
      type Mutation {
        login(input: LoginInput!): LoginResult!
      }
    `,
    resolvers: {
      Query: { me: () => me },
      Mutation: {
        login: async (_, { input }: { input: { password: string } }) =>
          (await hasher!.verify(input.password, storedHash)) ? me : { message: 'Invalid email or password.' },
      },
      LoginResult: { __resolveType: (result: object) => ('id' in result ? 'User' : 'InvalidCredentialsError') },
    },
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
  server.listen(Number(process.env.PORT), '127.0.0.1', () => (cluster.isWorker ? process.send!('listening') : console.log('listening')));
  process.on('SIGTERM', () =>
    server.close(async () => {
      await hasher?.close();
      process.exit(0);
    }),
  );
}
