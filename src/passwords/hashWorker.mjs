// Runs in piscina worker threads: bcrypt is pure CPU, and on the main thread it would stall every
// other request for the length of a hash.
import os from 'node:os';
import bcrypt from 'bcryptjs';

// Below the event loop's priority (nice 5; Linux sets it per thread): when logins and reads compete
// for the cores, the reads keep their latency and hashing takes most of the rest. Measured with both
// saturating a 2-core machine: `me` p99 33 -> 26 ms (48 -> 24 ms with WEB_CONCURRENCY=2), logins
// 7.0 -> 5.6/s (5.0 -> 1.9/s); nice 10 starved logins further (0.7/s) for little gain.
try {
  os.setPriority(5);
} catch {
  // Not permitted here: hashing still works, at normal priority.
}

export function hash({ password, cost }) {
  return bcrypt.hashSync(password, cost);
}

export function verify({ password, hash }) {
  return bcrypt.compareSync(password, hash);
}
