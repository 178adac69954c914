/**
 * InitChannel against a fake tsrunc-init: a Duplex stream that records each
 * request frame and answers it with the next queued reply. Requests are
 * decoded with the field types the protocol table (src/init/protocol.ts) gives each op, written out here by hand.
 */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InitChannel } from '../../src/init/channel';
import { Op, OPT_COPY_UP, OPT_IN_ROOT, OPT_SRC_IN_ROOT, REQUESTS, opName } from '../../src/init/protocol';
import { MS } from '../../src/linux/constants';
import { SyscallError, TsruncError } from '../../src/sys/errors';

type FieldType = 'u64' | 'str' | 'strs';
type Value = bigint | string | string[];

function replyFrame(errno = 0, value = 0n, detail = ''): Buffer {
  const d = Buffer.from(detail);
  const frame = Buffer.alloc(20 + d.length);
  frame.writeUInt32LE(16 + d.length, 0);
  frame.writeInt32LE(errno, 4);
  frame.writeBigInt64LE(value, 8);
  frame.writeUInt32LE(d.length, 16);
  d.copy(frame, 20);
  return frame;
}

/** The init's side of the channel. */
class FakeInit {
  /** Each request: its opcode and raw fields. */
  readonly requests: { op: number; fields: Buffer }[] = [];
  /** Replies to send, one per request, in order; none left: no answer. */
  readonly replies: Buffer[] = [];
  readonly stream: Duplex;
  private pending = Buffer.alloc(0);

  constructor() {
    this.stream = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, done) => {
        this.pending = Buffer.concat([this.pending, chunk]);
        while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readUInt32LE(0)) {
          const body = this.pending.subarray(4, 4 + this.pending.readUInt32LE(0));
          this.pending = this.pending.subarray(4 + body.length);
          this.requests.push({ op: body.readUInt32LE(0), fields: Buffer.from(body.subarray(4)) });
          const reply = this.replies.shift();
          if (reply) setImmediate(() => this.stream.push(reply));
        }
        done();
      },
    });
  }

  reply(errno = 0, value = 0n, detail = ''): this {
    this.replies.push(replyFrame(errno, value, detail));
    return this;
  }

  /** The init exits: EOF on the channel. */
  exit(): void {
    this.stream.push(null);
  }
}

function connected(): { init: FakeInit; channel: InitChannel } {
  const init = new FakeInit();
  return { init, channel: new InitChannel(init.stream) };
}

function decode(fields: Buffer, types: FieldType[]): Value[] {
  let off = 0;
  const str = () => {
    const len = fields.readUInt32LE(off);
    const s = fields.subarray(off + 4, off + 4 + len).toString('utf8');
    off += 4 + len;
    return s;
  };
  const out = types.map((t): Value => {
    if (t === 'u64') {
      const v = fields.readBigUInt64LE(off);
      off += 8;
      return v;
    }
    if (t === 'str') return str();
    const n = fields.readUInt32LE(off);
    off += 4;
    return Array.from({ length: n }, str);
  });
  expect(off, 'the request has more fields than the table lists').toBe(fields.length);
  return out;
}

const ALL_ONES = 0xffffffffffffffffn;

// One row per op: the call, then the op and the fields the protocol table gives it.
const cases: [string, (c: InitChannel) => Promise<unknown>, number, FieldType[], Value[]][] = [
  ['unshare', (c) => c.unshare(0x2000000), Op.Unshare, ['u64'], [0x2000000n]],
  ['setCloneCgroup', (c) => c.setCloneCgroup('/sys/fs/cgroup/ctr'), Op.SetCloneCgroup, ['str'], ['/sys/fs/cgroup/ctr']],
  ['clone', (c) => c.clone(0x20000), Op.Clone, ['u64'], [0x20000n]],
  ['writeFile', (c) => c.writeFile('/proc/sys/x', '1', true), Op.WriteFile, ['str', 'str', 'u64'], ['/proc/sys/x', '1', 1n]],
  ['writeFile on the host', (c) => c.writeFile('/proc/self/timens_offsets', 'x', false), Op.WriteFile, ['str', 'str', 'u64'], ['/proc/self/timens_offsets', 'x', 0n]],
  ['mount', (c) => c.mount({ source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID, data: 'hidepid=2', inRoot: true }),
    Op.Mount, ['str', 'str', 'str', 'u64', 'str', 'u64'], ['proc', '/proc', 'proc', 2n, 'hidepid=2', 1n]],
  ['mount with defaults', (c) => c.mount({ target: '/', flags: MS.SLAVE | MS.REC, inRoot: false }),
    Op.Mount, ['str', 'str', 'str', 'u64', 'str', 'u64'], ['', '/', '', BigInt(MS.SLAVE | MS.REC), '', 0n]],
  ['mount with source in root', (c) => c.mount({ source: '/a', target: '/b', flags: MS.BIND, inRoot: true, sourceInRoot: true }),
    Op.Mount, ['str', 'str', 'str', 'u64', 'str', 'u64'], ['/a', '/b', '', BigInt(MS.BIND), '', BigInt(OPT_IN_ROOT | OPT_SRC_IN_ROOT)]],
  ['mount with tmpcopyup', (c) => c.mount({ source: 'tmpfs', target: '/run', fstype: 'tmpfs', flags: 0, inRoot: true, copyUp: true }),
    Op.Mount, ['str', 'str', 'str', 'u64', 'str', 'u64'], ['tmpfs', '/run', 'tmpfs', 0n, '', BigInt(OPT_IN_ROOT | OPT_COPY_UP)]],
  ['loopbackUp', (c) => c.loopbackUp(), Op.LoopbackUp, [], []],
  ['openTree', (c) => c.openTree('/srv/vol', true), Op.OpenTree, ['str', 'u64', 'str', 'str', 'u64'], ['/srv/vol', 1n, '', '', 0n]],
  ['openTree id-mapped', (c) => c.openTree('/srv/vol', false, { uidMap: '0 1000 1\n', gidMap: '0 1001 1\n', recursive: true }),
    Op.OpenTree, ['str', 'u64', 'str', 'str', 'u64'], ['/srv/vol', 0n, '0 1000 1\n', '0 1001 1\n', 1n]],
  ['mountSetattr', (c) => c.mountSetattr('/data', 0x1, 0x70), Op.MountSetattr, ['str', 'u64', 'u64', 'u64'], ['/data', 1n, 0x70n, 1n]],
  ['moveMount', (c) => c.moveMount(7, '/data'), Op.MoveMount, ['u64', 'str', 'u64'], [7n, '/data', 1n]],
  ['umount', (c) => c.umount('/old', 2, true), Op.Umount, ['str', 'u64', 'u64'], ['/old', 2n, 1n]],
  ['mkdirAll', (c) => c.mkdirAll('/a/b', 0o755, true), Op.MkdirAll, ['str', 'u64', 'u64'], ['/a/b', 0o755n, 1n]],
  ['mkfile', (c) => c.mkfile('/etc/hosts', 0o644, false), Op.Mkfile, ['str', 'u64', 'u64'], ['/etc/hosts', 0o644n, 0n]],
  ['mknod', (c) => c.mknod('/dev/null', 0o20666, 0x103n, 1, 2), Op.Mknod, ['str', 'u64', 'u64', 'u64', 'u64', 'u64'], ['/dev/null', 0o20666n, 0x103n, 1n, 2n, 1n]],
  ['bindDevice', (c) => c.bindDevice('/dev/null', '/dev/null'), Op.BindDevice, ['str', 'str'], ['/dev/null', '/dev/null']],
  ['symlink', (c) => c.symlink('/proc/self/fd', '/dev/fd'), Op.Symlink, ['str', 'str', 'u64'], ['/proc/self/fd', '/dev/fd', 1n]],
  ['setRoot', (c) => c.setRoot('/r'), Op.SetRoot, ['str'], ['/r']],
  ['pivotRoot', (c) => c.pivotRoot('/r'), Op.PivotRoot, ['str'], ['/r']],
  ['chroot --no-pivot', (c) => c.chroot('/r', true), Op.Chroot, ['str', 'u64'], ['/r', 1n]],
  ['chroot without a mount namespace', (c) => c.chroot('/r', false), Op.Chroot, ['str', 'u64'], ['/r', 0n]],
  ['becomeRoot', (c) => c.becomeRoot(), Op.BecomeRoot, [], []],
  ['setDumpable', (c) => c.setDumpable(true), Op.SetDumpable, ['u64'], [1n]],
  ['connectSocket', (c) => c.connectSocket('/run/console.sock'), Op.ConnectSocket, ['str'], ['/run/console.sock']],
  ['sethostname', (c) => c.sethostname('box'), Op.Sethostname, ['str'], ['box']],
  ['setdomainname', (c) => c.setdomainname('example'), Op.Setdomainname, ['str'], ['example']],
  ['maskPath', (c) => c.maskPath('/proc/kcore'), Op.MaskPath, ['str'], ['/proc/kcore']],
  ['readonlyPath', (c) => c.readonlyPath('/proc/sys'), Op.ReadonlyPath, ['str'], ['/proc/sys']],
  ['setExec', (c) => c.setExec(['sh', '-c', 'x'], ['A=1'], '/w'), Op.SetExec, ['strs', 'strs', 'str'], [['sh', '-c', 'x'], ['A=1'], '/w']],
  ['setUser', (c) => c.setUser({ uid: 1000, gid: 1001, umask: 0o27, additionalGids: [5, 1002], setgroups: true }),
    Op.SetUser, ['u64', 'u64', 'u64', 'u64', 'strs'], [1000n, 1001n, 0o27n, 1n, ['5', '1002']]],
  ['setUser without umask or setgroups', (c) => c.setUser({ uid: 0, gid: 0, additionalGids: [], setgroups: false }),
    Op.SetUser, ['u64', 'u64', 'u64', 'u64', 'strs'], [0n, 0n, ALL_ONES, 0n, []]],
  ['setCaps', (c) => c.setCaps([1n, 2n, 3n, 4n, 1n << 40n]), Op.SetCaps, ['u64', 'u64', 'u64', 'u64', 'u64'], [1n, 2n, 3n, 4n, 1n << 40n]],
  ['setRlimit', (c) => c.setRlimit(7, 1024n, ALL_ONES), Op.SetRlimit, ['u64', 'u64', 'u64'], [7n, 1024n, ALL_ONES]],
  ['setNoNewPrivs', (c) => c.setNoNewPrivs(), Op.SetNoNewPrivs, [], []],
  ['joinSessionKeyring', (c) => c.joinSessionKeyring('_ses.x', 0x80000), Op.JoinSessionKeyring, ['str', 'u64'], ['_ses.x', 0x80000n]],
  ['setSeccomp', (c) => c.setSeccomp(Buffer.from('abcdefgh'), 8), Op.SetSeccomp, ['str', 'u64'], ['abcdefgh', 8n]],
  ['setSeccompListener', (c) => c.setSeccompListener(5, '{"pid":1}'), Op.SetSeccompListener, ['u64', 'str'], [5n, '{"pid":1}']],
  ['setExecLabel', (c) => c.setExecLabel('/proc/thread-self/attr/exec', 'exec prof'), Op.SetExecLabel, ['str', 'str'], ['/proc/thread-self/attr/exec', 'exec prof']],
  ['setPersonality', (c) => c.setPersonality(8), Op.SetPersonality, ['u64'], [8n]],
  ['setAffinity', (c) => c.setAffinity(Buffer.from([0x0f])), Op.SetAffinity, ['str'], ['\x0f']],
  ['setStartFifo', (c) => c.setStartFifo('/run/tsrunc/ctr'), Op.SetStartFifo, ['str'], ['/run/tsrunc/ctr']],
  ['setPreserveFds', (c) => c.setPreserveFds(2), Op.SetPreserveFds, ['u64'], [2n]],
  ['setConsole', (c) => c.setConsole(4, 24, 80), Op.SetConsole, ['u64', 'u64', 'u64'], [4n, 24n, 80n]],
  ['addHook', (c) => c.addHook({ path: '/bin/hook', args: ['hook', 'a'], env: ['E=1'], timeout: 5, stdin: '{}' }),
    Op.AddHook, ['strs', 'strs', 'u64', 'str'], [['/bin/hook', 'hook', 'a'], ['E=1'], 5n, '{}']],
  ['runHook without args: argv is the path', (c) => c.runHook({ path: '/bin/hook', args: [], env: [], timeout: 0, stdin: 's' }),
    Op.RunHook, ['strs', 'strs', 'u64', 'str'], [['/bin/hook', '/bin/hook'], [], 0n, 's']],
  ['finish', (c) => c.finish(), Op.Finish, [], []],
];

describe('InitChannel requests', () => {
  it.each(cases)('%s', async (_, call, op, types, values) => {
    const { init, channel } = connected();
    init.reply();
    await call(channel);
    expect(init.requests).toHaveLength(1);
    expect(opName(init.requests[0].op)).toBe(opName(op));
    expect(decode(init.requests[0].fields, types)).toEqual(values);
  });

  it('joinNamespaces: u64 count, then (u64 flag, str path) pairs', async () => {
    const { init, channel } = connected();
    init.reply();
    await channel.joinNamespaces([{ flag: 0x10000000, path: '/proc/1/ns/user' }, { flag: 0x40000000, path: '/run/netns/x' }]);
    expect(init.requests[0].op).toBe(Op.JoinNamespaces);
    expect(decode(init.requests[0].fields, ['u64', 'u64', 'str', 'u64', 'str'])).toEqual([2n, 0x10000000n, '/proc/1/ns/user', 0x40000000n, '/run/netns/x']);
  });

  it('covers every op of the protocol', () => {
    const tested = new Set([...cases.map((c) => c[2]), Op.JoinNamespaces]);
    const all = Object.values(REQUESTS).map((r) => r.op);
    expect(all.filter((op) => !tested.has(op)).map(opName)).toEqual([]);
  });

  it('sends one request at a time, each after the previous reply', async () => {
    const { init, channel } = connected();
    init.reply().reply(0, 4242n).reply();
    await channel.setStartFifo('/run/x');
    expect(await channel.clone(0)).toBe(4242);
    await channel.finish();
    expect(init.requests.map((r) => opName(r.op))).toEqual(['SetStartFifo', 'Clone', 'Finish']);
  });
});

describe('InitChannel replies', () => {
  it('resolves to the reply value (clone: the child pid; connectSocket: the fd)', async () => {
    const { init, channel } = connected();
    init.reply(0, 4242n).reply(0, 7n);
    expect(await channel.clone(0)).toBe(4242);
    expect(await channel.connectSocket('/s')).toBe(7);
  });

  it('turns an errno reply into a SyscallError naming the step and the detail', async () => {
    const { init, channel } = connected();
    init.reply(1, 0n, 'mount(2)');
    const err = await channel.mount({ source: 'proc', target: '/proc', fstype: 'proc', flags: 0, inRoot: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).errno).toBe(1);
    expect((err as SyscallError).step).toBe('mount proc on /proc');
    expect((err as Error).message).toBe('mount proc on /proc: mount(2): EPERM (operation not permitted)');
  });

  it('names a remount as such, and omits an empty detail', async () => {
    const { init, channel } = connected();
    init.reply(13);
    await expect(channel.mount({ target: '/sys', flags: MS.REMOUNT | MS.BIND | MS.RDONLY, inRoot: true })).rejects.toThrow('remount /sys: EACCES (permission denied)');
  });

  it('keeps serving after an error reply', async () => {
    const { init, channel } = connected();
    init.reply(2).reply(0, 7n);
    await expect(channel.maskPath('/x')).rejects.toThrow('mask /x: ENOENT (no such file or directory)');
    expect(await channel.clone(0)).toBe(7);
  });

  it('reports a dead init when the channel ends while waiting', async () => {
    const { init, channel } = connected();
    const pending = channel.setRoot('/r');
    init.exit();
    await expect(pending).rejects.toThrow(new TsruncError("open rootfs /r: the container's init process exited"));
  });

  it('reports a dead init for requests after the end, without writing them', async () => {
    const { init, channel } = connected();
    init.exit();
    await new Promise((r) => setImmediate(r));
    await expect(channel.finish()).rejects.toThrow("set up the process: the container's init process exited");
    expect(init.requests).toEqual([]);
  });

  it('reports a dead init when the channel is destroyed', async () => {
    const { channel } = connected();
    const pending = channel.pivotRoot('/r');
    channel.close();
    await expect(pending).rejects.toThrow("pivot_root to /r: the container's init process exited");
  });
});

describe('InitChannel.awaitExec', () => {
  it('resolves on EOF: execve succeeded and closed the socket', async () => {
    const { init, channel } = connected();
    init.exit();
    await expect(channel.awaitExec('exec')).resolves.toBeUndefined();
  });

  it('throws the error frame the init sends when execve failed', async () => {
    const { init, channel } = connected();
    init.stream.push(replyFrame(2, 0n, 'execve /bin/nope'));
    await expect(channel.awaitExec('start the process')).rejects.toThrow('start the process: execve /bin/nope: ENOENT (no such file or directory)');
  });
});
