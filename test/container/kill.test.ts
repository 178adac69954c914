import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Freezer } from '../../src/cgroups/freezer';
import type { CgroupRecord } from '../../src/cgroups/types';
import { signalAll, signalProcess } from '../../src/container/kill';
import type { ContainerRecord } from '../../src/state/store';
import { SyscallError, TsruncError } from '../../src/sys/errors';
import { FakeHostSys } from '../fakes/host';

const { SIGKILL, SIGTERM } = constants.signals;
const { EPERM } = constants.errno;

describe('signalProcess (host side, against FakeHostSys)', () => {
  it('signals through a pidfd when the start time still matches, and closes the pidfd', async () => {
    const sys = new FakeHostSys().spawn(42, '1000');
    expect(await signalProcess(42, '1000', SIGTERM, sys)).toBe(true);
    expect(sys.log).toEqual(['pidfd_open 42 -> 100', `signal ${SIGTERM} -> 42`, 'close 100']);
    expect(sys.openFds).toEqual([]);
  });

  it('never signals a process that reused the pid (another start time)', async () => {
    const sys = new FakeHostSys().spawn(42, '2000');
    expect(await signalProcess(42, '1000', SIGKILL, sys)).toBe(false);
    expect(sys.log).toEqual(['pidfd_open 42 -> 100', 'close 100']);
  });

  it('a zombie has ended: not signalled', async () => {
    const sys = new FakeHostSys().spawn(42, '1000', 'Z');
    expect(await signalProcess(42, '1000', SIGKILL, sys)).toBe(false);
  });

  it('a process already gone (ESRCH) is not an error', async () => {
    const sys = new FakeHostSys();
    expect(await signalProcess(42, '1000', SIGKILL, sys)).toBe(false);
  });

  it('any other failure is an error naming the signal and the pid, with the errno and the cause', async () => {
    const sys = new FakeHostSys().spawn(42, '1000');
    sys.openFailures.set(42, EPERM);
    const err = await signalProcess(42, '1000', SIGKILL, sys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TsruncError);
    expect((err as Error).message).toBe(`signal ${SIGKILL} to process 42: pidfd_open: pid 42: EPERM (operation not permitted)`);
    expect((err as Error).cause).toBeInstanceOf(SyscallError);
    expect(((err as Error).cause as SyscallError).errno).toBe(EPERM);
  });
});

describe('signalAll: freeze, list, signal, thaw', () => {
  const cgroup: CgroupRecord = { mode: 'hybrid', path: '/ctr', dirs: {}, created: [] };
  const record = (pid: number, startTime: string): ContainerRecord =>
    ({ ociVersion: '1.3.0', id: 'c', bundle: '/b', rootfs: '/b/rootfs', created: '', pid, pidStartTime: startTime, cgroup } as ContainerRecord);

  function recordingFreezer(log: string[], failFreeze = false): Freezer {
    let frozen = false;
    return {
      freeze: async () => {
        log.push('freeze');
        if (failFreeze) throw new TsruncError('the freezer controller is not mounted: cannot pause');
        frozen = true;
      },
      thaw: () => { log.push('thaw'); frozen = false; },
      isFrozen: () => frozen,
    };
  }

  it('SIGKILL: freezes first, signals every process of the cgroup and the init, thaws last', async () => {
    const sys = new FakeHostSys().spawn(10, 't10').spawn(11, 't11').spawn(12, 't12');
    const log = sys.log;
    await signalAll(record(10, 't10'), SIGKILL, { sys, pids: () => { log.push('list'); return [11, 12]; }, freezer: () => recordingFreezer(log) });
    expect(log.filter((l) => !l.startsWith('pidfd_open') && !l.startsWith('close'))).toEqual([
      'freeze', 'list', `signal ${SIGKILL} -> 11`, `signal ${SIGKILL} -> 12`, `signal ${SIGKILL} -> 10`, 'thaw',
    ]);
    expect(sys.openFds).toEqual([]);
  });

  it('SIGKILL without a working freezer still kills everything, and thaws nothing', async () => {
    const sys = new FakeHostSys().spawn(10, 't10').spawn(11, 't11');
    const log = sys.log;
    await signalAll(record(10, 't10'), SIGKILL, { sys, pids: () => [11], freezer: () => recordingFreezer(log, true) });
    expect(log.filter((l) => l.startsWith('signal') || l === 'freeze' || l === 'thaw')).toEqual(['freeze', `signal ${SIGKILL} -> 11`, `signal ${SIGKILL} -> 10`]);
  });

  it('other signals do not freeze; a recycled init pid is left alone', async () => {
    const sys = new FakeHostSys().spawn(10, 'other').spawn(11, 't11');
    const log = sys.log;
    await signalAll(record(10, 't10'), SIGTERM, { sys, pids: () => [11], freezer: () => recordingFreezer(log) });
    expect(log.filter((l) => l.startsWith('signal') || l === 'freeze' || l === 'thaw')).toEqual([`signal ${SIGTERM} -> 11`]);
  });
});
