import type { AddressInfo } from 'node:net';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import type { Logger } from 'pino';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { freshDatabase } from './databases.ts';
import { Login } from '../operations/auth.ts';

export interface TestApp extends App {
  url: string;
  /** SQL statements run since the app started (or since `sql.length = 0`). */
  sql: string[];
  /** A client with its own cookie jar. */
  client(headers?: Record<string, string>): TestClient;
  /** Creates a user straight in the database (one cheap bcrypt hash per password). */
  createUser(fields: {
    email: string;
    password?: string;
    isStaff?: boolean;
    isActive?: boolean;
    emailVerified?: boolean;
    firstName?: string;
    lastName?: string;
  }): Promise<{ id: number; email: string }>;
  /** A client signed in as a new user. */
  signedIn(fields: { email: string; isStaff?: boolean }): Promise<TestClient>;
  /**
   * Stops this app and starts it again on the same database and data folder, with the
   * environment changed as given (undefined removes a variable): a redeploy with new configuration.
   */
  restart(changes: Record<string, string | undefined>): Promise<TestApp>;
  stop(): Promise<void>;
}

export const TEST_PASSWORD = 'Correct-Horse-Battery-9';

/** Starts the real app on a fresh copy of the migrated database, on a free loopback port. */
export async function startTestApp(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<TestApp> {
  return serve(await freshDatabase(inject('templateDatabase')), env, options);
}

type Database = Awaited<ReturnType<typeof freshDatabase>>;

async function serve(database: Database, env: Record<string, string>, options: { logger?: Logger }): Promise<TestApp> {
  const config = loadConfig({
    DATA_DIR: database.dir,
    ...database.env,
    DATABASE_POOL_SIZE: '4',
    LOG_LEVEL: 'error',
    BCRYPT_COST: '10',
    HASH_WORKERS: '1',
    // Suites sign in many times from 127.0.0.1; tests/rateLimits.test.ts turns the limits on.
    RATE_LIMITS: 'off',
    ...env,
  });
  const sql: string[] = [];
  const app = await createApp(config, { ...options, onQuery: (query) => sql.push(query) });
  const server = app.server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const hashes = new Map<string, string>();
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
  };

  const testApp: TestApp = {
    ...app,
    url,
    sql,
    client: (headers) => new TestClient(url, headers),
    async createUser({ password = TEST_PASSWORD, ...fields }) {
      let passwordHash = hashes.get(password);
      if (!passwordHash) {
        passwordHash = await app.services.hasher.hash(password);
        hashes.set(password, passwordHash);
      }
      return app.services.prisma.user.create({
        data: { ...fields, email: fields.email.toLowerCase(), passwordHash },
        select: { id: true, email: true },
      });
    },
    async signedIn(fields) {
      const user = await testApp.createUser(fields);
      const client = testApp.client();
      await client.login(user.email, TEST_PASSWORD);
      return client;
    },
    async restart(changes) {
      await close();
      const next = { ...env, ...changes };
      for (const [name, value] of Object.entries(next)) if (value === undefined) delete next[name];
      return serve(database, next as Record<string, string>, options);
    },
    async stop() {
      await close();
      await database.drop();
    },
  };
  return testApp;
}

export interface GraphQLResponse<TData> extends ExecutionResult<TData> {
  status: number;
  headers: Headers;
}

/** Talks to the server over HTTP like a browser would: JSON POSTs and a cookie jar. */
export class TestClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly url: string,
    readonly headers: Record<string, string> = {},
  ) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    if (this.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', this.cookieHeader);
    const response = await fetch(`${this.url}${pathname}`, { ...init, headers });
    for (const setCookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = setCookie.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      const expired = attributes.some((attribute) => /^\s*expires=Thu, 01 Jan 1970/i.test(attribute));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  async request<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
  ): Promise<GraphQLResponse<TData>> {
    const response = await this.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return { ...(await response.json()), status: response.status, headers: response.headers };
  }

  /** A raw GraphQL POST for documents the schema rejects, which codegen cannot type. */
  async raw(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<any>> {
    const response = await this.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { ...(await response.json()), status: response.status, headers: response.headers };
  }

  async login(email: string, password: string) {
    const result = await this.request(Login, { input: { email, password } });
    if (result.data?.login?.__typename !== 'User') throw new Error(`login failed for ${email}`);
    return result;
  }
}
