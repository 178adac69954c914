import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FieldReader, Msg, SPAWN_CONSOLE_PAIR, SPAWN_SEALED, SPAWN_SETSID } from '../../src/server/protocol';
import { encodeRequest, FrameSplitter } from '../../src/init/protocol';

const header = readFileSync(join(__dirname, '..', '..', 'addon', 'client.h'), 'utf8');

/** MSG_READ_STDIN -> ReadStdin */
const pascal = (snake: string) => snake.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');

describe('addon/client.h and src/server/protocol.ts agree', () => {
  it('has the same message types with the same numbers', () => {
    const body = /enum\s+tsrunc_client_msg\s*\{([\s\S]*?)\};/.exec(header)?.[1] ?? '';
    const fromHeader = Object.fromEntries([...body.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/\bMSG_([A-Z_]+)\s*=\s*(\d+)/g)].map((m) => [pascal(m[1]), Number(m[2])]));
    const fromTs = Object.fromEntries(Object.entries(Msg).filter(([, v]) => typeof v === 'number'));
    expect(Object.keys(fromHeader).length).toBeGreaterThanOrEqual(9);
    expect(fromTs).toEqual(fromHeader);
  });

  it('has the same spawn flags', () => {
    const flags = Object.fromEntries([...header.matchAll(/^#define\s+(SPAWN_[A-Z_]+)\s+(\d+)u/gm)].map((m) => [m[1], Number(m[2])]));
    expect(flags).toEqual({ SPAWN_SETSID, SPAWN_SEALED, SPAWN_CONSOLE_PAIR });
  });
});

describe('frames between client and server', () => {
  it('a frame split anywhere, or two in one chunk, come out whole and in order', () => {
    const a = encodeRequest(Msg.Spawned as number, [1234n, -1, 7]);
    const b = encodeRequest(Msg.Hello as number, [['state', 'x'], ['A=1'], '/tmp', 42]);
    const bytes = Buffer.concat([a, b]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const s = new FrameSplitter();
      const frames = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(frames).toHaveLength(2);
      const spawned = new FieldReader(frames[0]);
      expect([spawned.u32(), spawned.i64(), spawned.i64(), spawned.i64()]).toEqual([Msg.Spawned, 1234, -1, 7]);
      const hello = new FieldReader(frames[1]);
      expect([hello.u32(), hello.strs(), hello.strs(), hello.str(), hello.u64()]).toEqual([Msg.Hello, ['state', 'x'], ['A=1'], '/tmp', 42n]);
    }
  });
});
