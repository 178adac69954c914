import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The start-up budget: what each command evaluates. tsrunc is bundled from
 * dist/ with the same literal requires Node follows, so the modules Node has
 * loaded when a command ends are the modules the compiled binary evaluates.
 */
const repo = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'tsrunc-startup-'));
const preload = join(work, 'report-modules.js');
writeFileSync(preload, `process.on('exit', () => {
  require('fs').writeFileSync(process.env.MODULES_OUT, Object.keys(require.cache).join('\\n'));
});`);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function modulesLoadedBy(args: string[]): string[] {
  const out = join(work, `modules-${args[0]}`);
  try {
    execFileSync(process.execPath, ['-r', preload, join(repo, 'dist', 'cli', 'tsrunc.js'), '--root', join(work, 'root'), ...args], {
      env: { ...process.env, MODULES_OUT: out }, stdio: 'ignore',
    });
  } catch {
    // No such container: the command fails after its handler and everything it imports are loaded.
  }
  return execFileSync('cat', [out], { encoding: 'utf8' }).split('\n').map((p) => relative(repo, p));
}

// The heavy parts: ajv's generated validators, libseccomp's binding, the eBPF assembler, the bpf(2) loader and koffi.
const heavy = ['dist/spec/validators.js', 'dist/seccomp/filter.js', 'dist/cgroups/devices.js', 'dist/sys/bpf.js'];

describe('what each command loads', () => {
  for (const command of [['state', 'nope'], ['start', 'nope'], ['kill', 'nope', 'KILL'], ['delete', 'nope'], ['list'], ['--version']]) {
    it(`${command[0]} loads none of the validators, libseccomp, the eBPF code or koffi`, () => {
      const loaded = modulesLoadedBy(command);
      expect(loaded).toContain('dist/cli/main.js');
      expect(loaded.filter((m) => heavy.includes(m) || m.includes('node_modules/koffi'))).toEqual([]);
    });
  }

  it('create loads the validators (the check above can see them)', () => {
    const bundle = join(work, 'bundle');
    execFileSync('mkdir', ['-p', bundle]);
    writeFileSync(join(bundle, 'config.json'), '{"ociVersion": 1}');
    expect(modulesLoadedBy(['create', '-b', bundle, 'x'])).toContain('dist/spec/validators.js');
  });
});
