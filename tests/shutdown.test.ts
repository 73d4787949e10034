import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD, TestClient } from './helpers/app.ts';
import { EXIT_TIMEOUT_MS, post, ServerProcesses, within, type RunningServer } from './helpers/server.ts';
import { Register } from './operations/auth.ts';

const BURST = 20;

let dir: string;
const servers = new ServerProcesses();

/** The real entry point, as `npm start` runs it (migrations included), on the test's database. */
function startServer(): Promise<RunningServer> {
  return servers.start({
    DATA_DIR: dir,
    DATABASE_URL: `file:${path.join(dir, 'app.db')}`,
    LOG_LEVEL: 'info',
    RATE_LIMITS: 'off',
    BCRYPT_COST: '10',
    // The burst is about shutdown, not the hash queue's bound: on a busy machine 20 hashes can
    // exceed the default 10 seconds of queued work and be refused as busy.
    HASH_QUEUE_MAX_WAIT_SECONDS: '300',
  });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-shutdown-'));
});
afterAll(async () => {
  await servers.killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('graceful shutdown', () => {
  const emails = Array.from({ length: BURST }, (_, i) => `shutdown${i}@example.com`);

  it('finishes every in-flight request on SIGTERM, closes the database and exits 0', { timeout: 120_000 }, async () => {
    const server = await startServer();

    // Each register hashes a password with bcrypt, so the burst takes a while to drain.
    let answered = 0;
    const burst = emails.map((email) => post(server.url, Register, { input: { email, password: TEST_PASSWORD } }));
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
    expect(users).toEqual(emails.map((email) => expect.objectContaining({ __typename: 'User', id: expect.any(String), email })));
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

  const abandoned = Array.from({ length: 6 }, (_, i) => `abandoned${i}@example.com`);

  it('finishes operations whose client hung up before closing the database, and logs no error', { timeout: 120_000 }, async () => {
    const server = await startServer();
    const burst = abandoned.map((email) => post(server.url, Register, { input: { email, password: TEST_PASSWORD } }));
    await Promise.all(burst.map(({ sent }) => sent));
    for (const request of burst) request.abort();
    await Promise.allSettled(burst.map(({ response }) => response));
    server.child.kill('SIGTERM');

    expect(await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
    expect(server.logs.filter((entry) => (entry.level ?? 0) >= 50)).toEqual([]);
    expect(server.logs.at(-1)?.msg).toBe('stopped');
  });

  it('keeps every user of the burst across a restart on the same database', { timeout: 120_000 }, async () => {
    const server = await startServer();
    // The abandoned registrations too: their clients left, the accounts were made all the same.
    for (const email of [...emails, ...abandoned]) await new TestClient(server.url).login(email, TEST_PASSWORD);

    server.child.kill('SIGTERM');
    expect(await within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
