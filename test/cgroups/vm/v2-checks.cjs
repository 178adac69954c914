#!/usr/bin/env node
/*
 * Runs INSIDE the cgroup v2 VM guest (test/cgroups/v2-vm.int.test.ts boots
 * it with test/vm/vm.sh run): real containers on a pure cgroup2
 * host with every controller. Prints one line per check, "ok NAME" or
 * "not ok NAME: detail", then "summary PASSED FAILED"; exits 1 on any
 * failure. A handful of containers, each checked for several things, so
 * one boot covers it all (code runs ~9x slower under TCG).
 */
'use strict';
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// Only where /sys/fs/cgroup is cgroup2: this script makes cgroups at the root of the hierarchy.
if (!fs.existsSync('/sys/fs/cgroup/cgroup.subtree_control')) {
  console.log('not ok host is pure cgroup v2: run me in the VM (test/cgroups/v2-vm.int.test.ts)');
  process.exit(2);
}

const repo = path.resolve(__dirname, '..', '..', '..');
const TSRUNC = path.join(repo, 'addon', 'build', 'tsrunc');
const work = fs.mkdtempSync('/tmp/tsrunc-v2-');
const root = path.join(work, 'state');
const CG = '/sys/fs/cgroup';
let passed = 0;
let failed = 0;
const ids = [];

const started = Date.now();
function check(name, cond, detail) {
  const t = ((Date.now() - started) / 1000).toFixed(1);
  if (cond) {
    passed++;
    console.log(`ok ${name} # ${t}s`);
  } else {
    failed++;
    console.log(`not ok ${name} # ${t}s: ${detail === undefined ? '' : typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  }
}

/** Runs tsrunc; its output goes through files, never pipes: a container inherits create's stdio and would hold a pipe open. */
function tsrunc(args, input) {
  const t0 = Date.now();
  const out = path.join(work, 'out'), err = path.join(work, 'err');
  const fds = [fs.openSync(out, 'w+'), fs.openSync(err, 'w+')];
  let r;
  try {
    r = spawnSync(TSRUNC, ['--root', root, ...args], { input: input ?? '', stdio: ['pipe', fds[0], fds[1]], timeout: 120_000 });
  } finally {
    fds.forEach((fd) => fs.closeSync(fd));
  }
  if (process.env.V2_TIMING) console.log(`# ${((Date.now() - t0) / 1000).toFixed(2)}s tsrunc ${args.join(' ').slice(0, 80)}`);
  return { code: r.status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(100);
  }
  return false;
}

function read(dir, file) {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').trim();
  } catch (err) {
    return `<${err.code}>`;
  }
}

execFileSync(path.join(repo, 'bundles', 'make-rootfs.sh'), [path.join(work, 'rootfs')], { stdio: 'ignore' });
let counter = 0;

/** A bundle like `tsrunc spec` makes, with edits; its cgroup at /tsrunc-v2/<id> (absolute, so the test knows where). */
function bundle(args, edit) {
  const id = `v2c${++counter}-${process.pid}`;
  ids.push(id);
  const dir = path.join(work, id);
  fs.mkdirSync(dir);
  execFileSync('cp', ['-a', path.join(work, 'rootfs'), path.join(dir, 'rootfs')]);
  const r = tsrunc(['spec', '-b', dir]);
  if (r.code !== 0) throw new Error(`spec: ${r.stderr}`);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root.readonly = false;
  spec.linux.cgroupsPath = `/tsrunc-v2/${id}`;
  if (edit) edit(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return { id, dir, cg: path.join(CG, 'tsrunc-v2', id) };
}

function create(b) {
  const r = tsrunc(['create', '-b', b.dir, '--no-shim', b.id]);
  if (r.code !== 0) throw new Error(`create ${b.id}: ${r.stderr}`);
  return r;
}

function addCaps(spec, ...caps) {
  for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set].push(...caps);
}

/** The ids of the BPF_CGROUP_DEVICE programs attached to a cgroup directory. */
function devicePrograms(dir) {
  const { queryDevicePrograms } = require(path.join(repo, 'dist', 'sys', 'bpf.js'));
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    return queryDevicePrograms(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** V2_SECTIONS=2,3 runs only those sections (for debugging in the VM); default: all. */
const want = (n) => !process.env.V2_SECTIONS || process.env.V2_SECTIONS.split(',').includes(String(n));

async function main() {
  let r;
  console.log(`# kernel ${fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, controllers: ${read(CG, 'cgroup.controllers')}`);
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  check('host is pure cgroup v2', / \/sys\/fs\/cgroup \S+.* - cgroup2 /.test(mountinfo) && !/ - cgroup /.test(mountinfo), mountinfo.split('\n').filter((l) => l.includes('cgroup')));
  // A block device for io.max: a 4 MiB RAM disk (major 1, minor 0).
  spawnSync('modprobe', ['brd', 'rd_nr=1', 'rd_size=4096']);
  const haveRam0 = fs.existsSync('/sys/block/ram0');
  const hugepages = fs.existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB');

  if (want(1)) {
  // 1. Limits land in the v2 files; update changes them; stats; ps; pause/resume; kill --all; delete.
  const c1 = bundle(['sh', '-c', 'sleep 1000 & sleep 1000 & i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done'], (s) => {
    s.linux.resources = {
      ...s.linux.resources,
      memory: { limit: 67108864, swap: 100663296, reservation: 33554432 },
      pids: { limit: 20 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      blockIO: haveRam0 ? { weight: 500, throttleReadBpsDevice: [{ major: 1, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 1, minor: 0, rate: 100 }] } : undefined,
      hugepageLimits: hugepages ? [{ pageSize: '2MB', limit: 4194304 }] : undefined,
      unified: { 'memory.high': '60000000' },
    };
  });
  create(c1);
  check('limits: memory.max', read(c1.cg, 'memory.max') === '67108864', read(c1.cg, 'memory.max'));
  check('limits: memory.swap.max is memory+swap minus memory', read(c1.cg, 'memory.swap.max') === '33554432', read(c1.cg, 'memory.swap.max'));
  check('limits: memory.low', read(c1.cg, 'memory.low') === '33554432', read(c1.cg, 'memory.low'));
  check('limits: memory.high from unified', read(c1.cg, 'memory.high') === '59998208' || read(c1.cg, 'memory.high') === '60000000', read(c1.cg, 'memory.high'));
  check('limits: pids.max', read(c1.cg, 'pids.max') === '20', read(c1.cg, 'pids.max'));
  check('limits: cpu.max', read(c1.cg, 'cpu.max') === '50000 100000', read(c1.cg, 'cpu.max'));
  check('limits: cpu.weight from shares 1024', read(c1.cg, 'cpu.weight') === '39', read(c1.cg, 'cpu.weight'));
  check('limits: cpuset.cpus', read(c1.cg, 'cpuset.cpus') === '0', read(c1.cg, 'cpuset.cpus'));
  if (haveRam0) {
    const io = read(c1.cg, 'io.max');
    check('limits: io.max', /^1:0 rbps=1048576 wbps=max riops=max wiops=100$/m.test(io), io);
    const w = read(c1.cg, fs.existsSync(path.join(c1.cg, 'io.bfq.weight')) ? 'io.bfq.weight' : 'io.weight');
    check('limits: io weight', /default (500|4950)/.test(w), w);
  } else {
    check('limits: io.max (a RAM disk for it)', false, 'modprobe brd gave no /sys/block/ram0');
  }
  if (hugepages) check('limits: hugetlb.2MB.max', read(c1.cg, 'hugetlb.2MB.max') === '4194304', read(c1.cg, 'hugetlb.2MB.max'));
  check('limits: one device filter attached', devicePrograms(c1.cg).length === 1, devicePrograms(c1.cg));
  const st1 = JSON.parse(tsrunc(['state', c1.id]).stdout);
  check('created process is in the cgroup (CLONE_INTO_CGROUP)', read(c1.cg, 'cgroup.procs').split('\n').includes(String(st1.pid)), read(c1.cg, 'cgroup.procs'));
  check('start', tsrunc(['start', c1.id]).code === 0);

  r = tsrunc(['update', '--memory', '128m', '--memory-swap', '192m', '--pids-limit', '30', '--cpu-quota', '20000', '--cpu-share', '2048', c1.id]);
  check('update: exit 0', r.code === 0, r.stderr);
  check('update: memory.max', read(c1.cg, 'memory.max') === '134217728', read(c1.cg, 'memory.max'));
  check('update: memory.swap.max', read(c1.cg, 'memory.swap.max') === '67108864', read(c1.cg, 'memory.swap.max'));
  check('update: pids.max', read(c1.cg, 'pids.max') === '30', read(c1.cg, 'pids.max'));
  check('update: cpu.max keeps the period', read(c1.cg, 'cpu.max') === '20000 100000', read(c1.cg, 'cpu.max'));
  check('update: cpu.weight', read(c1.cg, 'cpu.weight') === '79', read(c1.cg, 'cpu.weight'));
  r = tsrunc(['update', '-r', '-', c1.id], JSON.stringify({ cpu: { quota: -1, period: 50000 }, memory: { limit: -1 } }));
  check('update --resources -: cpu.max "max 50000", memory.max max', r.code === 0 && read(c1.cg, 'cpu.max') === 'max 50000' && read(c1.cg, 'memory.max') === 'max', [r.stderr, read(c1.cg, 'cpu.max'), read(c1.cg, 'memory.max')]);
  r = tsrunc(['update', '--cpu-rt-runtime', '1000', c1.id]);
  check('update: realtime is refused on v2, naming the field', r.code === 1 && /cpu\.realtimeRuntime/.test(r.stderr), r.stderr);

  await waitFor(() => read(c1.dir, 'rootfs/tmp/count') !== '<ENOENT>');
  let pids = [];
  await waitFor(() => (pids = JSON.parse(tsrunc(['ps', '--format', 'json', c1.id]).stdout || '[]')).length >= 3);
  check('ps --format json: the forked processes', pids.length >= 3 && pids.includes(st1.pid), pids);
  // exec on v2: the process is cloned straight into the container's cgroup (opened before the mount namespace is joined).
  r = tsrunc(['exec', c1.id, 'sh', '-c', 'cat /proc/self/cgroup']);
  check('exec: runs, in the container\'s cgroup (0::/ in its cgroup namespace)', r.code === 0 && r.stdout.trim() === '0::/', [r.code, r.stdout, r.stderr]);
  const stats = JSON.parse(tsrunc(['events', '--stats', c1.id]).stdout);
  check('events --stats', stats.type === 'stats' && stats.id === c1.id && stats.data.pids.current >= 3 && stats.data.pids.limit === 30 && stats.data.memory.usage.usage > 0 && stats.data.cpu.usage.total > 0, stats.data && { pids: stats.data.pids, usage: stats.data.memory.usage, cpu: stats.data.cpu });

  r = tsrunc(['pause', c1.id]);
  const frozenAt = read(c1.dir, 'rootfs/tmp/count');
  check('pause: cgroup.freeze, cgroup.events frozen 1, status paused', r.code === 0 && read(c1.cg, 'cgroup.freeze') === '1' && /frozen 1/.test(read(c1.cg, 'cgroup.events')) && JSON.parse(tsrunc(['state', c1.id]).stdout).status === 'paused', [r.stderr, read(c1.cg, 'cgroup.events')]);
  await sleep(1500);
  check('pause: the container does not run', read(c1.dir, 'rootfs/tmp/count') === frozenAt, [frozenAt, read(c1.dir, 'rootfs/tmp/count')]);
  r = tsrunc(['resume', c1.id]);
  check('resume: status running', r.code === 0 && JSON.parse(tsrunc(['state', c1.id]).stdout).status === 'running', r.stderr);
  check('resume: it runs again', await waitFor(() => read(c1.dir, 'rootfs/tmp/count') !== frozenAt), frozenAt);
  r = tsrunc(['kill', '--all', c1.id, '9']);
  check('kill --all 9', r.code === 0 && await waitFor(() => JSON.parse(tsrunc(['state', c1.id]).stdout).status === 'stopped'), r.stderr);
  check('kill --all 9: nothing left in the cgroup', await waitFor(() => read(c1.cg, 'cgroup.procs') === ''), read(c1.cg, 'cgroup.procs'));
  r = tsrunc(['delete', c1.id]);
  check('delete removes the cgroup', r.code === 0 && !fs.existsSync(c1.cg), r.stderr);

  }
  if (want(2)) {
  // 2. The eBPF device filter denies and allows; update replaces it.
  // The container probes the devices every 0.2s; the nodes live in /mnt (this script reads files under the rootfs's /tmp).
  const probe = 'mkdir -p /mnt/d; mknod /mnt/d/zero c 1 5; mknod /mnt/d/ram b 1 0; ' +
    'while true; do { head -c 4 /mnt/d/zero | od -An -tx1; head -c 1 /mnt/d/ram | od -An -tx1; echo x 2>&1 > /mnt/d/ram; head -c 1 /dev/null && echo null-ok; } > /tmp/out.new 2>&1; mv /tmp/out.new /tmp/out; sleep 0.2; done';
  const c2 = bundle(['sh', '-c', probe], (s) => addCaps(s, 'CAP_MKNOD'));
  create(c2);
  tsrunc(['start', c2.id]);
  await waitFor(() => /null-ok/.test(read(c2.dir, 'rootfs/tmp/out')));
  let out = read(c2.dir, 'rootfs/tmp/out');
  check('devices: a disk outside the rules is denied (EPERM)', /head: \/mnt\/d\/ram: Operation not permitted/.test(out), out);
  check('devices: mknod is allowed, the default devices work', /00 00 00 00/.test(out) && /null-ok/.test(out), out);
  r = tsrunc(['update', '-r', '-', c2.id], JSON.stringify({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 1, minor: 0, access: 'r' }] }));
  check('devices: update with new rules', r.code === 0, r.stderr);
  check('devices: the new filter replaced the old one', devicePrograms(c2.cg).length === 1, devicePrograms(c2.cg));
  await waitFor(() => !/head: \/mnt\/d\/ram: Operation not permitted/.test(read(c2.dir, 'rootfs/tmp/out')));
  await sleep(500);
  out = read(c2.dir, 'rootfs/tmp/out');
  check('devices: after the update the disk can be read, defaults still work', !/head: \/mnt\/d\/ram/.test(out) && /null-ok/.test(out) && /00 00 00 00/.test(out), out);
  check('devices: writing it (only r allowed) is still denied', /\/mnt\/d\/ram: Operation not permitted/.test(out), out);
  tsrunc(['delete', '--force', c2.id]);
  check('devices: delete removes the cgroup', !fs.existsSync(c2.cg));

  }
  if (want(3)) {
  // 3. OOM: a process past memory.max is killed, events says so; a nested cgroup goes with the container.
  const c3 = bundle(['sh', '-c', 'mkdir /sys/fs/cgroup/inner; sleep 2; tail /dev/zero; echo survived > /tmp/after; sleep 1000'], (s) => {
    s.linux.resources.memory = { limit: 33554432, swap: 33554432 };
    const m = s.mounts.find((x) => x.type === 'cgroup');
    m.options = m.options.filter((o) => o !== 'ro');
  });
  create(c3);
  const lines = [];
  const ev = spawn(TSRUNC, ['--root', root, 'events', '--interval', '1s', c3.id], { stdio: ['ignore', 'pipe', 'inherit'] });
  ev.stdout.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
  tsrunc(['start', c3.id]);
  const sawOom = await waitFor(() => lines.some((l) => JSON.parse(l).type === 'oom'), 60_000);
  check('oom: events reports {"type":"oom"}', sawOom && lines.some((l) => l === JSON.stringify({ type: 'oom', id: c3.id })), lines.slice(-3));
  check('oom: memory.events oom_kill', /oom_kill [1-9]/.test(read(c3.cg, 'memory.events')), read(c3.cg, 'memory.events'));
  check('oom: the container goes on', await waitFor(() => read(c3.dir, 'rootfs/tmp/after') === 'survived'), read(c3.dir, 'rootfs/tmp/after'));
  check('nested: the container made a cgroup inside its own', fs.existsSync(path.join(c3.cg, 'inner')));
  ev.kill('SIGKILL');
  r = tsrunc(['delete', '--force', c3.id]);
  check('oom + nested: delete --force removes everything', r.code === 0 && !fs.existsSync(c3.cg), r.stderr);

  }
  if (want(4)) {
  // 4. pids.max stops a fork bomb; the init killed by the OOM killer; a value v2 cannot take fails create cleanly.
  const c4 = bundle(['sh', '-c', '(for i in $(seq 1 40); do sleep 1000 & done) 2>/tmp/errors; echo forked > /tmp/done; exec sleep 1000'], (s) => {
    s.linux.resources.pids = { limit: 10 };
  });
  create(c4);
  tsrunc(['start', c4.id]);
  await waitFor(() => read(c4.dir, 'rootfs/tmp/done') === 'forked');
  check('pids: pids.current stays at pids.max', Number(read(c4.cg, 'pids.current')) <= 10 && /fork/.test(read(c4.dir, 'rootfs/tmp/errors')), [read(c4.cg, 'pids.current'), read(c4.dir, 'rootfs/tmp/errors')]);
  r = tsrunc(['delete', '--force', c4.id]);
  check('pids: delete --force removes the cgroup', r.code === 0 && !fs.existsSync(c4.cg), r.stderr);

  const c5 = bundle(['tail', '/dev/zero'], (s) => {
    s.linux.resources.memory = { limit: 16777216, swap: 16777216 };
  });
  create(c5);
  tsrunc(['start', c5.id]);
  check('oom of the init: the container stops', await waitFor(() => JSON.parse(tsrunc(['state', c5.id]).stdout).status === 'stopped', 60_000));
  r = tsrunc(['delete', c5.id]);
  check('oom of the init: delete removes the cgroup', r.code === 0 && !fs.existsSync(c5.cg), r.stderr);

  const c6 = bundle(['true'], (s) => {
    s.linux.resources.memory = { swappiness: 10 };
  });
  r = tsrunc(['create', '-b', c6.dir, '--no-shim', c6.id]);
  check('a v1-only value fails create, naming the field, and leaves nothing', r.code === 1 && /linux\.resources\.memory\.swappiness/.test(r.stderr) && !fs.existsSync(c6.cg) && !fs.existsSync(path.join(root, c6.id)), r.stderr);

  }
  // Nothing left: no container, no cgroup.
  for (const id of ids) tsrunc(['delete', '--force', id]);
  const left = fs.existsSync(path.join(CG, 'tsrunc-v2')) ? fs.readdirSync(path.join(CG, 'tsrunc-v2'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
  check('cleanup: no container cgroups left', left.length === 0, left);
  check('cleanup: no state left', !fs.existsSync(root) || fs.readdirSync(root).length === 0, fs.existsSync(root) ? fs.readdirSync(root) : []);
}

main().catch((err) => {
  failed++;
  console.log(`not ok crashed: ${err.stack}`);
}).finally(() => {
  for (const id of ids) tsrunc(['delete', '--force', id]);
  try {
    fs.rmdirSync(path.join(CG, 'tsrunc-v2'));
  } catch {
    // not there, or not ours to remove
  }
  console.log(`summary ${passed} ${failed}`);
  process.exitCode = failed ? 1 : 0;
});
