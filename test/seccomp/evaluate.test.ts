import { describe, expect, it } from 'vitest';
import { denies, evaluateFilter } from '../../src/seccomp/evaluate';
import { compileSeccomp } from '../../src/seccomp/filter';
import { silentLogger } from '../../src/sys/log';

const ALLOW = 0x7fff0000, ERRNO = 0x00050000, KILL_PROCESS = 0x80000000;
const NR = { mkdir: 83, kill: 62, execve: 59, getpid: 39 };

// Programs built by libseccomp, answered by the interpreter as the kernel would.
describe('evaluateFilter', () => {
  it('answers per syscall, with the errno in the low bits', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }, silentLogger);
    expect(evaluateFilter(program, { nr: NR.mkdir })).toBe((ERRNO | 13) >>> 0);
    expect(evaluateFilter(program, { nr: NR.getpid })).toBe(ALLOW);
  });

  it('follows argument conditions (64-bit values compared in two halves)', () => {
    const { program } = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] }],
    }, silentLogger);
    expect(evaluateFilter(program, { nr: NR.kill, args: [1n, 9n] })).toBe(KILL_PROCESS);
    expect(evaluateFilter(program, { nr: NR.kill, args: [1n, 15n] })).toBe(ALLOW);
    expect(evaluateFilter(program, { nr: NR.kill, args: [1n, (1n << 32n) | 9n] })).toBe(ALLOW);
  });

  it('another architecture gets what the filter says for foreign arches (here: the default kill)', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }, silentLogger);
    expect(denies(evaluateFilter(program, { nr: 0, arch: 0x40000003 /* i386 */ }))).toBe(true);
  });
});

describe('compileSeccomp refuses a profile the container could not start under', () => {
  it('denying everything (execve included) is a clear error, not a crashed init', () => {
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO' }, silentLogger))
      .toThrow("linux.seccomp: the profile denies execve, which the container's process must call after the filter is loaded");
  });

  it('denying exit_group alone is refused too; denying everything but those two is fine', () => {
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['exit_group'], action: 'SCMP_ACT_KILL' }] }, silentLogger))
      .toThrow('linux.seccomp: the profile denies exit_group');
    const f = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['execve', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] }, silentLogger);
    expect(evaluateFilter(f.program, { nr: NR.execve })).toBe(ALLOW);
  });
});
