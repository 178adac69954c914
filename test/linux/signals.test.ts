import { describe, expect, it } from 'vitest';
import { parseSignal, signalName } from '../../src/linux/signals';
import { TsruncError } from '../../src/sys/errors';

describe('parseSignal', () => {
  it('accepts names with or without SIG, in any case, with spaces around', () => {
    for (const s of ['KILL', 'SIGKILL', 'sigkill', 'kill', 'SigKill', ' KILL ', '9']) expect(parseSignal(s), s).toBe(9);
    expect(parseSignal('TERM')).toBe(15);
    expect(parseSignal('SIGHUP')).toBe(1);
    expect(parseSignal('usr1')).toBe(10);
    expect(parseSignal('WINCH')).toBe(28);
    expect(parseSignal('CHLD')).toBe(17);
    expect(parseSignal('IOT')).toBe(6);
  });

  it('accepts numbers from 1 to 64', () => {
    expect(parseSignal('1')).toBe(1);
    expect(parseSignal('64')).toBe(64);
    expect(parseSignal('40')).toBe(40);
  });

  it('accepts 0 (kill ID 0: is it there?)', () => {
    expect(parseSignal('0')).toBe(0);
  });

  it('refuses numbers out of range', () => {
    expect(() => parseSignal('65')).toThrow(new TsruncError('invalid signal "65": out of range 0-64'));
  });

  it('resolves real-time signals as glibc numbers them (SIGRTMIN = 34)', () => {
    expect(parseSignal('RTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN')).toBe(34);
    expect(parseSignal('RTMIN+3')).toBe(37);
    expect(parseSignal('sigrtmin+30')).toBe(64);
    expect(parseSignal('RTMAX')).toBe(64);
    expect(parseSignal('RTMAX-2')).toBe(62);
    expect(parseSignal('RTMAX-30')).toBe(34);
  });

  it('refuses real-time offsets that leave the range', () => {
    expect(() => parseSignal('RTMIN+31')).toThrow('invalid signal "RTMIN+31": out of range 34-64');
    expect(() => parseSignal('RTMAX-31')).toThrow('invalid signal "RTMAX-31": out of range 34-64');
    expect(() => parseSignal('RTMAX+1')).toThrow('out of range');
  });

  it('refuses unknown names and other text', () => {
    for (const s of ['NOPE', 'SIGSIGKILL', '-9', '9x', '', 'RTMIN+']) {
      expect(() => parseSignal(s), s).toThrow(TsruncError);
    }
    expect(() => parseSignal('NOPE')).toThrow('invalid signal "NOPE": unknown signal name');
  });
});

describe('signalName', () => {
  it('names a signal by its first Node name', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(29)).toBe('SIGIO');
  });

  it('falls back to the number for real-time and unknown signals', () => {
    expect(signalName(34)).toBe('signal 34');
    expect(signalName(0)).toBe('signal 0');
  });
});
