/**
 * The protocol between the tsrunc client (addon/client.c) and this server,
 * mirroring addon/client.h (a test compares the two). Frames are encoded as
 * on the init channel (init/protocol.ts).
 */
export enum Msg {
  Hello = 1,
  Spawned = 2,
  Input = 3,
  Done = 4,
  Output = 10,
  Spawn = 11,
  ReadStdin = 12,
  Subreaper = 13,
  Exec = 14,
  Exit = 15,
}

export const SPAWN_SETSID = 1;
export const SPAWN_SEALED = 2;
export const SPAWN_CONSOLE_PAIR = 4;

/** Reads the fields of one frame body, in order. */
export class FieldReader {
  private off = 0;

  constructor(private readonly body: Buffer) {}

  u32(): number {
    const v = this.body.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint {
    const v = this.body.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  /** A u64 the sender wrote from a signed value (-1, -errno). */
  i64(): number {
    return Number(BigInt.asIntN(64, this.u64()));
  }

  str(): string {
    const len = this.u32();
    const s = this.body.subarray(this.off, this.off + len).toString('utf8');
    this.off += len;
    return s;
  }

  strs(): string[] {
    const n = this.u32();
    return Array.from({ length: n }, () => this.str());
  }
}
