/**
 * The request channel to tsrunc-init, mirroring addon/protocol.h (a test
 * compares the two). Frames are a little-endian u32 length and a body; a
 * request body is a u32 opcode and its fields (u64, str, strs), a reply body
 * is i32 errno, i64 value, str detail.
 */
export enum Op {
  JoinNamespaces = 1,
  Unshare = 2,
  Clone = 3,
  WriteFile = 4,
  Mount = 5,
  MkdirAll = 6,
  Mkfile = 7,
  Mknod = 8,
  Symlink = 9,
  SetRoot = 10,
  PivotRoot = 11,
  Chroot = 12,
  Sethostname = 13,
  Setdomainname = 14,
  Umount = 15,
  MaskPath = 16,
  ReadonlyPath = 17,
  BindDevice = 18,
  SetExec = 20,
  SetUser = 21,
  SetCaps = 22,
  SetRlimit = 23,
  SetNoNewPrivs = 24,
  SetSeccomp = 25,
  SetStartFifo = 26,
  SetPreserveFds = 27,
  SetConsole = 28,
  AddHook = 29,
  Finish = 30,
  RunHook = 31,
  SetSeccompListener = 32,
  BecomeRoot = 33,
  ConnectSocket = 34,
  SetExecLabel = 35,
  SetPersonality = 36,
  SetAffinity = 37,
  SetCloneCgroup = 38,
  JoinSessionKeyring = 39,
  SetDumpable = 40,
}

export const OPT_IN_ROOT = 1;
export const OPT_SRC_IN_ROOT = 2;
export const OPT_NO_FOLLOW = 4;

export type Field = bigint | number | string | Buffer | string[];

/** Encodes one request frame. Numbers are u64 (negative ones as two's complement); strings UTF-8. */
export function encodeRequest(op: Op, fields: Field[]): Buffer {
  const parts: Buffer[] = [u32(op)];
  for (const f of fields) {
    if (typeof f === 'bigint' || typeof f === 'number') parts.push(u64(f));
    else if (typeof f === 'string') parts.push(str(Buffer.from(f, 'utf8')));
    else if (Buffer.isBuffer(f)) parts.push(str(f));
    else parts.push(u32(f.length), ...f.map((s) => str(Buffer.from(s, 'utf8'))));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
}

/** Splits a byte stream into frames (u32 length + body). */
export class FrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + len) break;
      frames.push(this.buffered.subarray(4, 4 + len));
      this.buffered = this.buffered.subarray(4 + len);
    }
    return frames;
  }

  /** How many bytes arrived that are not yet a whole frame. */
  get pending(): number {
    return this.buffered.length;
  }
}

export interface Reply {
  errno: number;
  value: number;
  detail: string;
}

export function decodeReply(body: Buffer): Reply {
  const errno = body.readInt32LE(0);
  const value = Number(body.readBigInt64LE(4));
  const len = body.readUInt32LE(12);
  return { errno, value, detail: body.subarray(16, 16 + len).toString('utf8') };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n)));
  return b;
}

function str(b: Buffer): Buffer {
  return Buffer.concat([u32(b.length), b]);
}
