// TRUSTED_DOCUMENTS: only the manifest's documents run, named by hash, except for staff. The
// manifest is the one codegen writes for the example clients (examples/generated).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as apollo from '../examples/apollo.ts';
import { CurrentUser, SignIn } from '../examples/operations.ts';
import { memoryTokenStore } from '../examples/tokens.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startTestApp, TEST_PASSWORD, TestClient, type TestApp } from './helpers/app.ts';
import { browserishFetch } from './helpers/browserishFetch.ts';
import { freshDatabase } from './helpers/databases.ts';
import { ServerProcesses } from './helpers/server.ts';
import { AdHocMe, AdHocTokens } from './operations/trustedDocuments.ts';

const MANIFEST = fileURLToPath(new URL('../examples/generated/persisted-documents.json', import.meta.url));
const manifest: Record<string, string> = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));


/** The manifest's key for a codegen document (`sha256:<hex>`), and its plain hex hash. */
function hashOf(document: unknown): { key: string; hex: string } {
  const key = (document as { __meta__: { hash: string } }).__meta__.hash;
  return { key, hex: key.replace(/^sha256:/, '') };
}

let app: TestApp;
let users = 0;
beforeAll(async () => {
  app = await startTestApp({ TRUSTED_DOCUMENTS: MANIFEST });
});
afterAll(() => app?.stop());

const newEmail = (name: string) => `${name}-${++users}@example.com`;

/** A JSON POST with whatever body a client might send. */
async function post(client: TestClient, body: Record<string, unknown>) {
  const response = await client.fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...(await response.json()) };
}

const codes = (result: { errors?: { extensions?: { code?: unknown } }[] }) => result.errors?.map((error) => error.extensions?.code);

/** A cookie session started with the manifest's SignIn, as the examples do. */
async function signedInWithTrustedDocument(fields: { email: string; isStaff?: boolean }): Promise<TestClient> {
  await app.createUser(fields);
  const client = app.client();
  const result = await post(client, {
    operationName: 'SignIn',
    variables: { input: { email: fields.email, password: TEST_PASSWORD } },
    extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(SignIn).key } },
  });
  expect(result.data?.login.__typename).toBe('User');
  return client;
}

async function bearerOf(email: string, isStaff: boolean): Promise<TestClient> {
  await app.createUser({ email, isStaff });
  const staffCookie = await signedInWithTrustedDocument({ email: newEmail('token-issuer'), isStaff: true });
  // Staff may send any document: here, to obtain tokens for the account under test.
  const tokens = await staffCookie.request(AdHocTokens, { input: { email, password: TEST_PASSWORD } });
  const pair = tokens.data?.obtainTokens;
  if (pair?.__typename !== 'TokenPair') throw new Error(`obtainTokens failed: ${JSON.stringify(tokens)}`);
  return app.client({ authorization: `Bearer ${pair.accessToken}` });
}

describe('the Apollo example in persisted mode', () => {
  it('signs in, reads me and signs out with a cookie session, sending hashes only', async () => {
    const email = newEmail('apollo-cookie');
    await app.createUser({ email });
    const http = browserishFetch();
    const client = apollo.createCookieClient(`${app.url}/graphql`, { fetch: http.fetch, persisted: true });

    expect(await apollo.me(client)).toBeNull();
    expect(await apollo.login(client, email, TEST_PASSWORD)).toMatchObject({ __typename: 'User', email });
    expect(await apollo.me(client)).toMatchObject({ email });
    expect(await apollo.logout(client)).toBe('Successfully logged out');
    expect(await apollo.me(client)).toBeNull();

    expect(http.sent.map((request) => request.operationName)).toEqual(['CurrentUser', 'SignIn', 'CurrentUser', 'SignOut', 'CurrentUser']);
    for (const request of http.sent) {
      expect(request.sentText, request.operationName!).toBe(false);
      expect(manifest[request.documentHash!], request.operationName!).toBeDefined();
      expect(request.errorCodes).toEqual([]);
    }
  });

  it('obtains tokens and sends them as a bearer token, sending hashes only', async () => {
    const email = newEmail('apollo-tokens');
    await app.createUser({ email });
    const http = browserishFetch({ jar: false });
    const store = memoryTokenStore();
    const client = apollo.createTokenClient(`${app.url}/graphql`, { fetch: http.fetch, store, persisted: true });

    expect(await apollo.obtainTokens(client, store, email, TEST_PASSWORD)).toMatchObject({ __typename: 'TokenPair' });
    expect(await apollo.me(client)).toMatchObject({ email });
    expect(http.named('CurrentUser').at(-1)?.authorization).toBe(`Bearer ${store.get()!.accessToken}`);
    expect(await apollo.logout(client, store)).toBe('Successfully logged out');
    expect(http.sent.every((request) => !request.sentText && request.documentHash !== undefined)).toBe(true);
  });

  it('the same example without persisted mode is refused: its documents are sent as text', async () => {
    const client = apollo.createCookieClient(`${app.url}/graphql`, { fetch: browserishFetch().fetch });
    const error = await apollo.me(client).catch((caught: unknown) => caught);
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect((error as CombinedGraphQLErrors).errors.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
  });
});

describe('requests by hash', () => {
  const me = { operationName: 'CurrentUser' };

  it('runs a document named by extensions.persistedQuery.sha256Hash, plain or prefixed, or by documentId', async () => {
    const { key, hex } = hashOf(CurrentUser);
    for (const body of [
      { ...me, extensions: { persistedQuery: { version: 1, sha256Hash: hex } } },
      { ...me, extensions: { persistedQuery: { version: 1, sha256Hash: key } } },
      { ...me, documentId: hex },
    ]) {
      expect(await post(app.client(), body), JSON.stringify(body)).toMatchObject({ status: 200, data: { me: null } });
    }
    const response = await fetch(`${app.url}/graphql?documentId=${hex}`, { headers: { 'graphql-require-preflight': '1', accept: 'application/json' } });
    expect(await response.json()).toEqual({ data: { __typename: 'Query', me: null } });
  });

  it('answers PERSISTED_QUERY_NOT_FOUND for a hash the manifest does not hold', async () => {
    const unknown = 'a'.repeat(64);
    for (const body of [{ extensions: { persistedQuery: { version: 1, sha256Hash: unknown } } }, { documentId: unknown }, { documentId: 'not-a-hash' }]) {
      const result = await post(app.client(), body);
      expect(result.data, JSON.stringify(body)).toBeUndefined();
      expect(codes(result), JSON.stringify(body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    }
  });

  it('refuses a request that names no document, or sends text (even the text of a trusted one), with PERSISTED_QUERY_ONLY', async () => {
    const ada = await signedInWithTrustedDocument({ email: newEmail('ada') });
    const bearer = await bearerOf(newEmail('bearer'), false);
    for (const client of [app.client(), ada, bearer]) {
      for (const body of [{ query: print(AdHocMe) }, { query: manifest[hashOf(CurrentUser).key] }, {}, { extensions: { persistedQuery: { version: 1 } } }]) {
        const result = await post(client, body);
        expect(result.data, JSON.stringify(body)).toBeUndefined();
        expect(codes(result), JSON.stringify(body)).toEqual(['PERSISTED_QUERY_ONLY']);
      }
    }
    const get = await fetch(`${app.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { 'graphql-require-preflight': '1', accept: 'application/json' },
    });
    expect(codes(await get.json())).toEqual(['PERSISTED_QUERY_ONLY']);
  });

  it('runs any document for staff, signed in with a cookie or a bearer token', async () => {
    const email = newEmail('staff');
    const cookie = await signedInWithTrustedDocument({ email, isStaff: true });
    expect((await cookie.request(AdHocMe)).data?.me?.email).toBe(email);
    const bearerEmail = newEmail('staff-bearer');
    const bearer = await bearerOf(bearerEmail, true);
    expect((await bearer.request(AdHocMe)).data?.me?.email).toBe(bearerEmail);
  });

  it('still serves GraphiQL, which staff use with their session', async () => {
    const response = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GraphiQL');
  });
});

describe('the built service (as npm start runs it)', () => {
  const servers = new ServerProcesses();
  afterAll(() => servers.killAll());

  it('starts with the manifest: the Apollo example runs by hash, text is refused', { timeout: 120_000 }, async () => {
    const database = await freshDatabase(inject('templateDatabase'));
    try {
      const server = await servers.start({ DATABASE_URL: database.url, DATA_DIR: database.dir, LOG_LEVEL: 'warn', TRUSTED_DOCUMENTS: MANIFEST });
      const persisted = apollo.createCookieClient(`${server.url}/graphql`, { fetch: browserishFetch().fetch, persisted: true });
      expect(await apollo.me(persisted)).toBeNull();
      const text = await post(new TestClient(server.url), { query: print(AdHocMe) });
      expect(codes(text)).toEqual(['PERSISTED_QUERY_ONLY']);
      await servers.stop(server);
    } finally {
      await database.drop();
    }
  });
});

describe('a bad TRUSTED_DOCUMENTS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-trusted-'));
  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  const hex = hashOf(CurrentUser).hex;
  const cases: [string, string, RegExp][] = [
    ['a missing file', path.join(dir, 'missing.json'), /^TRUSTED_DOCUMENTS: cannot read .*missing\.json: ENOENT$/],
    ['not JSON', write('broken.json', '{ "a": '), /^TRUSTED_DOCUMENTS: .*broken\.json is not JSON/],
    ['a list', write('list.json', '["query { me { id } }"]'), /must be a JSON object of \{ "<sha256 hash>": "<document>" \}/],
    ['a key that is no hash', write('key.json', JSON.stringify({ CurrentUser: 'query CurrentUser { me { id } }' })), /"CurrentUser" is not a SHA-256 hash/],
    ['a hash of another document', write('stale.json', JSON.stringify({ [hex]: 'query Other { me { id } }' })), new RegExp(`${hex} is not the SHA-256 of its document`)],
    ['a document that is not GraphQL', write('text.json', JSON.stringify({ [sha256('hello')]: 'hello' })), /is not GraphQL: Syntax Error/],
    ['an empty manifest', write('empty.json', '{}'), /holds no documents/],
  ];

  it.each(cases)('refuses %s with a clear message', (_name, file, message) => {
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dir, TRUSTED_DOCUMENTS: file });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it('stops the server at start-up: exit 1 and the message, no stack', async () => {
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, DATA_DIR: dir, TRUSTED_DOCUMENTS: cases[4]![1] },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (error: { code: number; stderr: string; stdout: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Configuration error: TRUSTED_DOCUMENTS: ${cases[4]![1]}: ${hex} is not the SHA-256 of its document`);
    expect(`${result.stderr}${result.stdout}`).not.toMatch(/\n\s+at /);
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
