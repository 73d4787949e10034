import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT, startCommand } from '../scripts/startCommand.ts';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';
import { testServerUrl } from './helpers/databases.ts';
import { EXIT_TIMEOUT_MS, within } from './helpers/server.ts';
import { Register } from './operations/auth.ts';

// SQLite files in states an operator meets: read-only, full. (The PostgreSQL counterparts, a lost
// server and what its errors log, are in tests/outage.test.ts.)

const run = promisify(execFile);
const sqliteOnly = testServerUrl ? describe.skip : describe;
const temporary: string[] = [];

afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

/** The built server started as `npm start` starts it; as an unprivileged user when the tests run as root (root may write anything). */
async function startAsUser(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number((await run('id', ['-u', 'nobody'])).stdout), gid: Number((await run('id', ['-g', 'nobody'])).stdout) } : {};
  const start = startCommand();
  const child = spawn(process.execPath, start.argv, {
    cwd: PROJECT_ROOT,
    env: { ...start.env, PATH: process.env.PATH, NODE_ENV: 'development', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', SESSION_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...ids,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), EXIT_TIMEOUT_MS * 2, 'the server exiting');
  return { code, output };
}

/** A folder owned by the user the server runs as. */
async function ownFolder(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-faults-'));
  temporary.push(dir);
  if (process.getuid?.() === 0) await run('chown', ['-R', 'nobody', dir]);
  return dir;
}

/**
 * A migrated copy of the template database in a folder of its own, and a separate writable DATA_DIR
 * (development keeps generated keys there), all owned by the user the server runs as.
 */
async function databaseCopy(): Promise<{ dir: string; file: string; env: Record<string, string> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-faults-'));
  temporary.push(dir);
  const file = path.join(dir, 'app.db');
  fs.copyFileSync(inject('templateDatabase'), file);
  if (process.getuid?.() === 0) await run('chown', ['-R', 'nobody', dir]);
  return { dir, file, env: { DATA_DIR: await ownFolder(), DATABASE_URL: `file:${file}` } };
}

sqliteOnly('a read-only SQLite database', () => {
  it('ends the start with exit 1 and says the file cannot be written', async () => {
    const { file, env } = await databaseCopy();
    fs.chmodSync(file, 0o444);
    const { code, output } = await startAsUser(env);
    expect(code).toBe(1);
    expect(output).toContain(`cannot start: the SQLite database file ${file} cannot be written (it is read-only for this user)`);
    expect(output).not.toMatch(/External error|\n\s+at /);
  });

  it('ends the start with exit 1 and says the folder cannot be written (the write-ahead log lives there)', async () => {
    const { dir, env } = await databaseCopy();
    fs.chmodSync(dir, 0o555);
    const { code, output } = await startAsUser(env);
    fs.chmodSync(dir, 0o755);
    expect(code).toBe(1);
    expect(output).toContain(`cannot start: the folder of the SQLite database, ${dir}, cannot be written`);
    expect(output).not.toMatch(/External error|\n\s+at /);
  });
});

sqliteOnly('a full SQLite database', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it('answers writes SERVICE_UNAVAILABLE and /health 503 while writes fail with "database or disk is full"', async () => {
    app = await startTestApp();
    const prisma = app.services.prisma;
    const client = app.client();
    expect(await (await client.fetch('/health')).json()).toEqual({ status: 'ok' });

    // SQLite's own limit on the file's pages fails writes exactly as a full disk does (SQLITE_FULL).
    const [pages] = await prisma.$queryRawUnsafe<Array<{ page_count: number | bigint }>>('PRAGMA page_count');
    await prisma.$queryRawUnsafe(`PRAGMA max_page_count = ${Number(pages!.page_count)}`);
    let full = false;
    for (let i = 0; i < 5_000 && !full; i += 1) {
      await prisma.user
        .create({ data: { email: `filler${i}@example.com`, passwordHash: 'x', firstName: 'f'.repeat(150), lastName: 'l'.repeat(150) } })
        .catch((error: Error) => {
          expect(error.message).toMatch(/database or disk is full/);
          full = true;
        });
    }
    expect(full).toBe(true);

    const result = await client.request(Register, { input: { email: 'no-room@example.com', password: TEST_PASSWORD } });
    expect(result.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(result.status).toBe(503);
    const health = await client.fetch('/health');
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 503, body: { status: 'unavailable' } });
  });
});
