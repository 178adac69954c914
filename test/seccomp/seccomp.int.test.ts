import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, exec, isRoot, repo, waitFor } from '../helpers/harness';
import type { Seccomp, Spec } from '../../src/spec/types';

const h = new Harness('seccomp');
const RUNC = '/usr/sbin/runc';

/** Runs script under a profile; returns exit code and output. */
async function under(seccomp: Seccomp, script: string, edit?: (s: Spec) => void) {
  return h.run(h.spec(['sh', '-c', script], (s) => {
    s.linux!.seccomp = seccomp;
    edit?.(s);
  }));
}

const allowAll = (syscalls: Seccomp['syscalls']): Seccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls });

/**
 * A profile in the manner of Docker's default one (written for this test):
 * deny by default with EPERM, an allow-list, and argument filters on
 * personality and clone.
 */
function dockerLike(): Seccomp {
  const allowed = `accept accept4 access alarm arch_prctl bind brk capget capset chdir chmod chown clock_getres clock_gettime
    clock_nanosleep close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait
    epoll_wait eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate fchdir fchmod fchmodat fchown
    fchownat fcntl fdatasync flock fork fstat fstatfs fsync ftruncate futex getcwd getdents getdents64 getegid geteuid getgid getgroups
    getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit get_robust_list getrusage
    getsid getsockname getsockopt gettid gettimeofday getuid inotify_add_watch inotify_init inotify_init1 inotify_rm_watch ioctl kill
    lchown link linkat listen lseek lstat madvise memfd_create mincore mkdir mkdirat mknod mknodat mlock mmap mprotect mremap msync
    munlock munmap nanosleep newfstatat open openat pause pipe pipe2 poll ppoll prctl pread64 preadv prlimit64 pselect6 pwrite64
    pwritev read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg rename renameat renameat2 restart_syscall rmdir rseq
    rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo
    sched_getaffinity sched_getparam sched_getscheduler sched_yield select sendfile sendmmsg sendmsg sendto setfsgid setfsuid setgid
    setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit set_robust_list setsid setsockopt
    set_tid_address setuid shutdown sigaltstack socket socketpair splice stat statfs statx symlink symlinkat sync syncfs sysinfo tee
    tgkill time timer_create timer_delete timerfd_create timerfd_gettime timerfd_settime times tkill truncate umask uname unlink
    unlinkat utime utimensat utimes vfork wait4 waitid write writev`.split(/\s+/).filter(Boolean);
  const CLONE_NAMESPACES = 0x7e020000; // NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: allowed, action: 'SCMP_ACT_ALLOW' },
      // personality: only the default persona and "query" are allowed.
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
      // clone: allowed unless it asks for a new namespace.
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACES, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  };
}

describe.skipIf(!isRoot())('seccomp (root)', () => {
  it('a filter is loaded: Seccomp: 2 in /proc/self/status; none without linux.seccomp', async () => {
    expect((await under(allowAll([]), 'grep ^Seccomp: /proc/self/status')).stdout).toMatch(/Seccomp:\s+2/);
    expect((await h.run(h.spec(['sh', '-c', 'grep ^Seccomp: /proc/self/status']))).stdout).toMatch(/Seccomp:\s+0/);
  });

  it('ERRNO with errnoRet, and EPERM by default', async () => {
    const r = await under(allowAll([
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 },
      { names: ['rmdir'], action: 'SCMP_ACT_ERRNO' },
    ]), 'mkdir /tmp/x; rmdir /tmp; echo end');
    expect(r.stderr).toMatch(/Invalid cross-device link/);
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect(r.stdout).toBe('end\n');
  });

  it('defaultErrnoRet applies to the default action', async () => {
    const p = dockerLike();
    p.defaultErrnoRet = 13;
    p.syscalls![0].names = p.syscalls![0].names.filter((n) => n !== 'mkdir' && n !== 'mkdirat');
    expect((await under(p, 'mkdir /tmp/x')).stderr).toMatch(/Permission denied/);
  });

  it.each(['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP'])('%s ends the process with SIGSYS', async (action) => {
    const seccomp = allowAll([{ names: ['uname'], action }]);
    const untouched = await h.run(h.spec(['echo', 'no uname here'], (s) => { s.linux!.seccomp = seccomp; }));
    expect([untouched.code, untouched.stdout]).toEqual([0, 'no uname here\n']);
    const killed = await h.run(h.spec(['uname', '-m'], (s) => { s.linux!.seccomp = seccomp; }));
    expect(killed.code).toBe(128 + 31);
    expect(killed.stdout).toBe('');
  });

  it('SCMP_ACT_LOG allows; SCMP_ACT_TRACE without a tracer fails with ENOSYS', async () => {
    expect((await under(allowAll([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_LOG' }]), 'mkdir /tmp/logged && echo made')).stdout).toBe('made\n');
    expect((await under(allowAll([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_TRACE', errnoRet: 1 }]), 'mkdir /tmp/traced')).stderr).toMatch(/Function not implemented/);
  });

  it('argument filters: one index compared several times means any of them (OR); different indexes all of them (AND)', async () => {
    // kill(pid, sig): deny sig 10 (USR1) or 12 (USR2), allow others.
    const or = allowAll([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }, { index: 1, value: 12, op: 'SCMP_CMP_EQ' }] }]);
    const r = await under(or, 'sleep 30 & p=$!; kill -USR1 $p 2>/dev/null || echo usr1-denied; kill -USR2 $p 2>/dev/null || echo usr2-denied; kill -TERM $p && echo term-ok');
    expect(r.stdout).toBe('usr1-denied\nusr2-denied\nterm-ok\n');
    // kill's signal (argument 1) against every operator: USR1 is 10 (0b1010), USR2 is 12 (0b1100).
    for (const [op, value, valueTwo, denied, allowed] of [
      ['SCMP_CMP_MASKED_EQ', 0b0100, 0b0100, 'USR2', 'USR1'], ['SCMP_CMP_GT', 11, 0, 'USR2', 'USR1'], ['SCMP_CMP_GE', 12, 0, 'USR2', 'USR1'],
      ['SCMP_CMP_LT', 11, 0, 'USR1', 'USR2'], ['SCMP_CMP_LE', 10, 0, 'USR1', 'USR2'], ['SCMP_CMP_NE', 10, 0, 'USR2', 'USR1'], ['SCMP_CMP_EQ', 10, 0, 'USR1', 'USR2'],
    ] as const) {
      const p = allowAll([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value, valueTwo, op }] }]);
      const out = await under(p, `trap "" USR1 USR2; sleep 30 & p=$!; kill -${denied} $p 2>/dev/null && echo ${denied}-sent; kill -${allowed} $p && echo ${allowed}-sent; kill -KILL $p`);
      expect(out.stdout.trim(), op).toBe(`${allowed}-sent`);
    }
  });

  it('unknown syscall names are skipped (debug log); unknown actions and flags are refused', async () => {
    const r = await h.tsrunc(['--debug', 'run', '-b', h.bundle(h.spec(['true'], (s) => {
      s.linux!.seccomp = allowAll([{ names: ['no_such_syscall', 'mkdir'], action: 'SCMP_ACT_ERRNO' }]);
    })), h.id()]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/seccomp: syscall no_such_syscall is unknown on this architecture, skipped/);
    const bad = await under({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' }] }, 'true');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/config\.json: \/linux\/seccomp\/syscalls\/0\/action: is "[^"]+", must be equal to one of the allowed values/);
    const flag = await under({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }, 'true');
    expect(flag.code).toBe(1);
  });

  it('flags: SECCOMP_FILTER_FLAG_LOG and SPEC_ALLOW are accepted and the filter loads', async () => {
    const r = await under({ ...allowAll([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]), flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'] },
      'grep ^Seccomp: /proc/self/status');
    expect(r.stdout).toMatch(/Seccomp:\s+2/);
  });

  it('the filter is loaded last: with and without noNewPrivileges, as a non-root user', async () => {
    for (const noNewPrivileges of [true, false]) {
      const r = await under(allowAll([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }]), 'id -u; mkdir /tmp/x 2>&1 | grep -c "not permitted"', (s) => {
        s.process!.noNewPrivileges = noNewPrivileges;
        s.process!.user = { uid: 1000, gid: 1000 };
      });
      expect(r.stdout, `noNewPrivileges ${noNewPrivileges}`).toBe('1000\n1\n');
    }
  });

  it('SCMP_ACT_NOTIFY: the listener gets the notify fd and the container process state, and answers the calls', async () => {
    const socket = join(h.dir, `listener-${Date.now()}.sock`);
    const listener = spawn('python3', [join(repo, 'test', 'helpers', 'seccomp-listener.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    listener.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.startsWith('ready'));
    const done = new Promise<void>((resolve) => listener.on('close', () => resolve()));
    const r = await under({
      ...allowAll([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }]), listenerPath: socket, listenerMetadata: 'hello-agent',
    }, 'mkdir /tmp/notified 2>&1; echo done');
    expect(r.stdout).toMatch(/Invalid cross-device link/);
    await done;
    const got = JSON.parse(out.slice('ready\n'.length));
    expect(got.fds).toBe(1);
    expect(got.state).toMatchObject({ ociVersion: '1.3.0', fds: ['seccompFd'], metadata: 'hello-agent', state: { id: r.id, status: 'creating' } });
    expect(got.state.pid).toBeGreaterThan(0);
    expect(got.handled.length).toBeGreaterThan(0);
    const missing = await under({ ...allowAll([{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }]), listenerPath: join(h.dir, 'nobody.sock') }, 'true');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/linux\.seccomp\.listenerPath .*nobody\.sock: ENOENT/);
  });

  it('a Docker-style profile loads and behaves exactly as under runc', async () => {
    const probe = [
      'mkdir /tmp/d && echo mkdir-ok', 'unshare -n true 2>/dev/null || echo unshare-denied', 'mount -t tmpfs x /mnt 2>/dev/null || echo mount-denied',
      'setarch linux32 true 2>/dev/null || echo personality-denied', 'uname -m', 'ls / > /dev/null && echo ls-ok', 'echo $(( 6 * 7 ))',
    ].join('; ');
    const spec = h.spec(['sh', '-c', probe], (s) => {
      s.linux!.seccomp = dockerLike();
      s.process!.capabilities = Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, ['CAP_SYS_ADMIN', 'CAP_CHOWN', 'CAP_KILL']]));
    });
    // Both runtimes start from identical copies of the rootfs.
    const pristine = h.bundle(spec);
    const ours = await h.run(spec);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe('mkdir-ok\nunshare-denied\nmount-denied\npersonality-denied\nx86_64\nls-ok\n42\n');
    // runc, the reference, on the same bundle: required (test/setup.sh installs it).
    const runc = RUNC;
    expect(existsSync(runc), `${runc} is missing: the comparison with runc cannot run (sudo npm test installs it)`).toBe(true);
    const bundle = join(h.dir, `runc-bundle-${Date.now()}`);
    mkdirSync(bundle);
    cpSync(join(pristine, 'rootfs'), join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...spec, root: { path: join(bundle, 'rootfs') } }));
    const theirs = await exec(runc, ['--root', join(h.dir, 'runc-state'), 'run', '-b', bundle, `runc-${Date.now()}`]);
    expect(theirs.stdout).toBe(ours.stdout);
    expect(theirs.code).toBe(ours.code);
  });
});
