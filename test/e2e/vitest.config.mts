import { defineConfig } from 'vitest/config';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// The end-to-end suite: real containerd, dockerd and podman started by the
// tests, with E2E_RUNTIME (default: this build's tsrunc) as their runtime.
// One engine file at a time: they share the host's /run/containerd/s and the
// runtime's default root, and the machine has two cores.
export default defineConfig({
  root: join(here, '..', '..'),
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
