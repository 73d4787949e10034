// The login ceiling: the service's password hashing pool alone (PasswordHasher, the same cost and
// threads), kept full of bcrypt checks for a while. Run by run.ts as its own process; prints JSON.
// Usage: hashPool.ts COST THREADS SECONDS [IMPLEMENTATION: auto (default), native, bcryptjs]
import type { BcryptPreference } from '../../src/config.ts';
import { cpuMs, peakRssMb } from './proc.ts';
import { PasswordHasher } from '../../src/passwords/hasher.ts';

const [cost, threads, seconds] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const preference = (process.argv[5] ?? 'auto') as BcryptPreference;
const hasher = new PasswordHasher({ cost, threads, implementation: preference });
await hasher.warmUp();
const hash = await hasher.hash('Bench-Horse-Battery-42');

const cpuBefore = cpuMs(process.pid);
const started = performance.now();
const deadline = started + seconds * 1000;
let done = 0;
// Twice as many checks in flight as threads, so no thread ever waits for work.
await Promise.all(
  Array.from({ length: threads * 2 }, async () => {
    while (performance.now() < deadline) {
      await hasher.verify('Bench-Horse-Battery-42', hash);
      done += 1;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpu = cpuMs(process.pid) - cpuBefore;
await hasher.close();
console.log(
  JSON.stringify({ implementation: hasher.implementation, hashesPerSecond: done / elapsed, checks: done, seconds: elapsed, msPerHash: (elapsed * 1000 * threads) / done, cpuMsPerHash: cpu / done, peakRssMb: peakRssMb(process.pid) }),
);
