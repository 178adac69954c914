import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args';
import { FLAGS } from '../../src/cli/flags';

const repo = join(__dirname, '..', '..');

describe('typed options from the flag tables', () => {
  it('type-check: each handler option has its flag\'s type (test/cli/types/flags.ts compiles, its @ts-expect-error lines fail)', () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = (() => {
      try {
        return execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'commonjs', '--types', 'node',
          '--skipLibCheck', join(repo, 'test', 'cli', 'types', 'flags.ts')], { encoding: 'utf8' });
      } catch (err) {
        return (err as { stdout: string }).stdout;
      }
    })();
    expect(out).toBe('');
  });

  it('parseArgs gives what the types say: defaults, empty lists, undefined for the rest', () => {
    expect(parseArgs(['-b', '/b'], FLAGS.create).flags).toEqual({ bundle: '/b', 'preserve-fds': 0 });
    expect(parseArgs(['-e', 'A=1', 'ctr', 'sh'], FLAGS.exec, true).flags).toEqual({ env: ['A=1'], 'additional-gids': [], cap: [], 'preserve-fds': 0 });
    expect(parseArgs([], FLAGS.events).flags).toEqual({ interval: '5s' });
  });
});
