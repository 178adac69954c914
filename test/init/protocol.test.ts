import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as protocol from '../../src/init/protocol';
import { Op, decodeReply, encodeRequest } from '../../src/init/protocol';

const header = readFileSync(join(__dirname, '..', '..', 'addon', 'protocol.h'), 'utf8');

/** OP_SET_NO_NEW_PRIVS -> SetNoNewPrivs */
const pascal = (snake: string) => snake.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');

function headerOps(): Map<string, number> {
  const body = /enum\s+tsrunc_op\s*\{([\s\S]*?)\};/.exec(header)?.[1];
  if (!body) throw new Error('enum tsrunc_op not found in protocol.h');
  const ops = new Map<string, number>();
  for (const m of body.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/\bOP_([A-Z0-9_]+)\s*=\s*(\d+)\s*,?/g)) ops.set(pascal(m[1]), Number(m[2]));
  return ops;
}

function headerDefines(): Map<string, number> {
  const defines = new Map<string, number>();
  for (const m of header.matchAll(/^#define\s+(OPT_[A-Z0-9_]+)\s+(0x[0-9a-fA-F]+|\d+)u?\b/gm)) defines.set(m[1], Number(m[2]));
  return defines;
}

function tsOps(): Map<string, number> {
  return new Map(Object.entries(Op).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

describe('addon/protocol.h and src/init/protocol.ts agree', () => {
  it('the header parses into a plausible set of ops', () => {
    const ops = headerOps();
    expect(ops.size).toBeGreaterThanOrEqual(30);
    expect(ops.get('JoinNamespaces')).toBe(1);
    expect(ops.get('Finish')).toBe(30);
  });

  it('has the same ops with the same numbers', () => {
    expect(Object.fromEntries(tsOps())).toEqual(Object.fromEntries(headerOps()));
  });

  it('numbers every op uniquely', () => {
    const values = [...headerOps().values()];
    expect(new Set(values).size).toBe(values.length);
  });

  it('has the same OPT_* bits', () => {
    const defines = headerDefines();
    expect(defines.size).toBeGreaterThanOrEqual(3);
    const ts = Object.fromEntries(Object.entries(protocol).filter(([k]) => k.startsWith('OPT_')));
    expect(ts).toEqual(Object.fromEntries(defines));
    expect(ts).toEqual({ OPT_IN_ROOT: 1, OPT_SRC_IN_ROOT: 2, OPT_NO_FOLLOW: 4, OPT_COPY_UP: 8 });
  });
});

/** Little-endian helpers to build expected bytes by hand. */
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const str = (s: string | Buffer) => { const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'); return Buffer.concat([u32(b.length), b]); };

describe('encodeRequest', () => {
  it('frames a request with no fields as length + opcode', () => {
    expect(encodeRequest(Op.Finish, []).toString('hex')).toBe('04000000' + '1e000000');
  });

  it('encodes numbers as u64, strings as u32 length + UTF-8 bytes (no NUL)', () => {
    const frame = encodeRequest(Op.MkdirAll, ['/a/é', 0o755, 1]);
    const body = Buffer.concat([u32(Op.MkdirAll), u32(5), Buffer.from('/a/é'), u64(0o755n), u64(1n)]);
    expect(frame).toEqual(Buffer.concat([u32(body.length), body]));
    expect(frame.readUInt32LE(0)).toBe(4 + 4 + 5 + 8 + 8);
  });

  it('encodes negative numbers as 64-bit two\'s complement, bigints exactly', () => {
    const frame = encodeRequest(Op.SetRlimit, [-1, 0xffffffffffffffffn, 1n << 40n]);
    expect(frame.subarray(8).toString('hex')).toBe('ffffffffffffffff' + 'ffffffffffffffff' + '0000000000010000');
  });

  it('encodes a Buffer as str, bytes unchanged', () => {
    const program = Buffer.from([0, 1, 2, 255]);
    expect(encodeRequest(Op.SetSeccomp, [program, 0])).toEqual(
      Buffer.concat([u32(4 + 8 + 8), u32(Op.SetSeccomp), str(program), u64(0n)]),
    );
  });

  it('encodes string lists as count + strs', () => {
    const frame = encodeRequest(Op.SetExec, [['sh', '-c', ''], [], '/']);
    const body = Buffer.concat([u32(Op.SetExec), u32(3), str('sh'), str('-c'), str(''), u32(0), str('/')]);
    expect(frame).toEqual(Buffer.concat([u32(body.length), body]));
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
