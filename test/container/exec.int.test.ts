import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, gone, isRoot, waitFor } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';

const h = new Harness('exec');

/** A running container (sleep), for exec. */
async function running(edit?: (s: Spec) => void): Promise<{ id: string; pid: number; bundle: string }> {
  const c = await h.create(h.spec(['sleep', '300'], edit));
  expect((await h.tsrunc(['start', c.id])).code).toBe(0);
  await waitFor(async () => (await h.state(c.id)).status === 'running');
  return c;
}

describe.skipIf(!isRoot())('exec (root)', () => {
  it('returns the exit code, 128+signal when killed, and never changes the container\'s state', async () => {
    const { id } = await running();
    const ok = await h.tsrunc(['exec', id, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([3, 'out\n', 'err\n']);
    const killed = await h.tsrunc(['exec', id, 'sh', '-c', 'kill -9 $$']);
    expect(killed.code).toBe(137);
    expect((await h.state(id)).status).toBe('running');
    expect((await h.state(id)).exitCode).toBeUndefined();
  });

  it('joins every namespace of the container and its cgroup', async () => {
    const { id, pid } = await running();
    const r = await h.tsrunc(['exec', id, 'sh', '-c', 'for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup | grep memory']);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual(['pid', 'net', 'ipc', 'uts', 'mnt', 'cgroup'].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`)));
    // In its own cgroup namespace, the container's cgroup is "/".
    expect(lines[6]).toMatch(/:memory:\/$/);
    const host = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.includes(':memory:'));
    expect(host).toMatch(new RegExp(`/${id}$`));
  });

  it('joins a user namespace first', async () => {
    const { id, pid } = await running((s) => {
      s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== 'cgroup'), { type: 'user' }];
      s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    });
    const r = await h.tsrunc(['exec', '-u', '1000:1000', id, 'sh', '-c', 'readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u']);
    expect(r.code).toBe(0);
    const [ns, map, uid] = r.stdout.trim().split('\n');
    expect(ns).toBe(readlinkSync(`/proc/${pid}/ns/user`));
    expect(map.trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
    expect(uid).toBe('1000');
  });

  it('env, cwd, user, additional gids from the flags, on top of the container\'s process', async () => {
    const { id } = await running((s) => { s.process!.env!.push('FROM_CONFIG=1', 'OVERRIDE=old'); });
    const r = await h.tsrunc(['exec', '-e', 'OVERRIDE=new', '--env', 'EXTRA=x', '--cwd', '/tmp', '-u', '1000:2000', '-g', '5', '-g', '6', id,
      'sh', '-c', 'echo $FROM_CONFIG $OVERRIDE $EXTRA; pwd; id -u; id -g; id -G']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['1 new x', '/tmp', '1000', '2000', '2000 5 6']);
  });

  it('--cap adds a capability; --no-new-privs sets no_new_privs', async () => {
    const { id } = await running((s) => { s.process!.noNewPrivileges = false; });
    const before = await h.tsrunc(['exec', id, 'grep', '-E', '^(CapBnd|NoNewPrivs)', '/proc/self/status']);
    const after = await h.tsrunc(['exec', '--cap', 'CAP_SYS_ADMIN', '--no-new-privs', id, 'grep', '-E', '^(CapBnd|NoNewPrivs)', '/proc/self/status']);
    const bnd = (out: string) => BigInt(`0x${/CapBnd:\s*(\w+)/.exec(out)![1]}`);
    expect(bnd(before.stdout) & (1n << 21n)).toBe(0n);
    expect(bnd(after.stdout) & (1n << 21n)).toBe(1n << 21n);
    expect(before.stdout).toMatch(/NoNewPrivs:\s*0/);
    expect(after.stdout).toMatch(/NoNewPrivs:\s*1/);
  });

  it('--process takes a process.json, validated like config.json', async () => {
    const { id } = await running();
    const file = join(h.dir, `process-${id}.json`);
    // No PATH in its env: as with runc, the program is then named by its path.
    writeFileSync(file, JSON.stringify({ args: ['/bin/sh', '-c', 'echo $A; id -u'], env: ['A=from-json'], cwd: '/', user: { uid: 33, gid: 33 } }));
    const r = await h.tsrunc(['exec', '--process', file, id]);
    expect([r.code, r.stdout]).toEqual([0, 'from-json\n33\n']);
    writeFileSync(file, JSON.stringify({ args: ['true'], cwd: 'relative', user: { uid: -1, gid: 0 } }));
    const bad = await h.tsrunc(['exec', '--process', file, id]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/process\.json: \/user\/uid: must be >= 0/);
    const both = await h.tsrunc(['exec', '--process', file, id, 'true']);
    expect(both.stderr).toMatch(/either --process or a command line/);
  });

  it('--preserve-fds passes the caller\'s fds 3.. to the process', async () => {
    const { id } = await running();
    const file = join(h.dir, `fd-${id}`);
    writeFileSync(file, 'through fd 3\n');
    const fd = openSync(file, 'r');
    try {
      const r = await h.tsrunc(['exec', '--preserve-fds', '1', id, 'sh', '-c', 'cat <&3; ls /proc/self/fd | sort | tr "\\n" " "'], { extraFds: [fd] });
      expect(r.stdout).toBe('through fd 3\n0 1 2 3 4 ');
    } finally {
      closeSync(fd);
    }
  });

  it('detached: writes the pid file, returns at once, the process is not tsrunc\'s', async () => {
    const { id } = await running();
    const pidFile = join(h.dir, `exec-${id}.pid`);
    const started = Date.now();
    const r = await h.tsrunc(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    expect(stat).toMatch(/\(sleep\)/);
    // Re-parented away from tsrunc: to the test runner's subreaper or PID 1, never a tsrunc process.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    expect(readFileSync(`/proc/${ppid}/comm`, 'utf8').trim()).not.toMatch(/tsrunc/);
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    await waitFor(() => gone(pid));
  });

  it('exec into a container that is not running (nor created) is an error', async () => {
    const { id } = await h.create(h.spec(['true']));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const stopped = await h.tsrunc(['exec', id, 'true']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/cannot exec in a container that is stopped/);
    const missing = await h.tsrunc(['exec', 'nope', 'true']);
    expect(missing.stderr).toMatch(/does not exist/);
    const noCommand = await h.tsrunc(['exec', id]);
    expect(noCommand.stderr).toMatch(/no command to run/);
  });

  it('a missing program or a cwd outside the container fails cleanly', async () => {
    const { id } = await running();
    const r = await h.tsrunc(['exec', id, 'no-such-program']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exec: "no-such-program": executable file not found in \$PATH/);
    const cwd = await h.tsrunc(['exec', '--cwd', '/no/such/dir', id, 'true']);
    expect(cwd.code).toBe(1);
    expect(cwd.stderr).toMatch(/chdir to cwd: .*ENOENT/);
    expect((await h.state(id)).status).toBe('running');
  });
});
