/**
 * Rootless: an unprivileged user (made by the test setup, with subuid and
 * subgid ranges) runs the whole lifecycle, with tsrunc and, as the
 * reference, with runc 1.1.5: the same checks pass with both. Then rootless
 * podman with each runtime as --runtime. Every runtime call runs as the user
 * (setpriv: its ids and groups, no capabilities, a clean environment), on
 * bundles and a rootfs the user owns, with state in an XDG_RUNTIME_DIR of
 * its own. The test runner itself is root: it prepares and inspects.
 */
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { TSRUNC, type Result } from '../helpers/harness';
import { asUser, delegateCgroups, ensureTestUser, type TestUser } from './user';

const isRoot = inject('isRoot');
const RUNC = '/usr/sbin/runc';
const RUNTIMES: [string, string][] = [['tsrunc', TSRUNC], ['runc', RUNC]];

const show = (r: Result) => `exit ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** chown -R to the user (the rootfs, bundles, scratch dirs: the user must own what it runs). */
function chownTree(path: string, u: TestUser): void {
  execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, path]);
}

/** Host mounts whose mount point lies under dir. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p && (p === dir || p.startsWith(`${dir}/`)));
}

/** Processes whose command line mentions s. */
function processesMentioning(s: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(s)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Processes whose environment has this exact entry. */
function processesWithEnv(entry: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(entry)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Directories named id in any cgroup hierarchy (directly under the root or the caller's cgroup). */
function cgroupDirsNamed(id: string): string[] {
  const found: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[1] === h || (h === 'unified' && f[1] === ''))?.[2] ?? '/';
    for (const base of ['/', own]) {
      const p = join('/sys/fs/cgroup', h, base, id);
      if (existsSync(p)) found.push(p);
    }
  }
  return found;
}

(isRoot ? describe : describe.skip).each(RUNTIMES)('%s run by an unprivileged user', (name, bin) => {
  let u: TestUser;
  let dir: string;
  let rootfs: string;
  let xdg: string;
  let n = 0;
  const ids: string[] = [];
  const newId = () => {
    const id = `rl-${name}-${process.pid}-${++n}`;
    ids.push(id);
    return id;
  };
  const env = () => ({ XDG_RUNTIME_DIR: xdg });
  /** The runtime as the user, with its default --root ($XDG_RUNTIME_DIR/<name>). */
  const rt = (args: string[], o: { env?: Record<string, string | undefined>; cwd?: string } = {}) => asUser(u, bin, args, { ...env(), ...o.env }, { cwd: o.cwd, stdin: 'null' });
  const stateRoot = () => join(xdg, name);

  /** A bundle from the runtime's own `spec --rootless` (run as the user), on the shared rootfs, then edited. */
  async function bundle(id: string, edit: (c: any) => void = () => {}): Promise<string> {
    const b = join(dir, 'bundles', id);
    mkdirSync(b, { recursive: true });
    chownTree(b, u);
    const r = await rt(['spec', '--rootless'], { cwd: b });
    expect(r.code, show(r)).toBe(0);
    const c = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    c.root.path = rootfs;
    c.process.terminal = false;
    c.process.args = ['sleep', '1000'];
    edit(c);
    writeFileSync(join(b, 'config.json'), JSON.stringify(c));
    chownTree(b, u);
    return b;
  }

  async function status(id: string): Promise<string> {
    const r = await rt(['state', id]);
    return r.code === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'absent';
  }

  /** Nothing of the container is left: state, processes, mounts, cgroups. */
  async function expectNothingLeft(id: string): Promise<void> {
    expect(existsSync(join(stateRoot(), id))).toBe(false);
    expect((await rt(['list', '-q'])).stdout.split('\n')).not.toContain(id);
    expect(mountsUnder(dir)).toEqual([]);
    expect(cgroupDirsNamed(id)).toEqual([]);
    await waitFor('no process of the bundle', () => processesMentioning(join(dir, 'bundles', id)).length === 0, 5_000);
  }

  beforeAll(() => {
    u = ensureTestUser();
    dir = join(inject('work'), `rootless-${name}-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    rootfs = join(dir, 'rootfs');
    cpSync(join(inject('work'), 'rootfs'), rootfs, { recursive: true, verbatimSymlinks: true });
    xdg = join(dir, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    chownTree(dir, u);
  });

  afterEach(async () => {
    for (const id of ids.splice(0)) await rt(['delete', '--force', id]);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("spec --rootless maps root to the caller's own ids, in a user namespace, without a network namespace", async () => {
    const b = await bundle(newId());
    const c = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    expect(c.linux.uidMappings).toEqual([{ containerID: 0, hostID: u.uid, size: 1 }]);
    expect(c.linux.gidMappings).toEqual([{ containerID: 0, hostID: u.gid, size: 1 }]);
    const types = c.linux.namespaces.map((x: { type: string }) => x.type);
    expect(types).toContain('user');
    expect(types).not.toContain('network');
    expect(c.linux.resources).toBeUndefined();
  });

  it('the whole lifecycle: create, state, start, exec, list, kill, delete; state in $XDG_RUNTIME_DIR/' + name, async () => {
    const id = newId();
    const b = await bundle(id);
    const pidFile = join(dir, `${id}.pid`);
    let r = await rt(['create', '--bundle', b, '--pid-file', pidFile, id]);
    expect(r.code, show(r)).toBe(0);
    expect(existsSync(join(stateRoot(), id))).toBe(true);
    // runc's rule for the XDG state root: 0700 and sticky, the user's.
    const st = statSync(stateRoot());
    expect([st.uid, st.mode & 0o7777]).toEqual([u.uid, 0o1700]);
    const state = JSON.parse((await rt(['state', id])).stdout);
    expect(state.status).toBe('created');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(state.pid));
    // On the host, the container's process is the user, nothing more.
    const uids = readFileSync(`/proc/${state.pid}/status`, 'utf8').match(/^Uid:\s+(.*)$/m)![1].split(/\s+/).map(Number);
    expect(uids).toEqual([u.uid, u.uid, u.uid, u.uid]);
    expect(statSync(pidFile).uid).toBe(u.uid);

    r = await rt(['start', id]);
    expect(r.code, show(r)).toBe(0);
    expect(await status(id)).toBe('running');

    r = await rt(['exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map; exit 5']);
    expect(r.code, show(r)).toBe(5);
    const [inside, map] = r.stdout.split('\n');
    expect(inside).toBe('0');
    expect(map.trim().split(/\s+/).map(Number)).toEqual([0, u.uid, 1]);

    r = await rt(['list']);
    expect(r.code, show(r)).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith(`${id} `))!;
    expect(row).toMatch(/running/);
    expect(row.trim().split(/\s+/).pop()).toBe(u.name);

    // sleep is the pid namespace's init: only SIGKILL ends it.
    r = await rt(['kill', id, 'KILL']);
    expect(r.code, show(r)).toBe(0);
    await waitFor('stopped', async () => (await status(id)) === 'stopped');
    r = await rt(['delete', id]);
    expect(r.code, show(r)).toBe(0);
    await expectNothingLeft(id);
  });

  it('a foreground run keeps the exit code and deletes the container', async () => {
    const id = newId();
    const b = await bundle(id, (c) => (c.process.args = ['sh', '-c', 'echo out; id -g; exit 7']));
    const r = await rt(['run', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(7);
    expect(r.stdout).toBe('out\n0\n');
    await expectNothingLeft(id);
  });

  it('with no cgroup it could write: ps and pause fail clearly; limits asked for are an error, nothing left behind', async () => {
    const id = newId();
    const b = await bundle(id);
    let r = await rt(['run', '-d', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(0);
    for (const cmd of [['ps', id], ['pause', id]]) {
      r = await rt(cmd);
      expect(r.code, `${cmd[0]}: ${show(r)}`).toBe(1);
      expect(r.stderr).toMatch(/cgroup/);
    }
    expect(await status(id)).toBe('running');

    const limited = newId();
    const lb = await bundle(limited, (c) => (c.linux.resources = { pids: { limit: 50 } }));
    r = await rt(['create', '--bundle', lb, limited]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/pids/);
    await expectNothingLeft(limited);
  });

  it('with a delegated cgroup subtree: limits applied, ps, pause and resume work, the cgroup goes with delete', async () => {
    const delegated = delegateCgroups(u, `tsrunc-rl-${name}-${process.pid}`);
    try {
      const inCg = (args: string[]) => asUser(u, bin, args, env(), { stdin: 'null', cgroups: delegated.dirs });
      const id = newId();
      const b = await bundle(id, (c) => (c.linux.resources = { pids: { limit: 10 } }));
      let r = await inCg(['run', '-d', '--bundle', b, id]);
      expect(r.code, show(r)).toBe(0);
      const pidsDir = delegated.dirs.find((d) => d.startsWith('/sys/fs/cgroup/pids/'))!;
      expect(readFileSync(join(pidsDir, id, 'pids.max'), 'utf8').trim()).toBe('10');
      const pid = JSON.parse((await inCg(['state', id])).stdout).pid;
      r = await inCg(['ps', '--format', 'json', id]);
      expect(r.code, show(r)).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([pid]);
      r = await inCg(['pause', id]);
      expect(r.code, show(r)).toBe(0);
      expect(await status(id)).toBe('paused');
      r = await inCg(['resume', id]);
      expect(r.code, show(r)).toBe(0);
      expect(await status(id)).toBe('running');
      r = await inCg(['exec', id, 'sh', '-c', 'for i in $(seq 20); do sleep 5 >/dev/null 2>&1 & done 2>&1 | grep -c -i "resource\\|fork"']);
      expect(Number(r.stdout.trim()), show(r)).toBeGreaterThan(0);
      r = await inCg(['delete', '--force', id]);
      expect(r.code, show(r)).toBe(0);
      expect(delegated.dirs.filter((d) => existsSync(join(d, id)))).toEqual([]);
      await expectNothingLeft(id);
    } finally {
      delegated.remove();
    }
  });

  it('refuses a config without a user namespace, and the state root /run/' + name + ' without XDG_RUNTIME_DIR', async () => {
    const id = newId();
    const b = await bundle(id, (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== 'user');
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
    });
    let r = await rt(['create', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(1);
    await expectNothingLeft(id);

    const id2 = newId();
    const b2 = await bundle(id2);
    r = await rt(['create', '--bundle', b2, id2], { env: { XDG_RUNTIME_DIR: undefined } });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`/run/${name}`);
    expect(existsSync(`/run/${name}/${id2}`)).toBe(false);
  });

  it('subordinate id ranges through newuidmap/newgidmap; ranges that are not the user\'s are refused', async () => {
    const id = newId();
    const shared = join(dir, `shared-${id}`);
    mkdirSync(shared);
    chownTree(shared, u);
    const b = await bundle(id, (c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: u.uid, size: 1 }, { containerID: 1, hostID: u.subuid.start, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: u.gid, size: 1 }, { containerID: 1, hostID: u.subgid.start, size: 65536 }];
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.args = ['sh', '-c', 'id; touch /shared/f; exit 3'];
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    });
    // The shared directory must be writable by the container's uid 1000 (host subuid+999).
    chmodSync(shared, 0o777);
    let r = await rt(['run', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(3);
    expect(r.stdout).toMatch(/^uid=1000 gid=1000/);
    const st = statSync(join(shared, 'f'));
    expect([st.uid, st.gid]).toEqual([u.subuid.start + 999, u.subgid.start + 999]);
    await expectNothingLeft(id);

    // uid 0 of the host is not the user's to map: newuidmap refuses, the container is not made.
    const bad = newId();
    const bb = await bundle(bad, (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: u.uid, size: 1 }, { containerID: 1, hostID: 0, size: 1 }]));
    r = await rt(['create', '--bundle', bb, bad]);
    expect(r.code, show(r)).toBe(1);
    await expectNothingLeft(bad);
  });

  it('additional groups with only the own gid mapped (setgroups denied) are an error', async () => {
    const id = newId();
    const b = await bundle(id, (c) => (c.process.user = { uid: 0, gid: 0, additionalGids: [0] }));
    const r = await rt(['run', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/additional ?g(roup|id)s/i);
    await expectNothingLeft(id);
  });

  it('network namespaces: a new one (only lo), or one joined by path with its user namespace', async () => {
    const id = newId();
    const b = await bundle(id, (c) => {
      c.linux.namespaces.push({ type: 'network' });
      c.process.args = ['sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"];
    });
    let r = await rt(['run', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('lo\n');

    // A user and network namespace the user made itself (as slirp4netns or rootlesskit would hold them).
    const holder = spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', 'unshare', '--user', '--map-root-user', '--net', 'sleep', '600'], { stdio: 'ignore' });
    try {
      const hp = holder.pid!;
      await waitFor('the holder namespaces', () => {
        try {
          return readlinkSync(`/proc/${hp}/ns/net`) !== readlinkSync('/proc/self/ns/net');
        } catch {
          return false;
        }
      });
      const joined = newId();
      const jb = await bundle(joined, (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== 'user')
          .concat({ type: 'user', path: `/proc/${hp}/ns/user` }, { type: 'network', path: `/proc/${hp}/ns/net` });
        // The namespace's own maps (runc 1.1 wants them stated even for a joined namespace).
        c.linux.uidMappings = [{ containerID: 0, hostID: u.uid, size: 1 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: u.gid, size: 1 }];
        c.process.args = ['readlink', '/proc/self/ns/net'];
      });
      r = await rt(['run', '--bundle', jb, joined]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout.trim()).toBe(readlinkSync(`/proc/${hp}/ns/net`));
      await expectNothingLeft(joined);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("the container's root cannot reach the host: root-owned files, remounts, device nodes, host namespaces", async () => {
    const id = newId();
    const hostFile = join(dir, `hostfile-${id}`);
    const hostDir = join(dir, `hostdir-${id}`);
    writeFileSync(hostFile, 'original\n');
    chownSync(hostFile, 0, 0);
    chmodSync(hostFile, 0o644);
    mkdirSync(hostDir);
    chownSync(hostDir, 0, 0);
    chmodSync(hostDir, 0o755);
    const attempts: [string, string][] = [
      ['write a root-owned host file', 'echo pwned > /mnt/hostfile'],
      ['chmod a root-owned host file', 'chmod 666 /mnt/hostfile'],
      ['create in a root-owned host directory', 'touch /mnt/hostdir/x'],
      ['read /etc/shadow', 'cat /mnt/shadow'],
      ['remount /sys read-write', 'mount -o remount,rw /sys'],
      ['remount the host file read-write', 'mount -o remount,bind,rw /mnt/shadow && echo x >> /mnt/shadow'],
      ['sysrq-trigger', 'echo h > /proc/sysrq-trigger'],
      ['a block device node', 'mknod /tmp/sda b 8 0'],
      // busybox date exits 0 even when it cannot set the clock: the year tells.
      ['set the host clock', 'date -s 2001-01-01; [ "$(date +%Y)" = 2001 ]'],
      ['write a kernel parameter', 'echo 0 > /proc/sys/kernel/randomize_va_space'],
    ];
    const script = attempts.map(([what, cmd]) => `if (${cmd}) >/dev/null 2>&1; then echo "ESCAPED: ${what}"; else echo "refused: ${what}"; fi`).join('\n');
    const b = await bundle(id, (c) => {
      c.process.args = ['sh', '-c', script];
      c.process.capabilities = Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, ['CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_CHOWN', 'CAP_MKNOD', 'CAP_SYS_TIME']]));
      c.process.noNewPrivileges = true;
      c.mounts.push(
        { destination: '/mnt/hostfile', type: 'bind', source: hostFile, options: ['bind', 'rw'] },
        { destination: '/mnt/hostdir', type: 'bind', source: hostDir, options: ['bind', 'rw'] },
        { destination: '/mnt/shadow', type: 'bind', source: '/etc/shadow', options: ['bind', 'ro'] },
      );
    });
    const r = await rt(['run', '--bundle', b, id]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(attempts.map(([what]) => `refused: ${what}`));
    expect(readFileSync(hostFile, 'utf8')).toBe('original\n');
    expect(statSync(hostFile).mode & 0o777).toBe(0o644);
    expect(readdirSync(hostDir)).toEqual([]);
    await expectNothingLeft(id);

    // Joining a namespace of the host's root (its network namespace) is refused before anything is made.
    const host = newId();
    const hb = await bundle(host, (c) => c.linux.namespaces.push({ type: 'network', path: '/proc/1/ns/net' }));
    const h = await rt(['create', '--bundle', hb, host]);
    expect(h.code, show(h)).toBe(1);
    await expectNothingLeft(host);

    // Nothing of the runtime is privileged: no setuid or setgid bit, and its state is the user's.
    expect(statSync(bin).mode & 0o6000).toBe(0);
  });

  it("a terminal: the container's own pty, relayed by a foreground run (under script(1) for a terminal of ours)", async () => {
    const id = newId();
    const b = await bundle(id, (c) => {
      c.process.terminal = true;
      c.process.args = ['sh', '-c', 'tty; exit 4'];
    });
    const r = await asUser(u, 'script', ['-qec', `${bin} run --bundle ${b} ${id}`, '/dev/null'], env(), { stdin: 'null' });
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r?\n/);
    await expectNothingLeft(id);
  });

  it('hooks, seccomp and --pid-file as for root', async () => {
    const id = newId();
    const out = join(dir, `hook-${id}`);
    mkdirSync(out);
    chownTree(out, u);
    const b = await bundle(id, (c) => {
      c.hooks = {
        prestart: [{ path: '/bin/sh', args: ['sh', '-c', `id -u > ${out}/prestart`] }],
        poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}/poststop`] }],
      };
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
      c.process.args = ['sh', '-c', 'mkdir /tmp/d 2>/dev/null && echo made || echo denied'];
    });
    const r = await rt(['run', '--bundle', b, '--pid-file', join(out, 'pid'), id]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('denied\n');
    // Hooks run in the runtime's context: as the user on the host.
    expect(readFileSync(join(out, 'prestart'), 'utf8').trim()).toBe(String(u.uid));
    expect(JSON.parse(readFileSync(join(out, 'poststop'), 'utf8')).id).toBe(id);
    expect(Number(readFileSync(join(out, 'pid'), 'utf8'))).toBeGreaterThan(1);
    await expectNothingLeft(id);
  });
});

/**
 * Rootless podman 4.3 (run by the user, its storage, runroot, config and
 * XDG_RUNTIME_DIR in the user's scratch directory; the user's subuid range
 * for its user namespace; cgroupfs, file events, no network) with the
 * runtime as --runtime: run, exec, logs, stop.
 */
(isRoot && existsSync('/usr/bin/podman') ? describe : describe.skip).each(RUNTIMES)('rootless podman with %s', (name, bin) => {
  let u: TestUser;
  let dir: string;
  let n = 0;
  const pm = (args: string[]) => asUser(u, '/usr/bin/podman', ['--runtime', bin, ...args], {
    XDG_RUNTIME_DIR: join(dir, 'xdg'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'),
    CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
  }, { stdin: 'null', timeoutMs: 60_000 });

  beforeAll(async () => {
    u = ensureTestUser();
    dir = join(inject('work'), `rootless-podman-${name}-${process.pid}`);
    for (const sub of ['xdg', 'config', 'data', 'tmp']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'containers.conf'), `[containers]
# podman's default ulimits exceed this machine's hard limits.
default_ulimits = ["nofile=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
`);
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`);
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    execFileSync('tar', ['-C', join(inject('work'), 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
    chownTree(dir, u);
    const r = await pm(['import', join(dir, 'rootfs.tar'), 'localhost/rootless-busybox']);
    expect(r.code, show(r)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (!dir) return;
    await pm(['rm', '-af', '-t', '0']);
    await pm(['rmi', '-af']);
    // podman's pause process holds its user namespace between calls: ours (it has our XDG_RUNTIME_DIR) to end.
    for (const pid of processesWithEnv(`XDG_RUNTIME_DIR=${join(dir, 'xdg')}`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitFor('podman processes to end', () => processesMentioning(dir).length === 0 && processesWithEnv(`XDG_RUNTIME_DIR=${join(dir, 'xdg')}`).length === 0, 10_000).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('run (foreground, exit code kept), run -d, exec, logs, stop, rm', async () => {
    let r = await pm(['run', '--rm', 'localhost/rootless-busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map; exit 6']);
    expect(r.code, show(r)).toBe(6);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('0');
    // podman's user namespace: root is the user, then its subuid range.
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/).map(Number))).toEqual([[0, u.uid, 1], [1, u.subuid.start, u.subuid.count]]);

    // --userns=keep-id: a user namespace of the container's own, whose maps the runtime writes as root of podman's.
    r = await pm(['run', '--rm', '--userns=keep-id', 'localhost/rootless-busybox', 'id', '-u']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe(String(u.uid));

    const cname = `rl-${name}-${process.pid}-${++n}`;
    r = await pm(['run', '-d', '--name', cname, 'localhost/rootless-busybox', 'sh', '-c', 'echo started; trap "echo stopping; exit 0" TERM; while :; do sleep 0.1; done']);
    expect(r.code, show(r)).toBe(0);
    r = await pm(['exec', cname, 'sh', '-c', 'echo in-exec; exit 4']);
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toBe('in-exec\n');
    r = await pm(['stop', '-t', '10', cname]);
    expect(r.code, show(r)).toBe(0);
    r = await pm(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', cname]);
    expect(r.stdout.trim()).toBe('exited 0');
    r = await pm(['logs', cname]);
    expect(r.stdout).toBe('started\nstopping\n');
    r = await pm(['rm', cname]);
    expect(r.code, show(r)).toBe(0);
    // The runtime kept its state under podman's XDG_RUNTIME_DIR, and nothing of it is left.
    const state = join(dir, 'xdg', name);
    expect(existsSync(state) ? readdirSync(state) : []).toEqual([]);
  }, 180_000);
});
