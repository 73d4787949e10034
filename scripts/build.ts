// `npm run build`: src/ → dist/, plain JavaScript for `npm start` (no TypeScript loader in production:
// tsx's loader thread alone costs ~40 MB of memory per process). Packages stay in node_modules.
// The tests' global setup and the bench call `buildDist` before starting the service.
//
// A build is made once per state of the sources: `npm start` (which runs this first) only checks a
// fingerprint when nothing changed, and writes nothing then (so it also works from a read-only
// folder that was built at install). A build goes into a folder of its own under dist-builds/,
// named by the fingerprint, and `dist` is a symbolic link to the current one, replaced with one
// rename: starts running at the same time never see a half-written or missing dist/, and a server
// already running keeps the files it started from.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { PROJECT_ROOT } from './startCommand.ts';

const DIST = path.join(PROJECT_ROOT, 'dist');
const BUILDS = path.join(PROJECT_ROOT, 'dist-builds');
/** Older builds (and abandoned temporary ones) are removed once they are this old: a server that
 * started from one has long since loaded what it needs from it. */
const KEEP_OLD_BUILDS_MS = 10 * 60 * 1000;

/** Everything a build's output depends on: the sources (generated Prisma client included), this script, the settings. */
function fingerprint(): string {
  const hash = createHash('sha256');
  const add = (file: string) => {
    hash.update(`${path.relative(PROJECT_ROOT, file)}\0`);
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  };
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && fs.statSync(file).isDirectory())) walk(file);
      else add(file);
    }
  };
  walk(path.join(PROJECT_ROOT, 'src'));
  for (const file of ['scripts/build.ts', 'package.json', 'tsconfig.json']) add(path.join(PROJECT_ROOT, file));
  hash.update(createRequire(import.meta.url)('esbuild/package.json').version);
  return hash.digest('hex').slice(0, 16);
}

function currentTarget(): string | null {
  try {
    return fs.readlinkSync(DIST);
  } catch {
    return null;
  }
}

/** Builds dist/ unless it is already the build of the current sources. Returns whether it built. */
export async function buildDist(): Promise<boolean> {
  const id = fingerprint();
  const target = path.join('dist-builds', id);
  if (currentTarget() === target && fs.existsSync(path.join(PROJECT_ROOT, target, 'server.js'))) return false;

  const folder = path.join(PROJECT_ROOT, target);
  if (!fs.existsSync(path.join(folder, 'server.js'))) {
    const temporary = `${folder}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await compile(temporary);
    try {
      fs.renameSync(temporary, folder);
    } catch (error) {
      // Another start built the same sources first: use that one.
      fs.rmSync(temporary, { recursive: true, force: true });
      if (!fs.existsSync(path.join(folder, 'server.js'))) throw error;
    }
  }
  pointDistAt(target);
  removeOldBuilds(target);
  return true;
}

async function compile(outdir: string): Promise<void> {
  fs.mkdirSync(outdir, { recursive: true });
  await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: ['src/server.ts'],
    outdir,
    bundle: true,
    // The app is imported lazily by server.ts (a cluster's primary never loads it): keep it a chunk.
    splitting: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  // Loaded by path (by the hash pool, src/passwords/hasher.ts, and by src/passwords/commonPasswords.ts),
  // so they sit next to the code that names them.
  for (const file of ['hashWorker.mjs', 'common-passwords.txt']) {
    fs.copyFileSync(path.join(PROJECT_ROOT, 'src/passwords', file), path.join(outdir, file));
  }
}

/** Replaces the `dist` link in one rename, so that it always names a complete build. */
function pointDistAt(target: string): void {
  const link = `${DIST}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.symlinkSync(target, link);
  try {
    fs.renameSync(link, DIST);
  } catch (error) {
    // A dist/ folder from an older layout of this script: a link cannot replace a folder.
    if (!fs.existsSync(DIST) || fs.lstatSync(DIST).isSymbolicLink()) {
      fs.rmSync(link, { force: true });
      throw error;
    }
    fs.rmSync(DIST, { recursive: true, force: true });
    fs.renameSync(link, DIST);
  }
}

function removeOldBuilds(current: string): void {
  const now = Date.now();
  for (const name of fs.readdirSync(BUILDS)) {
    const folder = path.join(BUILDS, name);
    if (path.join('dist-builds', name) === current || currentTarget() === path.join('dist-builds', name)) continue;
    try {
      if (now - fs.statSync(folder).mtimeMs > KEEP_OLD_BUILDS_MS) fs.rmSync(folder, { recursive: true, force: true });
    } catch {
      // Removed by another start meanwhile.
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildDist();
