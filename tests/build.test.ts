import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../scripts/startCommand.ts';
import { ServerProcesses, type RunningServer } from './helpers/server.ts';

// `npm start` from one checkout, several at once (as a process manager starting instances on
// several ports does). It runs in a copy of the checkout with no build yet, so that the starts
// race to build, and a source change can be made without touching this checkout.

const STARTS = 5;
/** Starts follow each other this closely, so that one's build overlaps another's loading of dist/. */
const STAGGER_MS = 300;

function staggered(prefix: string): Promise<RunningServer[]> {
  return Promise.all(
    Array.from({ length: STARTS }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * STAGGER_MS)).then(() => npmStart(`${prefix}${i}`))),
  );
}
const servers = new ServerProcesses();
let checkout: string;

beforeAll(() => {
  checkout = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-checkout-'));
  for (const entry of ['src', 'scripts', 'prisma', 'package.json', 'tsconfig.json', 'prisma.config.ts']) {
    fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(checkout, entry), { recursive: true, dereference: true });
  }
  fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
});

afterAll(async () => {
  await servers.killAll();
  fs.rmSync(checkout, { recursive: true, force: true });
});

function npmStart(name: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = fs.mkdtempSync(path.join(checkout, `data-${name}-`));
  return servers.start(
    { DATA_DIR: dataDir, DATABASE_URL: `file:${path.join(dataDir, 'app.db')}`, LOG_LEVEL: 'info', ...env },
    { cwd: checkout, command: ['npm', 'start'] },
  );
}

/** The environment of the node process `npm start` runs (npm and its shell run it in their process group). */
function serverEnvironment(server: RunningServer): Map<string, string> {
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const processGroup = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (processGroup !== server.child.pid) continue;
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('dist/server.js')) continue;
      return new Map(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((entry) => {
        const at = entry.indexOf('=');
        return [entry.slice(0, at), entry.slice(at + 1)] as [string, string];
      }));
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error(`no dist/server.js process in the process group of npm start (${server.child.pid})`);
}

async function health(server: RunningServer): Promise<unknown> {
  return (await fetch(`${server.url}/health`)).json();
}

function builds(): string[] {
  return fs.readdirSync(path.join(checkout, 'dist-builds')).sort();
}

describe('npm start, several at once from one checkout', () => {
  let first: RunningServer[];

  it(`${STARTS} starts at once (${STAGGER_MS} ms apart) with no build yet all serve, from one build`, { timeout: 180_000 }, async () => {
    expect(fs.existsSync(path.join(checkout, 'dist'))).toBe(false);
    first = await staggered('first');
    for (const server of first) expect(await health(server)).toEqual({ status: 'ok' });

    // One complete build, named by the sources, and dist/ a link to it; no temporary leftovers.
    expect(builds()).toHaveLength(1);
    expect(builds()[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(fs.readlinkSync(path.join(checkout, 'dist'))).toBe(path.join('dist-builds', builds()[0]!));
    expect(fs.readdirSync(checkout).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('a start with unchanged sources builds nothing', { timeout: 120_000 }, async () => {
    const folder = path.join(checkout, 'dist-builds', builds()[0]!);
    const before = fs.statSync(path.join(folder, 'server.js'));
    const again = await npmStart('again');
    expect(await health(again)).toEqual({ status: 'ok' });
    expect(builds()).toEqual([path.basename(folder)]);
    expect(fs.statSync(path.join(folder, 'server.js')).mtimeMs).toBe(before.mtimeMs);
  });

  it('runs node with glibc malloc held to two arenas, or to what the environment sets', { timeout: 120_000 }, async () => {
    const [standard, chosen] = await Promise.all([npmStart('arenas'), npmStart('arenas-chosen', { MALLOC_ARENA_MAX: '4' })]);
    for (const server of [standard, chosen]) expect(await health(server)).toEqual({ status: 'ok' });
    expect(serverEnvironment(standard).get('MALLOC_ARENA_MAX')).toBe('2');
    expect(serverEnvironment(chosen).get('MALLOC_ARENA_MAX')).toBe('4');
  });

  it('after a source change, starts at once rebuild once, while the running servers go on serving', { timeout: 180_000 }, async () => {
    const [old] = builds();
    fs.appendFileSync(path.join(checkout, 'src', 'app.ts'), '\n// A change, as a deploy of new code makes.\n');
    const second = await staggered('second');
    for (const server of [...first, ...second]) expect(await health(server)).toEqual({ status: 'ok' });

    const current = fs.readlinkSync(path.join(checkout, 'dist'));
    expect(current).not.toBe(path.join('dist-builds', old!));
    // The old build stays for the servers started from it (removed once it is old).
    expect(builds()).toEqual([old, path.basename(current)].sort());
  });
});
