import { describe, expect, it } from 'vitest';
import { ENGINE_SUPERVISORS, decideShim, parentExecutable } from '../../src/shim/policy';
import { TsruncError } from '../../src/sys/errors';

describe('decideShim', () => {
  it('follows --shim and --no-shim first', () => {
    expect(decideShim({ shim: true }, { TSRUNC_SHIM: '0' }, '/usr/bin/containerd-shim-runc-v2')).toEqual({ shim: true, reason: '--shim' });
    expect(decideShim({ 'no-shim': true }, { TSRUNC_SHIM: '1' }, '/bin/bash')).toEqual({ shim: false, reason: '--no-shim' });
  });

  it('refuses both flags at once', () => {
    expect(() => decideShim({ shim: true, 'no-shim': true }, {}, undefined)).toThrow(new TsruncError('--shim and --no-shim contradict each other'));
  });

  it('treats --shim=false like no flag', () => {
    expect(decideShim({ shim: false, 'no-shim': false }, {}, '/bin/bash').shim).toBe(true);
    expect(decideShim({ shim: false }, {}, '/usr/bin/conmon').shim).toBe(false);
  });

  it('then TSRUNC_SHIM=1 or 0, nothing else', () => {
    expect(decideShim({}, { TSRUNC_SHIM: '1' }, '/usr/bin/conmon')).toEqual({ shim: true, reason: 'TSRUNC_SHIM=1' });
    expect(decideShim({}, { TSRUNC_SHIM: '0' }, '/bin/bash')).toEqual({ shim: false, reason: 'TSRUNC_SHIM=0' });
    expect(decideShim({}, { TSRUNC_SHIM: 'yes' }, '/bin/bash').reason).toBe('started by bash, not by an engine');
  });

  it('then no shim under an engine supervisor that reaps', () => {
    for (const exe of ['/usr/bin/containerd-shim-runc-v2', '/usr/local/bin/containerd-shim', '/usr/bin/conmon', '/usr/libexec/podman/conmon-rs', '/usr/bin/crio']) {
      const name = exe.slice(exe.lastIndexOf('/') + 1);
      expect(decideShim({}, {}, exe), exe).toEqual({ shim: false, reason: `started by ${name}, which reaps the container` });
    }
  });

  it('otherwise the shim', () => {
    expect(decideShim({}, {}, '/usr/bin/bash')).toEqual({ shim: true, reason: 'started by bash, not by an engine' });
    expect(decideShim({}, {}, '/usr/bin/containerd')).toEqual({ shim: true, reason: 'started by containerd, not by an engine' });
    expect(decideShim({}, {}, undefined)).toEqual({ shim: true, reason: 'started by an unknown process, not by an engine' });
  });

  it('matches supervisor names exactly', () => {
    for (const name of ['conmon', 'conmon-rs', 'crio', 'containerd-shim', 'containerd-shim-runc-v2']) expect(ENGINE_SUPERVISORS.test(name), name).toBe(true);
    for (const name of ['containerd', 'xconmon', 'conmon2', 'crio-wrapper', 'runc']) expect(ENGINE_SUPERVISORS.test(name), name).toBe(false);
  });
});

describe('parentExecutable', () => {
  it("reads a process's executable, undefined when it cannot", () => {
    // This test runs in a vitest worker forked by node.
    expect(parentExecutable(process.ppid)).toMatch(/\/node[^/]*$/);
    expect(parentExecutable(0x7fffffff)).toBeUndefined();
  });
});
