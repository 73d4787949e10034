import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node resolves `graphql` to its CommonJS entry for Pothos and Yoga; Vite would pick the ESM
  // one for our files, and graphql refuses to mix types from two copies.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/globalSetup.ts'],
    // Test files share one module graph: importing the service (Prisma's client, the schema) again
    // for each file took a quarter of the suite's time. Every file still starts its own apps and
    // databases, and passes alone.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
