import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const unrefLongTimers = path.join(projectRoot, 'prisma', 'unrefLongTimers.cjs');

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies pending migrations with Prisma's own `migrate deploy`, as a deploy step would. */
export function applyMigrations(databaseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--require', unrefLongTimers, prismaCli, 'migrate', 'deploy'],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (!error) return resolve();
        const output = `${stdout}\n${stderr}`;
        const reason =
          output
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => /error|P\d{4}|unable|denied|cannot/i.test(line))
            .slice(0, 3)
            .join(' ') || error.message;
        reject(new MigrationError(`Could not apply database migrations: ${reason}`));
      },
    );
  });
}
