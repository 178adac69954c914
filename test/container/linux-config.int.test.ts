import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, TSRUNC, exec, isRoot, waitFor } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';
import { CAPABILITIES } from '../../src/linux/capabilities';

const h = new Harness('linuxcfg');

/** Runs script in a container built from edit(spec); returns stdout, failing on a non-zero exit. */
async function inside(script: string, edit?: (s: Spec) => void): Promise<string> {
  const r = await h.run(h.spec(['sh', '-c', script], edit));
  if (r.code !== 0) throw new Error(`container exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function fails(edit: (s: Spec) => void, message: RegExp, args = ['true']): Promise<void> {
  const r = await h.run(h.spec(args, edit));
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(h.leftovers()).not.toContain(r.id);
}

const statusField = (status: string, field: string) => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1].trim();

/** The host's bounding set, as capability names. */
function hostCapabilities(): string[] {
  const mask = BigInt(`0x${statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd')}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

const maskOf = (names: string[]) => names.reduce((m, n) => m | (1n << BigInt(CAPABILITIES.indexOf(n as never))), 0n).toString(16).padStart(16, '0');

describe.skipIf(!isRoot())('the whole Linux config, read back from inside (root)', () => {
  it('user namespace: several id ranges, root inside maps to the configured host id, files owned accordingly', async () => {
    const spec = h.spec(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /dev/shm/f; stat -c %u:%g /dev/shm/f; ls -l /dev/null | cut -c1'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 2000, size: 10 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }];
      // Only cgroup2 could be mounted from a user namespace; the v1 binds need no cgroup namespace either.
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
    });
    const r = await h.run(spec);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines.slice(0, 3)).toEqual(['0 100000 1000', '1000 2000 10', '0 100000 1000']);
    expect(lines.slice(3, 5)).toEqual(['0', '0']);
    expect(lines[5]).toBe('0:0');
    expect(lines[6]).toBe('c'); // the host's /dev/null, bound in (mknod is refused in a user namespace)
  });

  it('user namespace: bad mappings are refused', async () => {
    await fails((s) => { s.linux!.namespaces!.push({ type: 'user' }); }, /config\.json: \/linux\/uidMappings: a new user namespace needs mappings/);
    await fails((s) => { s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, /\/linux\/uidMappings: mappings need a user namespace/);
  });

  it('time namespace: monotonic and boottime offsets', async () => {
    const out = await inside('cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime', (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 864000 } };
    });
    const [mono, boot, uptime] = out.trim().split('\n');
    expect(mono.split(/\s+/)).toEqual(['monotonic', '86400', '0']);
    expect(boot.split(/\s+/)).toEqual(['boottime', '864000', '0']);
    const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split('.')[0]);
    expect(Number(uptime) - hostUptime).toBeGreaterThanOrEqual(864000 - 5);
    await fails((s) => { s.linux!.timeOffsets = { monotonic: { secs: 1 } }; }, /\/linux\/timeOffsets: needs a time namespace/);
    await fails((s) => { s.linux!.namespaces!.push({ type: 'time' }); s.linux!.timeOffsets = { realtime: { secs: 1 } }; }, /\/linux\/timeOffsets\/realtime: only monotonic and boottime/);
  });

  it('devices: char, block, pipe and unbuffered, with their numbers, mode and owner', async () => {
    const out = await inside('for d in fuse loop9 fifo kmsgu; do stat -c "%n %F %t:%T %a %u:%g" /dev/$d; done', (s) => {
      s.linux!.devices = [
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o620, uid: 7, gid: 9 },
        { type: 'b', path: '/dev/loop9', major: 7, minor: 9, fileMode: 0o660, uid: 0, gid: 6 },
        { type: 'p', path: '/dev/fifo', fileMode: 0o600 },
        { type: 'u', path: '/dev/kmsgu', major: 1, minor: 11, fileMode: 0o644 },
      ];
    });
    expect(out.trim().split('\n')).toEqual([
      '/dev/fuse character special file a:e5 620 7:9',
      '/dev/loop9 block special file 7:9 660 0:6',
      '/dev/fifo fifo 0:0 600 0:0',
      '/dev/kmsgu character special file 1:b 644 0:0',
    ]);
  });

  it('masked paths read empty and cannot be written through; read-only paths refuse writes', async () => {
    // A masked file is /dev/null (as with runc and crun): a write "succeeds" into nothing.
    // A masked directory is an empty read-only tmpfs; a read-only path is read-only.
    const out = await inside([
      'cat /proc/keys | wc -c', 'echo x > /proc/keys; cat /proc/keys | wc -c', 'stat -c %t:%T /proc/keys',
      'ls -A /proc/acpi | wc -l', 'touch /proc/acpi/x 2>/dev/null && echo WRITABLE',
      'echo 1 > /proc/sys/kernel/sysrq 2>/dev/null && echo WRITABLE', 'mkdir /proc/irq/x 2>/dev/null && echo WRITABLE', 'echo done',
    ].join('; '));
    expect(out.trim().split('\n')).toEqual(['0', '0', '1:3', '0', 'done']);
  });

  it('sysctl: namespaced keys are set; others refused with the key named', async () => {
    const out = await inside('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax /proc/sys/kernel/domainname', (s) => {
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '12345', 'kernel.domainname': 'example.org' };
    });
    expect(out.trim().split('\n')).toEqual(['1', '12345', 'example.org']);
    expect(readFileSync('/proc/sys/kernel/msgmax', 'utf8').trim()).not.toBe('12345');
    await fails((s) => { s.linux!.sysctl = { 'kernel.panic': '1' }; }, /config\.json: \/linux\/sysctl\/kernel\.panic: is not namespaced/);
    await fails((s) => { s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network'); s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' }; },
      /\/linux\/sysctl\/net\.ipv4\.ip_forward: needs a network namespace/);
    await fails((s) => { s.linux!.sysctl = { '../../etc/passwd': 'x' }; }, /is not a sysctl name/);
  });

  it('domainname and hostname', async () => {
    const out = await inside('hostname; domainname 2>/dev/null || cat /proc/sys/kernel/domainname', (s) => {
      s.hostname = 'box';
      s.domainname = 'example.net';
    });
    expect(out.trim().split('\n')).toEqual(['box', 'example.net']);
  });

  it.each([
    // The root is a bind of a (private) mount: as a slave it has no master, so it shows as private.
    ['rshared', /shared:\d+/], ['shared', /shared:\d+/], ['rslave', /^\S+ \S+ \S+ \S+ \/ \S+ - /], ['rprivate', /^\S+ \S+ \S+ \S+ \/ \S+ - /],
    ['unbindable', /unbindable/], ['runbindable', /unbindable/],
  ])('rootfsPropagation %s is the propagation of the container\'s root', async (propagation, expected) => {
    const out = await inside('grep -E "^[0-9]+ [0-9]+ [0-9:]+ \\S+ / " /proc/self/mountinfo', (s) => {
      s.linux!.rootfsPropagation = propagation;
    });
    expect(out.trim()).toMatch(expected);
  });

  it('rlimits: every RLIMIT_* with soft and hard values', async () => {
    const out = await inside('cat /proc/self/limits', (s) => {
      s.process!.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 777, hard: 888 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
        { type: 'RLIMIT_NPROC', soft: 500, hard: 600 },
        { type: 'RLIMIT_STACK', soft: 8388608, hard: 16777216 },
        { type: 'RLIMIT_MSGQUEUE', soft: 4096, hard: 8192 },
        { type: 'RLIMIT_CPU', soft: 18446744073709551615, hard: 18446744073709551615 },
      ];
    });
    expect(out).toMatch(/^Max open files\s+777\s+888\s+files/m);
    expect(out).toMatch(/^Max core file size\s+0\s+0\s+bytes/m);
    expect(out).toMatch(/^Max processes\s+500\s+600\s+processes/m);
    expect(out).toMatch(/^Max stack size\s+8388608\s+16777216\s+bytes/m);
    expect(out).toMatch(/^Max msgqueue size\s+4096\s+8192\s+bytes/m);
    expect(out).toMatch(/^Max cpu time\s+unlimited\s+unlimited\s+seconds/m);
  });

  it('oomScoreAdj (raising it needs no privilege the host lacks)', async () => {
    expect((await inside('cat /proc/self/oom_score_adj', (s) => { s.process!.oomScoreAdj = 500; })).trim()).toBe('500');
  });

  it('noNewPrivileges, and all five capability sets as configured (a non-root user: the kernel keeps them through exec)', async () => {
    const caps = { bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW', 'CAP_SETUID'], effective: ['CAP_KILL', 'CAP_NET_RAW', 'CAP_CHOWN'], inheritable: ['CAP_KILL', 'CAP_CHOWN'],
      permitted: ['CAP_KILL', 'CAP_NET_RAW', 'CAP_CHOWN'], ambient: ['CAP_KILL', 'CAP_CHOWN'] };
    const edit = (s: Spec) => {
      s.process!.capabilities = caps;
      s.process!.noNewPrivileges = true;
      s.process!.user = { uid: 1000, gid: 1000 };
    };
    const status = await inside('cat /proc/$$/status', edit);
    expect(statusField(status, 'NoNewPrivs')).toBe('1');
    expect(statusField(status, 'CapBnd')).toBe(maskOf(caps.bounding));
    expect(statusField(status, 'CapInh')).toBe(maskOf(caps.inheritable));
    expect(statusField(status, 'CapAmb')).toBe(maskOf(caps.ambient));
    // execve of a file without file capabilities leaves a non-root process its ambient set as permitted and effective.
    expect(statusField(status, 'CapPrm')).toBe(maskOf(caps.ambient));
    expect(statusField(status, 'CapEff')).toBe(maskOf(caps.ambient));
  });

  it('as root without no_new_privs, exec gives permitted = bounding | inheritable (the kernel\'s rule for uid 0; runc shows the same)', async () => {
    const caps = { bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'], effective: ['CAP_KILL'], inheritable: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: [] };
    const status = await inside('cat /proc/$$/status', (s) => {
      s.process!.capabilities = caps;
      s.process!.noNewPrivileges = false; // with it, exec could not raise permitted above what was configured
    });
    expect(statusField(status, 'CapBnd')).toBe(maskOf(caps.bounding));
    expect(statusField(status, 'CapInh')).toBe(maskOf(caps.inheritable));
    expect(statusField(status, 'CapPrm')).toBe(maskOf(caps.bounding));
    expect(statusField(status, 'CapEff')).toBe(maskOf(caps.bounding));
    expect(statusField(status, 'NoNewPrivs')).toBe('0');
  });

  it('a container given no capabilities has none, in all five sets', async () => {
    const status = await inside('cat /proc/$$/status', (s) => {
      s.process!.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
    });
    for (const f of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(statusField(status, f), f).toBe('0000000000000000');
  });

  it('every capability the host has can be granted (the host lacks CAP_SYS_RESOURCE, so "all" cannot be)', async () => {
    const all = hostCapabilities();
    const status = await inside('cat /proc/$$/status', (s) => {
      s.process!.capabilities = { bounding: all, effective: all, inheritable: all, permitted: all, ambient: all };
    });
    for (const f of ['CapBnd', 'CapPrm', 'CapEff', 'CapInh', 'CapAmb']) expect(statusField(status, f), f).toBe(maskOf(all));
  });

  it('capabilities the host withholds are dropped with a warning (the spec: SHOULD NOT fail); unknown names fail', async () => {
    // Whatever this host withholds, tsrunc runs here under a bounding set without CAP_SYS_BOOT too (setpriv,
    // in-process so that the bounding set is tsrunc's own), so there is always something to drop.
    const host = hostCapabilities().filter((c) => c !== 'CAP_SYS_BOOT');
    const withheld = CAPABILITIES.filter((c) => !host.includes(c));
    const all = [...CAPABILITIES];
    const bundle = h.bundle(h.spec(['sh', '-c', 'cat /proc/$$/status'], (s) => {
      s.process!.capabilities = { bounding: all, effective: all, inheritable: all, permitted: all, ambient: all };
    }));
    const r = await exec('setpriv', ['--bounding-set', '-sys_boot', TSRUNC, '--root', h.root, 'run', '-b', bundle, h.id()]);
    expect(r.code, r.stderr).toBe(0);
    expect(withheld).toContain('CAP_SYS_BOOT');
    expect(r.stderr).toMatch(new RegExp(`level=warning msg="capabilities this host withholds .*dropped: .*${withheld[0]}`));
    for (const c of withheld) expect(r.stderr).toContain(c);
    expect(statusField(r.stdout, 'CapBnd')).toBe(maskOf(host));
    const unknown = await h.run(h.spec(['true'], (s) => { s.process!.capabilities!.bounding = ['CAP_NOT_A_CAPABILITY']; }));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/CAP_NOT_A_CAPABILITY/);
  });

  it('supplementary groups, uid and gid show in /proc/self/status', async () => {
    const status = await inside('cat /proc/$$/status', (s) => { s.process!.user = { uid: 1234, gid: 4321, additionalGids: [10, 20] }; });
    expect(statusField(status, 'Uid')).toBe('1234\t1234\t1234\t1234');
    expect(statusField(status, 'Gid')).toBe('4321\t4321\t4321\t4321');
    expect(statusField(status, 'Groups')).toBe('10 20');
  });

  it('apparmorProfile and selinuxLabel where the host has no such LSM: an error naming the field', async () => {
    await fails((s) => { s.process!.apparmorProfile = 'docker-default'; }, /config\.json: \/process\/apparmorProfile: AppArmor is not enabled on this host/);
    await fails((s) => { s.process!.selinuxLabel = 'system_u:system_r:container_t:s0'; }, /\/process\/selinuxLabel: SELinux is not enabled/);
    await fails((s) => { s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0'; }, /\/linux\/mountLabel: SELinux is not enabled/);
  });

  it('ioPriority, scheduler and CPU affinity of the container process, seen from the host', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30'], (s) => {
      s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
      s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 7 };
      s.process!.execCPUAffinity = { initial: '0-1', final: '0' };
    }));
    expect(execFileSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).trim()).toBe('best-effort: prio 6');
    const py = execFileSync('python3', ['-c', `import os; print(os.sched_getscheduler(${pid}), os.getpriority(os.PRIO_PROCESS, ${pid}), sorted(os.sched_getaffinity(${pid})))`], { encoding: 'utf8' });
    expect(py.trim()).toBe('3 7 [0]');
    await h.tsrunc(['delete', '--force', id]);
    await fails((s) => { s.process!.execCPUAffinity = { final: '3-1' }; }, /process\.execCPUAffinity\.final: "3-1" is not a CPU or range of CPUs/);
  });

  it('personality LINUX32 makes uname report a 32-bit machine; flags are refused', async () => {
    expect((await inside('uname -m', (s) => { s.linux!.personality = { domain: 'LINUX32' }; })).trim()).toMatch(/^i[3-6]86$/);
    await fails((s) => { s.linux!.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }; }, /\/linux\/personality\/flags: no personality flags are supported/);
  });

  it('unsupported fields are errors, never silently ignored', async () => {
    await fails((s) => { s.linux!.intelRdt = { closID: 'x' }; }, /\/linux\/intelRdt: is not supported by tsrunc/);
    await fails((s) => { s.mounts!.push({ destination: '/t', type: 'bind', source: '/tmp', options: ['rbind', 'tmpcopyup'] }); }, /mounts \/t: option "tmpcopyup" is only for tmpfs mounts/);
  });

  it('a container that runs as a user the image does not know gets HOME=/', async () => {
    expect((await inside('echo $HOME', (s) => { s.process!.user = { uid: 31337, gid: 31337 }; })).trim()).toBe('/');
  });

  it('the container process is really in the pid namespace and cgroup tsrunc made', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    expect(cgroup).toMatch(new RegExp(`:memory:.*/${id}$`, 'm'));
    expect(statSync(`/proc/${pid}`).isDirectory()).toBe(true);
    await h.tsrunc(['start', id]);
    await waitFor(async () => (await h.state(id)).status === 'running');
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
    // Another pid namespace than ours (NSpid above says pid 1 in it).
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
  });
});
