/**
 * tsrunc-init's parsing of the request channel (addon/frame.h,
 * addon/request.h) with malformed, truncated and oversized frames:
 *
 * - addon/test/parser_test.c, built with AddressSanitizer and UBSan by
 *   `make -C addon build/parser-test`: every op's truncations, lengths past
 *   the end, NUL bytes in text, out-of-range ids and fds, list and namespace
 *   limits, read_msg on short and oversized frames, and 200000 randomly
 *   damaged requests (no read outside the body; what is accepted reads whole);
 * - the checker against the real encoder: every request src/init/channel.ts
 *   sends is accepted, and the same request damaged is refused;
 * - the real tsrunc-init binary on a socketpair: bad requests get an error
 *   reply and change nothing, it keeps serving, and an oversized frame ends it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { InitChannel } from '../../src/init/channel';
import { encodeRequest, FrameSplitter, Op, REQUESTS, decodeReply, opName, type Reply } from '../../src/init/protocol';

const repo = join(__dirname, '..', '..');
const PARSER_TEST = join(repo, 'addon', 'build', 'parser-test');
const INIT = join(repo, 'addon', 'build', 'tsrunc-init');
const EINVAL = 22;
const ENOSYS = 38;

beforeAll(() => {
  execFileSync('make', ['-s', '-C', join(repo, 'addon'), 'build/parser-test'], { stdio: 'pipe' });
}, 120_000);

describe('addon/test/parser_test.c (ASan + UBSan)', () => {
  it('passes every check, the fuzz run included', () => {
    const r = spawnSync(PARSER_TEST, [], { encoding: 'utf8', timeout: 110_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out.split('\n').filter((l) => l.startsWith('not ok') || l.includes('Sanitizer')), out.slice(-3000)).toEqual([]);
    const summary = /^summary (\d+) (\d+)$/m.exec(r.stdout);
    expect(summary, out.slice(-3000)).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThanOrEqual(300);
    expect(Number(summary![2])).toBe(0);
    expect(r.status, out.slice(-3000)).toBe(0);
  }, 120_000);
});

/** Every request InitChannel can send, recorded from a fake init that says yes to all. */
async function encodedRequests(): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  const ok = Buffer.alloc(20);
  ok.writeUInt32LE(16, 0);
  const splitter = new FrameSplitter();
  const stream: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      for (const body of splitter.push(chunk)) {
        frames.push(Buffer.concat([Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, (body.length >> 16) & 0xff, body.length >>> 24]), body]));
        setImmediate(() => stream.push(ok));
      }
      done();
    },
  });
  const c = new InitChannel(stream);
  await c.joinNamespaces([{ flag: 0x10000000, path: '/proc/1/ns/user' }, { flag: 0x40000000, path: '/run/netns/x' }]);
  await c.unshare(0x20000);
  await c.setCloneCgroup('/sys/fs/cgroup/ctr');
  await c.clone(0x20000);
  await c.writeFile('/proc/self/uid_map', '0 1000 1\n', false);
  await c.mount({ source: 'proc', target: '/proc', fstype: 'proc', flags: 6, data: 'hidepid=2', inRoot: true });
  await c.mount({ target: '/', flags: 0x80000 | 0x4000, inRoot: false });
  await c.umount('/old', 2, true);
  await c.mkdirAll('/a/b', 0o755, true);
  await c.mkfile('/etc/hosts', 0o644, true);
  await c.mknod('/dev/null', 0o20666, 0x103n, 4294967294, 0);
  await c.bindDevice('/dev/null', '/dev/null');
  await c.symlink('/proc/self/fd', '/dev/fd');
  await c.setRoot('/r');
  await c.pivotRoot('/r');
  await c.chroot('/r', true);
  await c.becomeRoot();
  await c.connectSocket('/run/console.sock');
  await c.sethostname('box');
  await c.setdomainname('example');
  await c.maskPath('/proc/kcore');
  await c.readonlyPath('/proc/sys');
  await c.setExec(['sh', '-c', 'echo é'], ['A=1', 'PATH=/bin'], '/');
  await c.setUser({ uid: 4294967294, gid: 1001, umask: 0o27, additionalGids: [5, 4294967294], setgroups: true });
  await c.setUser({ uid: 0, gid: 0, additionalGids: [], setgroups: false });
  await c.setCaps([1n, 2n, 3n, 4n, (1n << 41n) - 1n]);
  await c.setRlimit(7, 1024n, 0xffffffffffffffffn);
  await c.setNoNewPrivs();
  await c.setSeccomp(Buffer.from([6, 0, 0, 0, 0, 0, 0xff, 0x7f]), 0);
  await c.setSeccompListener(5, '{"ociVersion":"1.3.0"}');
  await c.setExecLabel('/proc/thread-self/attr/exec', 'unconfined');
  await c.setPersonality(8);
  await c.setAffinity(Buffer.from([0x0f, 0, 0, 0, 0, 0, 0, 0]));
  await c.setStartFifo('/run/tsrunc/ctr');
  await c.setPreserveFds(2);
  await c.setConsole(4, 24, 80);
  await c.addHook({ path: '/bin/hook', args: ['hook', 'a'], env: ['E=1'], timeout: 5, stdin: '{}' });
  await c.runHook({ path: '/bin/hook', args: [], env: [], timeout: 0, stdin: '{"pid":1}' });
  await c.joinSessionKeyring('_ses.ctr', 0x80000);
  await c.setDumpable(true);
  await c.loopbackUp();
  await c.openTree('/srv/vol', true, { uidMap: '0 1000 1\n', gidMap: '0 1000 1\n', recursive: false });
  await c.moveMount(7, '/data');
  await c.mountSetattr('/data', 1, 0);
  await c.finish().catch(() => {});
  return frames;
}

function check(frames: Buffer[]): { op: number; errno: number; why: string }[] {
  const r = spawnSync(PARSER_TEST, ['--check'], { input: Buffer.concat(frames), encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [op, errno, ...why] = l.split(' ');
      return { op: Number(op), errno: Number(errno), why: why.join(' ') };
    });
}

describe('request.h agrees with src/init/channel.ts', () => {
  it('accepts every request the TypeScript side sends, for every op', async () => {
    const frames = await encodedRequests();
    const verdicts = check(frames);
    expect(verdicts).toHaveLength(frames.length);
    expect(verdicts.filter((v) => v.errno !== 0).map((v) => `${opName(v.op)}: ${v.why}`)).toEqual([]);
    const all = Object.values(REQUESTS).map((r) => r.op);
    expect(all.filter((op) => !verdicts.some((v) => v.op === op)).map((op) => opName(op))).toEqual([]);
  });

  it('refuses each of them cut short by one byte, or with a byte too many', async () => {
    const frames = await encodedRequests();
    const damaged = frames.flatMap((f) => {
      const body = f.subarray(4);
      return [body.subarray(0, body.length - 1), Buffer.concat([body, Buffer.from([0])])].map((b) => encodeFrame(b));
    });
    const verdicts = check(damaged);
    expect(verdicts.filter((v) => v.errno !== EINVAL).map((v) => opName(v.op) ?? v.op)).toEqual([]);
  });

  it('refuses a path, argument or hostname with a NUL byte, and uid 2^32 (which C would truncate to root)', () => {
    const verdicts = check([
      encodeRequest('Mount', ['proc', '/proc\0/../../x', 'proc', 0, '', 1]),
      encodeRequest('SetExec', [['sh', '-c\0x'], [], '/']),
      encodeRequest('Sethostname', ['box\0evil']),
      encodeRequest('SetUser', [4294967296n, 0, -1n, 1, []]),
      encodeRequest('WriteFile', ['/proc/self/uid_map', 'a\0b', 0]),
    ]);
    expect(verdicts.map((v) => v.errno)).toEqual([EINVAL, EINVAL, EINVAL, EINVAL, 0]);
    expect(verdicts[0].why).toMatch(/NUL/);
    expect(verdicts[3].why).toMatch(/uid or gid/);
  });
});

function encodeFrame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(body.length);
  return Buffer.concat([h, body]);
}

/** The real tsrunc-init on a socketpair (fd 3), unprivileged: only requests that record settings. */
describe('tsrunc-init on bad requests', () => {
  it('answers each with an error, keeps serving, and exits on an oversized frame', async () => {
    const child = spawn(INIT, ['3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sock = child.stdio[3] as Duplex;
    const splitter = new FrameSplitter();
    const replies: Reply[] = [];
    let waiting: (() => void) | undefined;
    sock.on('data', (d: Buffer) => {
      for (const body of splitter.push(d)) replies.push(decodeReply(body));
      waiting?.();
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const ask = async (frame: Buffer): Promise<Reply> => {
      const n = replies.length;
      sock.write(frame);
      while (replies.length === n) await new Promise<void>((res) => (waiting = res));
      return replies[n];
    };
    const mount = encodeRequest('Mount', ['proc', '/proc', 'proc', 0, '', 1]);
    expect(await ask(encodeFrame(mount.subarray(4, mount.length - 3)))).toMatchObject({ errno: EINVAL, detail: expect.stringMatching(/past the end/) });
    expect(await ask(encodeRequest('MkdirAll', ['/tmp/x\0y', 0o755, 0]))).toMatchObject({ errno: EINVAL, detail: expect.stringMatching(/NUL/) });
    expect(await ask(encodeFrame(Buffer.from([99, 0, 0, 0])))).toMatchObject({ errno: ENOSYS });
    expect(await ask(encodeFrame(Buffer.from([30, 0])))).toMatchObject({ errno: EINVAL });
    expect(await ask(encodeRequest('SetUser', [1000, 1000, -1n, 1, ['5', 'x7']]))).toMatchObject({ errno: EINVAL, detail: expect.stringMatching(/group id/) });
    expect(await ask(encodeRequest('SetUser', [1000, 1000, -1n, 1, ['5', '7']]))).toMatchObject({ errno: 0 });
    expect(await ask(encodeRequest('SetNoNewPrivs', []))).toMatchObject({ errno: 0 });
    // 64 MiB + 1: refused from the header; the stream cannot be resynchronised, so the init ends.
    sock.write(Buffer.from([1, 0, 0, 4]));
    expect(await exited).toBe(1);
  }, 30_000);
});
