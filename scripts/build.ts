// `npm run build`: src/ → dist/, plain JavaScript for `npm start` (no TypeScript loader in production:
// tsx's loader thread alone costs ~40 MB of memory per process). Packages stay in node_modules.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

fs.rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
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
fs.copyFileSync(path.join(root, 'src/passwords/hashWorker.mjs'), path.join(outdir, 'hashWorker.mjs'));
