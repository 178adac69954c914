import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, exec, TSRUNC, isRoot } from '../helpers/harness';

const h = new Harness('cli');

describe('the tsrunc command line', () => {
  it('--version prints the version and the spec version, like runc', async () => {
    const r = await exec(TSRUNC, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tsrunc version \d+\.\d+\.\d+\nspec: 1\.3\.0\n/);
  });

  it('--help works globally and per command; unknown commands and flags are errors', async () => {
    expect((await exec(TSRUNC, ['--help'])).stdout).toMatch(/usage: tsrunc \[global options\] <command>/);
    expect((await exec(TSRUNC, ['create', '--help'])).stdout).toMatch(/--console-socket PATH/);
    const unknown = await exec(TSRUNC, ['frobnicate']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('tsrunc: unknown command "frobnicate"; see tsrunc --help\n');
    const flag = await exec(TSRUNC, ['state', '--nope', 'x']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toMatch(/flag provided but not defined: -nope/);
    const args = await exec(TSRUNC, ['start']);
    expect(args.code).toBe(1);
    expect(args.stderr).toMatch(/"start" requires exactly 1 argument/);
  });

  it('spec writes a valid default config.json and refuses to overwrite one', async () => {
    const dir = join(h.dir, 'spec');
    require('node:fs').mkdirSync(dir, { recursive: true });
    expect((await exec(TSRUNC, ['spec', '--bundle', dir])).code).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec.ociVersion).toBe('1.3.0');
    expect(spec.process.args).toEqual(['sh']);
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).toContain('mount');
    const again = await exec(TSRUNC, ['spec', '-b', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; remove it first/);
  });

  it('--log-format json writes one object per line with level, msg and time; the failure is the last line', async () => {
    const log = join(h.dir, 'log.json');
    const r = await h.tsrunc(['--log', log, '--log-format', 'json', 'state', 'no-such-container']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tsrunc: container "no-such-container" does not exist\n');
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    expect(last).toMatchObject({ level: 'error', msg: 'container "no-such-container" does not exist' });
    expect(new Date(last.time).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const bad = await exec(TSRUNC, ['--log-format', 'yaml', 'list']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid --log-format "yaml"/);
  });

  it('--log text format and --debug', async () => {
    const log = join(h.dir, 'log.txt');
    await h.tsrunc(['--log', log, '--debug', 'list']);
    expect(readFileSync(log, 'utf8')).toMatch(/^time="[^"]+" level=debug msg="tsrunc --root .* --debug list"$/m);
  });

  it('list prints a table, json, or ids only; an empty root lists nothing', async () => {
    const empty = await h.tsrunc(['list', '--format', 'json']);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);
    expect((await h.tsrunc(['list', '-q'])).stdout).toBe('');
    expect((await h.tsrunc(['list', '--format', 'xml'])).code).toBe(1);
  });

  it('invalid container ids are refused', async () => {
    for (const id of ['../escape', 'a/b', '.', '..', 'with space']) {
      const r = await h.tsrunc(['state', id]);
      expect(r.code, id).toBe(1);
      expect(r.stderr, id).toMatch(/invalid container id/);
    }
  });
});

describe.skipIf(!isRoot())('the tsrunc command line (root)', () => {
  // Where systemd runs, the driver itself is tested (test/cgroups/systemd-vm.int.test.ts).
  it.skipIf(existsSync('/run/systemd/system'))('--systemd-cgroup is one clear line where systemd is not running, and leaves nothing', async () => {
    const bundle = h.bundle(h.spec(['true']));
    const id = h.id();
    const r = await h.tsrunc(['--systemd-cgroup', 'create', '-b', bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsrunc: systemd is not running: cannot use --systemd-cgroup\b[^\n]*\n$/);
    expect(h.leftovers()).not.toContain(id);
  });

  it('list shows containers with their status', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    const table = (await h.tsrunc(['list'])).stdout.split('\n');
    expect(table[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    expect(table.find((l) => l.startsWith(id))).toMatch(new RegExp(`^${id}\\s+${pid}\\s+created\\s`));
    expect((await h.tsrunc(['list', '-q'])).stdout.split('\n')).toContain(id);
  });

  it('relative --bundle and --pid-file are resolved against the caller\'s directory', async () => {
    const bundle = h.bundle(h.spec(['sleep', '30']));
    const id = h.id();
    const r = await h.tsrunc(['create', '--no-shim', '-b', '.', '--pid-file', 'ctr.pid', id], { cwd: bundle });
    expect(r.code).toBe(0);
    expect((await h.state(id)).bundle).toBe(bundle);
    expect(Number(readFileSync(join(bundle, 'ctr.pid'), 'utf8'))).toBe((await h.state(id)).pid);
    // Not against the directory of whoever ran the test, nor the warm server's.
    expect(existsSync(join(process.cwd(), 'ctr.pid'))).toBe(false);
    expect(existsSync('/ctr.pid')).toBe(false);
  });
});
