// A users connection's totalCount in isolation, on SQLite: Prisma's `count()` (a COUNT over a
// `LIMIT ? OFFSET ?` subquery) against the plain COUNT(*) the service runs (countRows), with and
// without a filter, at each size. Prints a table; see docs/performance.md.
// Usage: npx tsx scripts/bench/count.ts [SIZES, default 10000,100000,1000000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteReads, connectDatabase } from '../../src/db.ts';
import { applyMigrations } from '../../src/migrate.ts';
import { countRows } from '../../src/pages.ts';
import { seedUsers } from './seed.ts';

const sizes = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-count-'));

/** Median ms of `runs` calls, after a few unmeasured ones. */
async function median(run: () => Promise<unknown>, runs: number): Promise<number> {
  for (let i = 0; i < 3; i += 1) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

try {
  console.log('users      filter          Prisma count() ms  plain COUNT(*) ms');
  for (const size of sizes) {
    const file = path.join(tmp, `${size}.db`);
    await applyMigrations(`file:${file}`);
    seedUsers(file, size, '$2b$10$abcdefghijklmnopqrstuuKfm8d0.YPd9Y8t0X3bIsVq1g2a5s3uK');
    const prisma = await connectDatabase(`file:${file}`);
    const reads = openSqliteReads(`file:${file}`);
    for (const [label, where, conditions] of [
      ['none', {}, []],
      ['isStaff: false', { isStaff: false }, [['"isStaff" = ?', false]]],
    ] as const) {
      const runs = size >= 1_000_000 ? 15 : 51;
      const prismaMs = await median(() => prisma.user.count({ where }), runs);
      const plainMs = await median(() => countRows(reads, 'User', [...conditions]), runs);
      console.log(`${String(size).padEnd(10)} ${label.padEnd(15)} ${prismaMs.toFixed(3).padStart(17)}  ${plainMs.toFixed(3).padStart(17)}`);
    }
    await reads.close();
    await prisma.$disconnect();
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
