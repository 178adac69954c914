import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderHeader } from '../../src/build/gen-protocol';
import { Op, REQUESTS, cName, decodeReply, encodeRequest, opName, type RequestName } from '../../src/init/protocol';

const addon = join(__dirname, '..', '..', 'addon');
const names = Object.keys(REQUESTS) as RequestName[];

describe('the protocol table', () => {
  it('numbers every op uniquely, and names them in C as init.c does', () => {
    const ops = names.map((n) => REQUESTS[n].op);
    expect(new Set(ops).size).toBe(ops.length);
    expect(cName('SetNoNewPrivs')).toBe('OP_SET_NO_NEW_PRIVS');
    expect(cName('JoinNamespaces')).toBe('OP_JOIN_NAMESPACES');
    expect(Op.Finish).toBe(30);
    expect(opName(30)).toBe('Finish');
    expect(opName(19)).toBeUndefined();
  });

  it('the built header (addon/build/protocol.h) is what the table renders now (run `npm run build`)', () => {
    expect(readFileSync(join(addon, 'build', 'protocol.h'), 'utf8')).toBe(renderHeader());
  });

  it('the header defines each op with its number, and the OPT_ bits', () => {
    const header = renderHeader();
    for (const n of names) expect(header).toMatch(new RegExp(`^\\s*${cName(n)} = ${REQUESTS[n].op},`, 'm'));
    expect(header).toMatch(/^#define OPT_IN_ROOT 1u/m);
    expect(header).toMatch(/^#define OPT_SRC_IN_ROOT 2u/m);
    expect(header).toMatch(/^#define OPT_NO_FOLLOW 4u/m);
    expect(header).toMatch(/^#define OPT_COPY_UP 8u/m);
  });

  it('init.c handles every op of the table with a case, and no other', () => {
    const init = readFileSync(join(addon, 'init.c'), 'utf8');
    const cases = [...init.matchAll(/\bcase (OP_[A-Z0-9_]+):/g)].map((m) => m[1]).sort();
    expect(cases).toEqual(names.map(cName).sort());
  });

  it('init.c includes the generated header, and no hand-written copy is left', () => {
    expect(readFileSync(join(addon, 'init.c'), 'utf8')).toContain('#include "build/protocol.h"');
    expect(() => readFileSync(join(addon, 'protocol.h'))).toThrow();
  });
});

/** Little-endian helpers to build expected bytes by hand. */
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const str = (s: string | Buffer) => { const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'); return Buffer.concat([u32(b.length), b]); };

describe('encodeRequest', () => {
  it('frames a request with no fields as length + opcode', () => {
    expect(encodeRequest('Finish', []).toString('hex')).toBe('04000000' + '1e000000');
  });

  it('encodes numbers as u64, strings as u32 length + UTF-8 bytes (no NUL)', () => {
    const frame = encodeRequest('MkdirAll', ['/a/é', 0o755, 1]);
    const body = Buffer.concat([u32(Op.MkdirAll), u32(5), Buffer.from('/a/é'), u64(0o755n), u64(1n)]);
    expect(frame).toEqual(Buffer.concat([u32(body.length), body]));
    expect(frame.readUInt32LE(0)).toBe(4 + 4 + 5 + 8 + 8);
  });

  it('encodes negative numbers as 64-bit two\'s complement, bigints exactly', () => {
    const frame = encodeRequest('SetRlimit', [-1, 0xffffffffffffffffn, 1n << 40n]);
    expect(frame.subarray(8).toString('hex')).toBe('ffffffffffffffff' + 'ffffffffffffffff' + '0000000000010000');
  });

  it('encodes a Buffer as str, bytes unchanged', () => {
    const program = Buffer.from([0, 1, 2, 255]);
    expect(encodeRequest('SetSeccomp', [program, 0])).toEqual(
      Buffer.concat([u32(4 + 8 + 8), u32(Op.SetSeccomp), str(program), u64(0n)]),
    );
  });

  it('encodes string lists as count + strs', () => {
    const frame = encodeRequest('SetExec', [['sh', '-c', ''], [], '/']);
    const body = Buffer.concat([u32(Op.SetExec), u32(3), str('sh'), str('-c'), str(''), u32(0), str('/')]);
    expect(frame).toEqual(Buffer.concat([u32(body.length), body]));
  });
});

describe('encodeRequest follows the table', () => {
  it('encodes pairs as u64 count, then (u64, str) pairs', () => {
    const frame = encodeRequest('JoinNamespaces', [[[0x10000000, '/proc/1/ns/user'], [0x40000000n, '/x']]]);
    const body = Buffer.concat([u32(Op.JoinNamespaces), u64(2n), u64(0x10000000n), str('/proc/1/ns/user'), u64(0x40000000n), str('/x')]);
    expect(frame).toEqual(Buffer.concat([u32(body.length), body]));
  });

  it('refuses a value count or kind the table does not give (for callers the types do not reach)', () => {
    const untyped = encodeRequest as (name: string, values: unknown[]) => Buffer;
    expect(() => untyped('Clone', [])).toThrow('Clone: 0 values for 1 fields');
    expect(() => untyped('Clone', ['3'])).toThrow('Clone.flags: not a u64: string');
    expect(() => untyped('SetSeccomp', [42, 0])).toThrow('SetSeccomp.program: not a bytes: number');
    expect(() => untyped('SetUser', ['0', 0, -1, 1, []])).toThrow('SetUser.uid: not a id: string');
    expect(() => untyped('SetExec', ['sh', [], '/'])).toThrow('SetExec.args: not a strs: string');
  });
});

describe('decodeReply', () => {
  const reply = (errno: number, value: bigint, detail: string) => Buffer.concat([
    (() => { const b = Buffer.alloc(4); b.writeInt32LE(errno); return b; })(),
    (() => { const b = Buffer.alloc(8); b.writeBigInt64LE(value); return b; })(),
    str(detail),
  ]);

  it('reads i32 errno, i64 value, str detail', () => {
    expect(decodeReply(reply(0, 4242n, ''))).toEqual({ errno: 0, value: 4242, detail: '' });
    expect(decodeReply(reply(1, 0n, 'mount /proc'))).toEqual({ errno: 1, value: 0, detail: 'mount /proc' });
  });

  it('reads negative values and UTF-8 detail', () => {
    expect(decodeReply(reply(-5, -1n, 'ünï'))).toEqual({ errno: -5, value: -1, detail: 'ünï' });
  });

  it('ignores bytes after the detail', () => {
    expect(decodeReply(Buffer.concat([reply(2, 7n, 'ab'), Buffer.from('zz')]))).toEqual({ errno: 2, value: 7, detail: 'ab' });
  });
});
