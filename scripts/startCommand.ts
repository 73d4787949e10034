import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `NAME=value`, or `NAME=${NAME:-value}` (the environment's value when set, else `value`). */
const ASSIGNMENT = /^([A-Z_][A-Z0-9_]*)=(?:\$\{([A-Z_][A-Z0-9_]*):-([^}\s]*)\}|([^$\s]*))$/;

/**
 * How `npm start` runs the built service: the variables it sets (resolved against `environment`),
 * then Node's arguments (its flags, then dist/server.js). Tests and the benchmark start exactly
 * this, so they run what production runs.
 */
export function startCommand(environment: NodeJS.ProcessEnv = process.env): { env: Record<string, string>; argv: string[] } {
  const start: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start;
  const words = start.split('&&').at(-1)!.trim().split(/\s+/);
  const env: Record<string, string> = {};
  for (let match = ASSIGNMENT.exec(words[0]!); match; match = ASSIGNMENT.exec(words[0]!)) {
    const [, name, fallbackOf, fallback, value] = match;
    if (fallbackOf !== undefined && fallbackOf !== name) break;
    env[name!] = fallbackOf === undefined ? value! : (environment[name!] ?? fallback!);
    words.shift();
  }
  const [node, ...argv] = words;
  if (node !== 'node' || argv.at(-1) !== 'dist/server.js') throw new Error(`package.json: unexpected start script: ${start}`);
  return { env, argv };
}
