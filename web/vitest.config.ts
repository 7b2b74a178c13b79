// The upload client's unit tests (test/), in Node against a real HTTP
// server (test/filegraph.ts); `make test` runs them. The browser tests are
// web/e2e, driven by internal/server's Go tests.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Bounds every test: a client that stops sending fails instead of hanging.
    testTimeout: 20_000,
    hookTimeout: 10_000,
  },
});
