import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Node's arguments for the built service exactly as `npm start` passes them (its flags, then
 * dist/server.js), so that tests and the benchmark run what production runs.
 */
export function startArguments(): string[] {
  const start: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start;
  const [node, ...argv] = start.split('&&').at(-1)!.trim().split(/\s+/);
  if (node !== 'node' || argv.at(-1) !== 'dist/server.js') throw new Error(`package.json: unexpected start script: ${start}`);
  return argv;
}
