// Preloaded into the Prisma CLI by src/migrate.ts. Prisma 6.19's WASM schema engine leaves a
// 10-second timer running after `migrate deploy` has finished on PostgreSQL, which delays every
// start by 10 s. Long timers must not keep this short-lived process alive. No upstream issue is
// known; remove this file (and its preload in src/migrate.ts) when `npm start` against PostgreSQL
// no longer waits ~10 s after applying migrations without it (docs/prisma-offline.md).
const setTimeoutOriginal = global.setTimeout;
global.setTimeout = function setTimeoutUnrefLong(callback, ms, ...args) {
  const timer = setTimeoutOriginal(callback, ms, ...args);
  if (ms >= 5000) timer?.unref?.();
  return timer;
};
