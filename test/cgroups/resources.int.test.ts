import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Spec } from '../../src/spec/types';
import { Harness, TSRUNC, cgroupDirsOf, gone, isRoot, waitFor } from '../helpers/harness';

/**
 * cgroups on this machine (hybrid, or whatever the host has: the tests
 * look at the directories the container's state records). Limits land in
 * the right files and take effect; update, pause/resume, ps, kill --all and
 * events work on real containers; nothing is left behind.
 */
const h = new Harness('cgroups');

/** The container's cgroup directories, from its state (hierarchy key -> dir). */
function dirsOf(id: string): Record<string, string> {
  return JSON.parse(readFileSync(join(h.root, id, 'state.json'), 'utf8')).cgroup.dirs;
}

/** The directory of a v1 controller (or the v2 directory on a unified host). */
function dirOf(id: string, controller: string): string {
  const dirs = dirsOf(id);
  const key = Object.keys(dirs).find((k) => k.split(',').includes(controller)) ?? '';
  return dirs[key];
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();
const unified = () => JSON.parse(readFileSync('/proc/self/mountinfo', 'utf8').includes(' /sys/fs/cgroup cgroup2 ') ? 'true' : 'false');

function withCaps(s: Spec, ...caps: string[]): void {
  const c = s.process!.capabilities!;
  for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = [...(c[set] ?? []), ...caps];
}

/** Runs `tsrunc events` in the background, collecting its lines until stopped. */
function events(id: string, args: string[] = []): { lines: string[]; stop: () => Promise<void> } {
  const child = spawn(TSRUNC, ['--root', h.root, 'events', ...args, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    lines,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe.skipIf(!isRoot() || unified())('cgroups v1/hybrid (root)', () => {
  it('limits land in the v1 files', async () => {
    const spec = h.spec(['sleep', '100'], (s) => {
      s.linux!.resources = {
        ...s.linux!.resources,
        memory: { limit: 50593792, reservation: 40000000, swap: 50593792, swappiness: 10, kernelTCP: 50593792, disableOOMKiller: false },
        cpu: { shares: 512, quota: 30000, period: 150000, cpus: '0', mems: '0' },
        pids: { limit: 42 },
      };
    });
    const { id } = await h.create(spec);
    const mem = dirOf(id, 'memory');
    expect(read(mem, 'memory.limit_in_bytes')).toBe('50593792');
    expect(read(mem, 'memory.soft_limit_in_bytes')).toBe('39997440'); // rounded down to pages by the kernel
    expect(read(mem, 'memory.memsw.limit_in_bytes')).toBe('50593792');
    expect(read(mem, 'memory.swappiness')).toBe('10');
    expect(read(mem, 'memory.kmem.tcp.limit_in_bytes')).toBe('50593792');
    expect(read(dirOf(id, 'cpu'), 'cpu.shares')).toBe('512');
    expect(read(dirOf(id, 'cpu'), 'cpu.cfs_quota_us')).toBe('30000');
    expect(read(dirOf(id, 'cpu'), 'cpu.cfs_period_us')).toBe('150000');
    expect(read(dirOf(id, 'cpuset'), 'cpuset.cpus')).toBe('0');
    expect(read(dirOf(id, 'pids'), 'pids.max')).toBe('42');
    // The default config denies every device, then runc's defaults are allowed.
    const devices = read(dirOf(id, 'devices'), 'devices.list').split('\n');
    expect(devices).toEqual(['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm']);
  });

  it('kernel memory the kernel ignores is a warning, not an error', async () => {
    const bundle = h.bundle(h.spec(['true'], (s) => {
      s.linux!.resources!.memory = { kernel: 50593792 };
    }));
    const id = h.id();
    const r = await h.tsrunc(['create', '-b', bundle, '--no-shim', id]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/linux\.resources\.memory\.kernel ignored/);
  });

  it('a value the host cannot apply fails create, naming the field, and leaves nothing behind', async () => {
    const cases: [Partial<NonNullable<NonNullable<Spec['linux']>['resources']>>, RegExp][] = [
      [{ hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }] }, /linux\.resources\.hugepageLimits: the hugetlb controller is not mounted/],
      [{ network: { classID: 1048577 } }, /linux\.resources\.network\.classID: the net_cls controller is not mounted/],
      [{ blockIO: { leafWeight: 500 } }, /linux\.resources\.blockIO\.leafWeight: this kernel has no blkio\.leaf_weight/],
      [{ unified: { 'memory.high': '1000000' } }, /linux\.resources\.unified\.memory\.high: the memory controller is not available/],
      [{ cpu: { realtimeRuntime: 1_000_000_000 } }, /linux\.resources\.cpu\.realtimeRuntime: write/],
    ];
    for (const [resources, message] of cases) {
      const bundle = h.bundle(h.spec(['true'], (s) => Object.assign(s.linux!.resources!, resources)));
      const id = h.id();
      const r = await h.tsrunc(['create', '-b', bundle, '--no-shim', id]);
      expect(r.code, JSON.stringify(resources)).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(h.leftovers()).not.toContain(id);
      expect(cgroupDirsOf(id)).toEqual([]);
    }
    // The defaults of the same fields are fine.
    const ok = h.bundle(h.spec(['true'], (s) => Object.assign(s.linux!.resources!, { hugepageLimits: [], network: { classID: 0 }, blockIO: { weight: 0 }, unified: {} })));
    const okId = h.id();
    expect((await h.tsrunc(['create', '-b', ok, '--no-shim', okId])).code).toBe(0);
  });

  it('blockIO: the weight goes to BFQ\'s file (this kernel has no CFQ), throttles to blkio.throttle.*', async () => {
    // A block device this machine has (throttles need a real one).
    const [major, minor] = readFileSync('/proc/partitions', 'utf8').split('\n').slice(2).find(Boolean)!.trim().split(/\s+/).map(Number);
    const { id } = await h.create(h.spec(['sleep', '100'], (s) => {
      s.linux!.resources!.blockIO = { weight: 300, throttleReadBpsDevice: [{ major, minor, rate: 1048576 }], throttleWriteIOPSDevice: [{ major, minor, rate: 100 }] };
    }));
    const blkio = dirOf(id, 'blkio');
    expect(read(blkio, 'blkio.bfq.weight')).toMatch(/^default 300$|^300$/m);
    expect(read(blkio, 'blkio.throttle.read_bps_device')).toBe(`${major}:${minor} 1048576`);
    expect(read(blkio, 'blkio.throttle.write_iops_device')).toBe(`${major}:${minor} 100`);
  });

  it('a process that allocates past the memory limit is OOM-killed, events reports it, delete cleans up', async () => {
    const spec = h.spec(['sh', '-c', 'sleep 1; tail /dev/zero; echo survived > /tmp/after; sleep 100'], (s) => {
      s.linux!.resources!.memory = { limit: 33554432, swap: 33554432 };
    });
    const { id, bundle } = await h.create(spec);
    const ev = events(id, ['--interval', '200ms']);
    try {
      expect((await h.tsrunc(['start', id])).code).toBe(0);
      await waitFor(() => ev.lines.some((l) => JSON.parse(l).type === 'oom'), 20_000);
      const oom = ev.lines.map((l) => JSON.parse(l)).find((e) => e.type === 'oom');
      expect(oom).toEqual({ type: 'oom', id });
      // Stats came too, in runc's shape.
      const stats = ev.lines.map((l) => JSON.parse(l)).find((e) => e.type === 'stats');
      expect(stats).toMatchObject({ type: 'stats', id, data: { memory: { usage: { limit: 33554432 } }, pids: { current: expect.any(Number) } } });
    } finally {
      await ev.stop();
    }
    // tail was killed, the shell went on.
    await waitFor(() => existsSync(join(bundle, 'rootfs', 'tmp', 'after')));
    expect(Number(/oom_kill (\d+)/.exec(read(dirOf(id, 'memory'), 'memory.oom_control'))![1])).toBeGreaterThanOrEqual(1);
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('an init killed by the OOM killer: the container stops and delete removes its cgroup', async () => {
    const { id, pid } = await h.create(h.spec(['tail', '/dev/zero'], (s) => {
      s.linux!.resources!.memory = { limit: 16777216, swap: 16777216 };
    }));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped', 20_000);
    expect(gone(pid)).toBe(true);
    expect((await h.tsrunc(['delete', id])).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('pids.max stops a fork bomb', async () => {
    // The loop runs in a subshell: a failed fork ends a non-interactive shell. The init then becomes a sleep (no fork needed).
    const { id, bundle } = await h.create(h.spec(['sh', '-c', '(for i in $(seq 1 40); do sleep 100 & done) 2>/tmp/errors; echo forked > /tmp/done; exec sleep 100'], (s) => {
      s.linux!.resources!.pids = { limit: 10 };
    }));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    await waitFor(() => existsSync(join(bundle, 'rootfs', 'tmp', 'done')));
    const pids = JSON.parse((await h.tsrunc(['ps', '--format', 'json', id])).stdout) as number[];
    expect(pids.length).toBeLessThanOrEqual(10);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(Number(read(dirOf(id, 'pids'), 'pids.current'))).toBeLessThanOrEqual(10);
    expect(readFileSync(join(bundle, 'rootfs', 'tmp', 'errors'), 'utf8')).toMatch(/can't fork|Resource temporarily unavailable/);
  });

  it('ps and kill --all see the processes the container forked; nothing survives kill --all 9', async () => {
    const { id, pid } = await h.create(h.spec(['sh', '-c', 'sleep 101 & sleep 102 & (sleep 103 &) ; wait']));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    let pids: number[] = [];
    await waitFor(async () => (pids = JSON.parse((await h.tsrunc(['ps', '--format', 'json', id])).stdout)).length === 4);
    expect(pids).toContain(pid);
    const table = await h.tsrunc(['ps', id]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/PID/);
    for (const n of [101, 102, 103]) expect(table.stdout).toMatch(new RegExp(`sleep ${n}`));
    expect(table.stdout.trim().split('\n')).toHaveLength(5);
    // ps options after the id go to ps(1).
    const custom = await h.tsrunc(['ps', id, '-o', 'pid,comm']);
    expect(custom.stdout.split('\n')[0].trim()).toBe('PID COMMAND');
    expect((await h.tsrunc(['kill', '--all', id, '9'])).code).toBe(0);
    await waitFor(() => pids.every(gone));
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    expect(read(dirOf(id, 'freezer'), 'freezer.state')).toBe('THAWED');
  });

  it('update changes the files; a bad update changes nothing', async () => {
    const { id } = await h.create(h.spec(['sleep', '100'], (s) => {
      s.linux!.resources!.memory = { limit: 67108864 };
      s.linux!.resources!.cpu = { quota: 50000, period: 100000 };
    }));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const mem = dirOf(id, 'memory');
    const cpu = dirOf(id, 'cpu');
    let r = await h.tsrunc(['update', '--memory', '128m', '--memory-swap', '256m', '--pids-limit', '77', '--cpu-shares', '300', '--cpu-period', '200000', id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(read(mem, 'memory.limit_in_bytes')).toBe(String(128 << 20));
    expect(read(mem, 'memory.memsw.limit_in_bytes')).toBe(String(256 << 20));
    expect(read(dirOf(id, 'pids'), 'pids.max')).toBe('77');
    expect(read(cpu, 'cpu.shares')).toBe('300');
    // Only the period was given: the quota stays.
    expect(read(cpu, 'cpu.cfs_period_us')).toBe('200000');
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('50000');
    // containerd: LinuxResources JSON on stdin.
    r = await h.tsrunc(['update', '--resources', '-', id], { input: JSON.stringify({ memory: { limit: 100663296, swap: 100663296 }, cpu: { quota: 25000 }, pids: { limit: 20 } }) });
    expect(r.code).toBe(0);
    expect(read(mem, 'memory.limit_in_bytes')).toBe('100663296');
    expect(read(mem, 'memory.memsw.limit_in_bytes')).toBe('100663296');
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('25000');
    expect(read(dirOf(id, 'pids'), 'pids.max')).toBe('20');
    // podman: a file.
    const file = join(h.dir, `res-${id}.json`);
    (await import('node:fs')).writeFileSync(file, JSON.stringify({ cpu: { shares: 1000 } }));
    expect((await h.tsrunc(['update', `--resources=${file}`, id])).code).toBe(0);
    expect(read(cpu, 'cpu.shares')).toBe('1000');
    // Bad updates: refused, the files keep their values.
    for (const bad of [['--memory', '12q'], ['--cpuset-cpus', '99999']]) {
      r = await h.tsrunc(['update', ...bad, id]);
      expect(r.code, bad.join(' ')).toBe(1);
    }
    r = await h.tsrunc(['update', '-r', '-', id], { input: '{"memory":{"limit":"lots"}}' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/memory\/limit/);
    expect(read(mem, 'memory.limit_in_bytes')).toBe('100663296');
    expect(read(dirOf(id, 'cpuset'), 'cpuset.cpus')).not.toBe('99999');
  });

  it('update of a stopped container is an error', async () => {
    const { id } = await h.create(h.spec(['true']));
    await h.tsrunc(['start', id]);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const r = await h.tsrunc(['update', '--memory', '64m', id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not running/);
  });

  it('pause freezes, resume thaws; delete --force of a paused container works', async () => {
    const { id, bundle, pid } = await h.create(h.spec(['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done']));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const count = () => Number(readFileSync(join(bundle, 'rootfs', 'tmp', 'count'), 'utf8') || 0);
    await waitFor(() => existsSync(join(bundle, 'rootfs', 'tmp', 'count')) && count() > 2);
    // pause of a running container only; resume of a paused one only.
    expect((await h.tsrunc(['resume', id])).stderr).toMatch(/not paused/);
    expect((await h.tsrunc(['pause', id])).code).toBe(0);
    expect((await h.state(id)).status).toBe('paused');
    expect(read(dirOf(id, 'freezer'), 'freezer.state')).toBe('FROZEN');
    const frozenAt = count();
    await new Promise((r) => setTimeout(r, 400));
    expect(count()).toBe(frozenAt);
    expect((await h.tsrunc(['pause', id])).stderr).toMatch(/not running: paused/);
    // A paused container is not deleted without --force.
    expect((await h.tsrunc(['delete', id])).code).toBe(1);
    expect((await h.tsrunc(['resume', id])).code).toBe(0);
    expect((await h.state(id)).status).toBe('running');
    await waitFor(() => count() > frozenAt);
    expect((await h.tsrunc(['pause', id])).code).toBe(0);
    const r = await h.tsrunc(['delete', '--force', id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(gone(pid)).toBe(true);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('kill -9 of a paused container: it dies (thawed), and delete cleans up', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '100']));
    await h.tsrunc(['start', id]);
    expect((await h.tsrunc(['pause', id])).code).toBe(0);
    expect((await h.tsrunc(['kill', id, 'KILL'])).code).toBe(0);
    await waitFor(() => gone(pid));
    expect((await h.tsrunc(['delete', id])).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('events --stats prints one stats event and exits; events of a stopped container is an error', async () => {
    const { id } = await h.create(h.spec(['sleep', '100'], (s) => {
      s.linux!.resources!.pids = { limit: 50 };
    }));
    await h.tsrunc(['start', id]);
    const r = await h.tsrunc(['events', '--stats', id]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const e = JSON.parse(lines[0]);
    expect(e).toMatchObject({ type: 'stats', id, data: { pids: { current: 1, limit: 50 }, memory: { usage: { usage: expect.any(Number) } }, cpu: { usage: { total: expect.any(Number) } }, hugetlb: {} } });
    await h.tsrunc(['kill', id, 'KILL']);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const stopped = await h.tsrunc(['events', id]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/is not running/);
  });

  it('events ends by itself when the container stops', async () => {
    const { id } = await h.create(h.spec(['sleep', '100']));
    await h.tsrunc(['start', id]);
    const child = spawn(TSRUNC, ['--root', h.root, 'events', '--interval', '100ms', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => out.includes('"type":"stats"'));
      await h.tsrunc(['kill', id, 'KILL']);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('devices: the defaults are usable, other devices are not, an allow rule opens one', async () => {
    const probe = 'mknod /tmp/zero c 1 5 && head -c 4 /tmp/zero | od -An -tx1; mknod /tmp/loop b 7 0; head -c 1 /tmp/loop 2>&1; echo; head -c 1 /dev/null && echo null-ok';
    const denied = await h.run(h.spec(['sh', '-c', probe], (s) => withCaps(s, 'CAP_MKNOD')));
    expect(denied.stdout).toMatch(/00 00 00 00/);
    expect(denied.stdout).toMatch(/Operation not permitted/);
    expect(denied.stdout).toMatch(/null-ok/);
    const allowed = await h.run(h.spec(['sh', '-c', probe], (s) => {
      withCaps(s, 'CAP_MKNOD');
      s.linux!.resources!.devices!.push({ allow: true, type: 'b', major: 7, minor: 0, access: 'r' });
    }));
    expect(allowed.stdout).not.toMatch(/Operation not permitted/);
  });

  it('cgroups made inside the container are removed with it', async () => {
    const { id } = await h.create(h.spec(['sh', '-c', 'mkdir -p /sys/fs/cgroup/pids/inner/deeper /sys/fs/cgroup/memory/inner && echo $$ > /sys/fs/cgroup/pids/inner/deeper/cgroup.procs && sleep 100'], (s) => {
      const m = s.mounts!.find((x) => x.type === 'cgroup')!;
      m.options = m.options!.filter((o) => o !== 'ro');
    }));
    await h.tsrunc(['start', id]);
    const inner = join(dirOf(id, 'pids'), 'inner', 'deeper');
    await waitFor(() => existsSync(inner) && read(inner, 'cgroup.procs') !== '');
    expect(existsSync(join(dirOf(id, 'memory'), 'inner'))).toBe(true);
    // ps sees the process in the nested cgroup.
    expect(JSON.parse((await h.tsrunc(['ps', '--format', 'json', id])).stdout)).toEqual(read(inner, 'cgroup.procs').split('\n').map(Number));
    const dirs = Object.values(dirsOf(id));
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    for (const d of dirs) expect(existsSync(d), d).toBe(false);
  });
});
