import { describe, expect, it } from 'vitest';
import { execSequence, processFromFlags } from '../../src/container/exec';
import { defaultSpec } from '../../src/spec/defaults';
import { recorders } from '../fakes/recording-ops';
import { silentLogger } from '../../src/sys/log';

describe('execSequence', () => {
  it('opens host paths (the v2 cgroup, the console socket) before joining any namespace, user first and mount last, then forks', async () => {
    const { ops, host, log } = recorders();
    const spec = defaultSpec();
    spec.linux!.namespaces!.push({ type: 'user' });
    const pid = await execSequence(ops, host, {
      spec, process: { ...spec.process!, terminal: true, args: ['sh'] }, containerPid: 77, cgroupDir: '/sys/fs/cgroup/ctr',
      console: { path: '/run/console.sock' }, preserveFds: 0, log: silentLogger,
    });
    expect(log.slice(0, 4)).toEqual([
      'setCloneCgroup /sys/fs/cgroup/ctr',
      'connectSocket /run/console.sock -> fd 10',
      'joinNamespaces NEWUSER=/proc/77/ns/user NEWIPC=/proc/77/ns/ipc NEWUTS=/proc/77/ns/uts NEWNET=/proc/77/ns/net NEWPID=/proc/77/ns/pid',
      'clone 0',
    ]);
    // Then, in its cgroup already (cloned there): the cgroup namespace, and the mount namespace last.
    expect(log[log.indexOf('clone 0') + 2]).toBe('joinNamespaces NEWCGROUP=/proc/77/ns/cgroup NEWNS=/proc/77/ns/mnt');
    // On v2 the process is cloned into the cgroup; there is nothing to join from outside.
    expect(log).not.toContain(`host.joinCgroup ${pid}`);
    expect(log[log.length - 1]).toBe('finish');
  });

  it('SCMP_ACT_NOTIFY: connects the listener with the host paths, and hands it the new process\'s notify fd', async () => {
    const { ops, host, log } = recorders();
    const spec = defaultSpec();
    spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' };
    const pid = await execSequence(ops, host, {
      spec, process: { ...spec.process!, terminal: false }, containerPid: 5, preserveFds: 0, log: silentLogger,
      seccomp: { program: Buffer.alloc(8), flags: 8, notify: true },
    });
    expect(log[0]).toBe('connectSocket /run/agent.sock -> fd 10');
    expect(log.slice(-3)).toEqual(['setSeccomp 8 bytes flags=8', `setSeccompListener fd=10 state=${host.seccompListenerState(pid)}`, 'finish']);
  });

  it('joins the cgroup from outside on v1, after the fork', async () => {
    const { ops, host, log } = recorders();
    const spec = defaultSpec();
    const pid = await execSequence(ops, host, { spec, process: { ...spec.process!, terminal: false }, containerPid: 5, preserveFds: 0, log: silentLogger });
    expect(log.indexOf(`host.joinCgroup ${pid}`)).toBe(log.indexOf('clone 0') + 2);
    expect(log.indexOf('joinNamespaces NEWCGROUP=/proc/5/ns/cgroup NEWNS=/proc/5/ns/mnt')).toBe(log.indexOf(`host.joinCgroup ${pid}`) + 1);
  });
});

describe('processFromFlags', () => {
  const base = { ...defaultSpec().process!, env: ['PATH=/bin', 'A=1'] };

  it('takes the container\'s process and applies runc\'s flags', () => {
    const p = processFromFlags(base, ['ls', '-l'], {
      cwd: '/tmp', env: ['A=2', 'B'], user: '1000:1001', additionalGids: ['5'], caps: ['CAP_SYS_ADMIN'], noNewPrivs: true, tty: true,
    });
    expect(p.args).toEqual(['ls', '-l']);
    expect(p.cwd).toBe('/tmp');
    expect(p.env).toEqual(['PATH=/bin', 'A=2', 'B=']);
    expect(p.user).toMatchObject({ uid: 1000, gid: 1001, additionalGids: [5] });
    expect(p.capabilities!.bounding).toContain('CAP_SYS_ADMIN');
    expect(p.capabilities!.ambient).not.toContain('CAP_SYS_ADMIN'); // no inheritable set in the config: no ambient
    expect(p.noNewPrivileges).toBe(true);
    expect(p.terminal).toBe(true);
    expect(base.args).toEqual(['sh']); // the container's own process is untouched
  });

  it('refuses user and group values that are not numbers', () => {
    expect(() => processFromFlags(base, ['true'], { env: [], additionalGids: [], caps: [], noNewPrivs: false, tty: false, user: 'root' })).toThrow(/--user "root": must be UID\[:GID\]/);
    expect(() => processFromFlags(base, ['true'], { env: [], additionalGids: ['wheel'], caps: [], noNewPrivs: false, tty: false })).toThrow(/--additional-gids "wheel"/);
  });
});
