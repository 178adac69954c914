import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, messageLength, MessageType, Reader, splitSignature, variant, Writer } from '../../src/dbus/marshal';

const hex = (b: Buffer) => b.toString('hex');
const marshal = (sig: string, values: unknown[], le = true) => {
  const w = new Writer(le);
  w.values(sig, values);
  return w.result();
};
const unmarshal = (sig: string, b: Buffer, le = true) => new Reader(b, le).values(sig);

describe('splitSignature', () => {
  it('splits complete types', () => {
    expect(splitSignature('ssa(sv)a(sa(sv))')).toEqual(['s', 's', 'a(sv)', 'a(sa(sv))']);
    expect(splitSignature('a{sv}ia{s(ii)}')).toEqual(['a{sv}', 'i', 'a{s(ii)}']);
    expect(splitSignature('')).toEqual([]);
  });

  it.each(['a', '(i', '()', 'a{vs}', 'a{sss}', '{sv}', 'z', 'a{s}', 'i)'])('refuses %j', (sig) => {
    expect(() => splitSignature(sig)).toThrow(/signature/);
  });
});

describe('marshalling', () => {
  it('writes basic types with the specification\'s alignment', () => {
    expect(hex(marshal('s', ['ab']))).toBe('02000000' + '616200');
    // a byte, then a uint64 aligned to 8
    expect(hex(marshal('yt', [1, 2n]))).toBe('01' + '00'.repeat(7) + '0200000000000000');
    expect(hex(marshal('bn', [true, -2]))).toBe('01000000' + 'feff');
    expect(hex(marshal('g', ['a(sv)']))).toBe('05' + Buffer.from('a(sv)').toString('hex') + '00');
    expect(hex(marshal('o', ['/org/x']))).toBe('06000000' + Buffer.from('/org/x').toString('hex') + '00');
    expect(hex(marshal('u', [0xdeadbeef], false))).toBe('deadbeef');
  });

  it('pads an empty array to its element alignment, outside the length', () => {
    expect(hex(marshal('at', [[]]))).toBe('00000000' + '00000000');
    expect(hex(marshal('at', [[1n]]))).toBe('08000000' + '00000000' + '0100000000000000');
    // an array of structs: the length counts from the first (8-aligned) struct
    expect(hex(marshal('a(y)', [[[7], [8]]]))).toBe('09000000' + '00000000' + '07' + '00'.repeat(7) + '08');
  });

  it('writes a variant as its signature then its value', () => {
    expect(hex(marshal('v', [variant('u', 5)]))).toBe('01' + '7500' + '00' + '05000000');
    expect(hex(marshal('v', [variant('b', true)]))).toBe('01620000' + '01000000');
  });

  it('round-trips what systemd calls take and give', () => {
    const props = [
      ['Description', variant('s', 'tsrunc container x')],
      ['PIDs', variant('au', [1234])],
      ['MemoryMax', variant('t', 2n ** 64n - 1n)],
      ['AllowedCPUs', variant('ay', [3])],
      ['DeviceAllow', variant('a(ss)', [['/dev/char/1:3', 'rwm']])],
      ['Delegate', variant('b', true)],
    ];
    const sig = 'ssa(sv)a(sa(sv))';
    const values = ['tsrunc-x.scope', 'replace', props, [['aux.scope', [['Slice', variant('s', 'a.slice')]]]]];
    for (const le of [true, false]) expect(unmarshal(sig, marshal(sig, values, le), le)).toEqual(values);
    const dict = [['a', variant('x', -5n)], ['b', variant('d', 1.5)], ['c', variant('v', variant('q', 65535))]];
    expect(unmarshal('a{sv}', marshal('a{sv}', [dict]))).toEqual([dict]);
  });

  it('accepts safe integers for 64-bit types and refuses what does not fit', () => {
    expect(unmarshal('t', marshal('t', [5]))).toEqual([5n]);
    expect(() => marshal('t', [-1])).toThrow(/does not fit/);
    expect(() => marshal('t', [2 ** 60])).toThrow(/bigint/);
    expect(() => marshal('y', [256])).toThrow(/does not fit/);
    expect(() => marshal('i', [1.5])).toThrow(/does not fit/);
    expect(() => marshal('s', [5])).toThrow(/not a string/);
    expect(() => marshal('s', ['a\0b'])).toThrow(/NUL/);
    expect(() => marshal('o', ['not/a/path'])).toThrow(/object path/);
    expect(() => marshal('(ss)', [['a']])).toThrow(/struct/);
    expect(() => marshal('v', [variant('ss', ['a', 'b'])])).toThrow(/one complete type/);
    expect(() => marshal('ss', ['a'])).toThrow(/needs 2 values/);
  });

  it('refuses malformed input', () => {
    expect(() => unmarshal('u', Buffer.from('0100', 'hex'))).toThrow(/truncated/);
    expect(() => unmarshal('b', Buffer.from('02000000', 'hex'))).toThrow(/boolean/);
    expect(() => unmarshal('yu', Buffer.from('0101000005000000', 'hex'))).toThrow(/padding/);
    expect(() => unmarshal('s', Buffer.from('0100000061ff', 'hex'))).toThrow(/NUL/);
    expect(() => unmarshal('ay', Buffer.from('ffffff7f', 'hex'))).toThrow(/array/);
    expect(() => unmarshal('v', Buffer.from('02737300', 'hex'))).toThrow(/complete type/);
  });
});

describe('messages', () => {
  it('encodes a method call that decodes to the same fields', () => {
    const buf = encodeMessage({
      type: MessageType.METHOD_CALL, flags: 0, serial: 7, destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1',
      interface: 'org.freedesktop.systemd1.Manager', member: 'StopUnit', signature: 'ss', body: ['x.scope', 'replace'],
    });
    expect(buf[0]).toBe(0x6c);
    expect(messageLength(buf)).toBe(buf.length);
    expect(messageLength(buf.subarray(0, 15))).toBeUndefined();
    const m = decodeMessage(buf);
    expect(m).toMatchObject({
      type: 1, flags: 0, serial: 7, destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1',
      interface: 'org.freedesktop.systemd1.Manager', member: 'StopUnit', signature: 'ss', body: ['x.scope', 'replace'],
    });
  });

  it('decodes a big-endian message', () => {
    // A signal as a big-endian peer would send it: header fields then an 8-aligned body.
    const w = new Writer(false);
    const body = new Writer(false);
    body.values('uoss', [12, '/org/freedesktop/systemd1/job/12', 'x.scope', 'done']);
    const b = body.result();
    w.u8(0x42); w.u8(4); w.u8(0); w.u8(1); w.u32(b.length); w.u32(99);
    w.value('a(yv)', [[1, variant('o', '/org/freedesktop/systemd1')], [3, variant('s', 'JobRemoved')], [8, variant('g', 'uoss')]]);
    w.align(8);
    w.bytes(b);
    const m = decodeMessage(w.result());
    expect(m).toMatchObject({ type: 4, serial: 99, member: 'JobRemoved', body: [12, '/org/freedesktop/systemd1/job/12', 'x.scope', 'done'] });
  });

  it('refuses a message whose lengths disagree', () => {
    const buf = encodeMessage({ type: MessageType.SIGNAL, flags: 0, serial: 1, path: '/a', interface: 'a.b', member: 'C', signature: 'u', body: [1] });
    expect(() => decodeMessage(buf.subarray(0, buf.length - 1))).toThrow(/truncated/);
    const bad = Buffer.from(buf);
    bad[0] = 0x41;
    expect(() => messageLength(bad)).toThrow(/endianness/);
  });
});
