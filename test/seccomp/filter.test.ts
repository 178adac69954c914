import { describe, expect, it } from 'vitest';
import { ACTIONS, compileSeccomp, FLAGS, libseccompArch } from '../../src/seccomp/filter';
import { silentLogger } from '../../src/sys/log';
import { TsruncError } from '../../src/sys/errors';

// libseccomp only builds and exports BPF here: no root, nothing loaded.
describe('compileSeccomp', () => {
  it('exports a BPF program (8-byte instructions) with the flags to load it with', () => {
    const f = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }, silentLogger);
    expect(f.program.length % 8).toBe(0);
    expect(f.program.length).toBeGreaterThan(8);
    expect(f.flags).toBe(FLAGS.SECCOMP_FILTER_FLAG_LOG);
    expect(f.notify).toBe(false);
  });

  it('more rules make a longer program; a rule equal to the default adds nothing', () => {
    const base = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }, silentLogger).program.length;
    const same = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }] }, silentLogger).program.length;
    const more = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'rmdir'], action: 'SCMP_ACT_ERRNO' }] }, silentLogger).program.length;
    expect(same).toBe(base);
    expect(more).toBeGreaterThan(base);
  });

  it('NOTIFY anywhere asks for a listener fd (NEW_LISTENER) and drops TSYNC, meaningless for one thread', () => {
    const f = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, silentLogger);
    expect(f.notify).toBe(true);
    expect(f.flags).toBe(FLAGS.SECCOMP_FILTER_FLAG_NEW_LISTENER);
  });

  it('skips syscall names this architecture does not know, and says so at debug level', () => {
    const lines: string[] = [];
    const log = { ...silentLogger, debug: (m: string) => lines.push(m) } as typeof silentLogger;
    compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['no_such_call', 'mkdir'], action: 'SCMP_ACT_ERRNO' }] }, log);
    expect(lines).toEqual(['seccomp: syscall no_such_call is unknown on this architecture, skipped']);
  });

  it('refuses unknown actions, operators, architectures and flags, naming where', () => {
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOPE' }, silentLogger)).toThrow(new TsruncError('linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_NOPE"'));
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_NOPE' }] }] }, silentLogger))
      .toThrow('linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_NOPE"');
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_PDP11'] }, silentLogger)).toThrow(/unknown architecture "SCMP_ARCH_PDP11"/);
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NOPE'] }, silentLogger)).toThrow(/unknown flag "SECCOMP_FILTER_FLAG_NOPE"/);
  });

  it('maps actions as libseccomp encodes them', () => {
    expect(ACTIONS.SCMP_ACT_ERRNO(13)).toBe(0x0005000d);
    expect(ACTIONS.SCMP_ACT_ERRNO()).toBe(0x00050001);
    expect(ACTIONS.SCMP_ACT_TRACE(5)).toBe(0x7ff00005);
    expect(ACTIONS.SCMP_ACT_KILL_PROCESS()).toBe(0x80000000);
    expect(libseccompArch('SCMP_ARCH_X86_64')).toBe('x86_64');
  });
});
