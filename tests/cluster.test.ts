import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TEST_PASSWORD } from './helpers/app.ts';
import { freshDatabase } from './helpers/databases.ts';
import { EXIT_TIMEOUT_MS, post, ServerProcesses, within, type RunningServer } from './helpers/server.ts';
import { Login, Me, Register } from './operations/auth.ts';

// WEB_CONCURRENCY=2: one primary and two serving workers sharing the port. Every request here goes
// on a connection of its own, and the primary hands connections to the workers in turn, so
// consecutive requests reach both.

const BURST = 12;

const servers = new ServerProcesses();
let database: Awaited<ReturnType<typeof freshDatabase>>;
let server: RunningServer;

// Each request from an address of its own (TRUST_PROXY=1 reads X-Forwarded-For), so that only the
// limits a test is about apply, on a connection of its own.
let addresses = 0;
function send<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, variables: TVariables, headers: Record<string, string> = {}) {
  addresses += 1;
  return post(server.url, document, variables, { 'x-forwarded-for': `10.78.0.${addresses}`, ...headers, connection: 'close' });
}

/** Workers that logged a request since `from` (log lines carry the process id). */
function servingPids(from = 0): Set<unknown> {
  return new Set(server.logs.slice(from).filter((entry) => entry.msg === 'request').map((entry) => entry.pid));
}

async function register(email: string): Promise<void> {
  const { body } = await send(Register, { input: { email, password: TEST_PASSWORD } }).response;
  expect(body.data?.register).toMatchObject({ __typename: 'User', email });
}

async function workerPids(count: number): Promise<number[]> {
  const listening = () => server.logs.filter((entry) => entry.msg === 'worker listening').map((entry) => entry.pid as number);
  await within(
    (async () => {
      while (new Set(listening()).size < count) await new Promise((resolve) => setTimeout(resolve, 50));
    })(),
    30_000,
    `${count} workers listening`,
  );
  return [...new Set(listening())];
}

beforeAll(async () => {
  database = await freshDatabase(inject('templateDatabase'));
  server = await servers.start({
    DATA_DIR: database.dir,
    ...database.env,
    WEB_CONCURRENCY: '2',
    RATE_LIMITS: 'on',
    TRUST_PROXY: '1',
    // As behind a proxy with many clients: only the failure limits hold back parallel guesses.
    RATE_LIMIT_IP_ATTEMPTS: '1000/60',
    HASH_QUEUE_MAX_WAIT_SECONDS: '600',
    LOG_LEVEL: 'debug',
  });
  await workerPids(2);
});

afterAll(async () => {
  await servers.killAll();
  await database?.drop();
});

describe('WEB_CONCURRENCY=2', () => {
  it('serves from two worker processes, one session valid on both', async () => {
    const from = server.logs.length;
    await register('cluster-session@example.com');
    const login = await send(Login, { input: { email: 'cluster-session@example.com', password: TEST_PASSWORD } }).response;
    expect(login.body.data?.login.__typename).toBe('User');
    const cookie = login.headers['set-cookie']!.map((value) => value.split(';')[0]).join('; ');

    for (let i = 0; i < 6; i += 1) {
      const { body } = await send(Me, {}, { cookie }).response;
      expect(body.data?.me).toMatchObject({ email: 'cluster-session@example.com' });
    }
    expect(servingPids(from).size).toBe(2);
    expect(servingPids(from)).not.toContain(server.child.pid);
  });

  it('counts failed logins for both workers together: the lock-out holds whichever worker answers', async () => {
    const email = 'cluster-limits@example.com';
    await register(email);
    const from = server.logs.length;
    // The default allows 5 failures per address and email in 15 minutes.
    const address = { 'x-forwarded-for': '203.0.113.77' };
    for (let i = 0; i < 5; i += 1) {
      const { body } = await send(Login, { input: { email, password: 'wrong password' } }, address).response;
      expect(body.data?.login.__typename).toBe('InvalidCredentialsError');
    }
    expect(servingPids(from).size).toBe(2);
    for (let i = 0; i < 2; i += 1) {
      const { body } = await send(Login, { input: { email, password: TEST_PASSWORD } }, address).response;
      expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    }
  });

  it('checks no more passwords than the limits allow when 50 guesses for one email arrive at once on both workers', { timeout: 90_000 }, async () => {
    const email = 'cluster-parallel@example.com';
    await register(email);
    const from = server.logs.length;
    const guess = (i: number, ip: string) =>
      send(Login, { input: { email, password: `wrong password ${i}` } }, { 'x-forwarded-for': ip }).response.then(
        ({ body }) => body.data?.login.__typename ?? body.errors?.[0]?.extensions?.code,
      );
    const tally = (answers: unknown[]) => ({
      checked: answers.filter((answer) => answer === 'InvalidCredentialsError').length,
      refused: answers.filter((answer) => answer === 'RATE_LIMITED').length,
    });

    // One address: 5 failures per email and address.
    const oneAddress = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(i, '203.0.113.88')));
    expect(tally(oneAddress)).toEqual({ checked: 5, refused: 45 });
    // Many addresses: 20 failures per email in all (5 of them spent above).
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(i, `198.51.100.${i + 1}`)));
    expect(tally(many)).toEqual({ checked: 15, refused: 35 });
    expect(servingPids(from).size).toBe(2);
  });

  it('replaces a worker that dies and goes on serving', async () => {
    const [victim] = await workerPids(2);
    process.kill(victim!, 'SIGKILL');
    const workers = await workerPids(3);
    expect(workers).toContain(victim);
    expect(server.logs.some((entry) => entry.msg === `worker ${victim} exited (SIGKILL); starting another`)).toBe(true);

    const from = server.logs.length;
    for (let i = 0; i < 4; i += 1) await register(`cluster-replaced${i}@example.com`);
    const serving = servingPids(from);
    expect(serving.size).toBe(2);
    expect(serving).not.toContain(victim);
  });

  it('on SIGTERM answers every request in flight on both workers, then exits 0', { timeout: 60_000 }, async () => {
    const emails = Array.from({ length: BURST }, (_, i) => `cluster-shutdown${i}@example.com`);
    const burst = emails.map((email) => send(Register, { input: { email, password: TEST_PASSWORD } }));
    await Promise.all(burst.map(({ sent }) => sent));
    server.child.kill('SIGTERM');

    const results = await Promise.all(burst.map(({ response }) => response));
    expect(results.map(({ body }) => body.data?.register)).toEqual(
      emails.map((email) => expect.objectContaining({ __typename: 'User', id: expect.any(String), email })),
    );
    expect(await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
    const messages = server.logs.map((entry) => entry.msg);
    expect(messages.at(-1)).toBe('stopped');
    const errors = server.logs.filter((entry) => (entry.level ?? 0) >= 50).map((entry) => String(entry.msg));
    expect(errors.filter((message) => !/^worker \d+ exited \(SIGKILL\); starting another$/.test(message))).toEqual([]);
  });
});
