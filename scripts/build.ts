// `npm run build`: src/ → dist/, plain JavaScript for `npm start` (no TypeScript loader in production:
// tsx's loader thread alone costs ~40 MB of memory per process). Packages stay in node_modules.
// The tests' global setup and the bench call `buildDist` before starting the service.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { PROJECT_ROOT } from './startCommand.ts';

export async function buildDist(): Promise<void> {
  const outdir = path.join(PROJECT_ROOT, 'dist');
  fs.rmSync(outdir, { recursive: true, force: true });
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
  // Loaded by path by the hash pool (src/passwords/hasher.ts), so it sits next to the code that names it.
  fs.copyFileSync(path.join(PROJECT_ROOT, 'src/passwords/hashWorker.mjs'), path.join(outdir, 'hashWorker.mjs'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildDist();
