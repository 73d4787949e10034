import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.ts';
import { TEST_PASSWORD, TestClient } from './helpers/app.ts';

const ShutdownRegister = graphql(`
  mutation ShutdownRegister($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ... on User {
        id
        email
      }
    }
  }
`);

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BURST = 20;
/** Bounds on waits for a condition; none of them is a timing assertion. */
const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 20_000;

interface RunningServer {
  child: ChildProcess;
  url: string;
  logs: Array<{ msg?: string; level?: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

interface Posted<TData> {
  /** Settles once the whole request has been handed to the operating system. */
  sent: Promise<void>;
  response: Promise<{ status: number; headers: IncomingHttpHeaders; body: ExecutionResult<TData> }>;
}

/** A JSON POST that reports when it has been sent (fetch cannot), so a signal can follow it. */
function post<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables): Posted<TData> {
  let sent!: () => void;
  const posted = new Promise<void>((resolve) => (sent = resolve));
  const response = new Promise<Awaited<Posted<TData>['response']>>((resolve, reject) => {
    const request = http.request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) });
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    request.on('finish', sent);
    request.on('error', reject);
    request.end(JSON.stringify({ query: print(document), variables }));
  });
  return { sent: posted, response };
}

let dir: string;
const started: ChildProcess[] = [];

/** The real entry point, as `npm start` runs it (migrations included), on the test's database. */
async function startServer(): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dir,
      DATABASE_URL: `file:${path.join(dir, 'app.db')}`,
      LOG_LEVEL: 'info',
      RATE_LIMITS: 'off',
      BCRYPT_COST: '10',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const logs: RunningServer['logs'] = [];
  let listening!: () => void;
  const serving = new Promise<void>((resolve) => (listening = resolve));
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      let entry: RunningServer['logs'][number];
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { msg: line };
      }
      logs.push(entry);
      if (entry.msg?.startsWith('serving ')) listening();
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const died = exited.then(({ code }) => {
    throw new Error(`server exited with ${code} before listening:\n${stderr}\n${JSON.stringify(logs)}`);
  });
  await within(Promise.race([serving, died]), START_TIMEOUT_MS, 'the server listening');
  const url = `http://127.0.0.1:${port}`;
  const health = await fetch(`${url}/health`);
  expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  return { child, url, logs, exited };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-shutdown-'));
});
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('graceful shutdown', () => {
  const emails = Array.from({ length: BURST }, (_, i) => `shutdown${i}@example.com`);

  it('finishes every in-flight request on SIGTERM, closes the database and exits 0', { timeout: 120_000 }, async () => {
    const server = await startServer();

    // Each register hashes a password with bcrypt, so the burst takes a while to drain.
    let answered = 0;
    const burst = emails.map((email) => post(server.url, ShutdownRegister, { input: { email, password: TEST_PASSWORD } }));
    for (const { response } of burst) void response.finally(() => answered++).catch(() => undefined);
    await Promise.all(burst.map(({ sent }) => sent));
    const inFlightAtSignal = BURST - answered;
    server.child.kill('SIGTERM');

    const results = await Promise.allSettled(burst.map(({ response }) => response));
    const { code, signal } = await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM');

    expect(inFlightAtSignal).toBeGreaterThan(0);
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value.status : String(result.reason)))).toEqual(
      Array(BURST).fill(200),
    );
    const users = results.map((result) => (result.status === 'fulfilled' ? result.value.body.data?.register : undefined));
    expect(users).toEqual(emails.map((email) => ({ __typename: 'User', id: expect.any(String), email })));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const messages = server.logs.map((entry) => entry.msg);
    expect(messages).toContain('SIGTERM received, finishing in-flight requests');
    expect(messages.at(-1)).toBe('stopped');
    // Responses finished during shutdown close their connection, so idle keep-alive connections
    // neither hold the server open nor bring it new requests.
    const finishedDuringShutdown = messages
      .slice(messages.indexOf('SIGTERM received, finishing in-flight requests'))
      .filter((message) => message === 'request').length;
    const closing = results.filter((result) => result.status === 'fulfilled' && result.value.headers.connection === 'close');
    expect(finishedDuringShutdown).toBeGreaterThan(0);
    expect(closing.length).toBe(finishedDuringShutdown);
    expect(server.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
    // SQLite folds the write-ahead log back into the database when its last connection closes.
    const wal = path.join(dir, 'app.db-wal');
    expect(fs.existsSync(wal) ? fs.statSync(wal).size : 0).toBe(0);
  });

  it('keeps every user of the burst across a restart on the same database', { timeout: 120_000 }, async () => {
    const server = await startServer();
    for (const email of emails) await new TestClient(server.url).login(email, TEST_PASSWORD);

    server.child.kill('SIGTERM');
    expect(await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
