/**
 * The D-Bus wire format (the "Message Protocol" section of the D-Bus
 * specification): type signatures, marshalling of values with their
 * alignment rules, and whole messages (fixed header, header fields, body).
 * Pure functions over Buffers: no I/O here (see connection.ts).
 *
 * JavaScript values by D-Bus type:
 *   y n q i u h d  number          x t        bigint (a number is accepted when marshalling)
 *   b              boolean         s o g      string
 *   a<T>           T[]             a{KV}      [K, V][] (pairs, in order)
 *   (…)            unknown[]       v          Variant { signature, value }
 */

export interface Variant {
  signature: string;
  value: unknown;
}

export const variant = (signature: string, value: unknown): Variant => ({ signature, value });

export class DBusProtocolError extends Error {
  override readonly name = 'DBusProtocolError';
}

const BASIC = 'ybnqiuxtdsogh';
const ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, s: 4, o: 4, g: 1, h: 4, v: 1, a: 4, '(': 8, '{': 8 };
const MAX_ARRAY = 64 * 1024 * 1024;
const MAX_MESSAGE = 128 * 1024 * 1024;
const MAX_DEPTH = 32;

/** Splits a signature into its complete types ("sa{sv}i" -> ["s", "a{sv}", "i"]); throws on a malformed one. */
export function splitSignature(sig: string): string[] {
  if (sig.length > 255) throw new DBusProtocolError(`signature too long (${sig.length} > 255)`);
  const out: string[] = [];
  for (let i = 0; i < sig.length;) {
    const end = completeTypeEnd(sig, i, 0, false);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

/** The index just past the single complete type starting at i. */
function completeTypeEnd(sig: string, i: number, depth: number, dictKeyAllowed: boolean): number {
  if (depth > MAX_DEPTH) throw new DBusProtocolError(`signature ${JSON.stringify(sig)} nests too deeply`);
  const c = sig[i];
  if (c === undefined) throw new DBusProtocolError(`signature ${JSON.stringify(sig)} ends inside a type`);
  if (BASIC.includes(c) || c === 'v') return i + 1;
  if (c === 'a') {
    if (sig[i + 1] === '{') {
      const key = sig[i + 2];
      if (key === undefined || !BASIC.includes(key)) throw new DBusProtocolError(`signature ${JSON.stringify(sig)}: a dict key must be a basic type`);
      const valueEnd = completeTypeEnd(sig, i + 3, depth + 1, false);
      if (sig[valueEnd] !== '}') throw new DBusProtocolError(`signature ${JSON.stringify(sig)}: a dict entry has exactly a key and a value`);
      return valueEnd + 1;
    }
    return completeTypeEnd(sig, i + 1, depth + 1, dictKeyAllowed);
  }
  if (c === '(') {
    let j = i + 1;
    if (sig[j] === ')') throw new DBusProtocolError(`signature ${JSON.stringify(sig)}: empty struct`);
    while (sig[j] !== ')') {
      if (sig[j] === undefined) throw new DBusProtocolError(`signature ${JSON.stringify(sig)}: unclosed struct`);
      j = completeTypeEnd(sig, j, depth + 1, false);
    }
    return j + 1;
  }
  throw new DBusProtocolError(`signature ${JSON.stringify(sig)}: unexpected ${JSON.stringify(c)}`);
}

/** Appends marshalled values to a growing buffer, keeping the alignment relative to the message start. */
export class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  constructor(private readonly littleEndian = true) {}

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }

  u32(v: number): void {
    this.align(4);
    this.ensure(4);
    if (this.littleEndian) this.buf.writeUInt32LE(v, this.length);
    else this.buf.writeUInt32BE(v, this.length);
    this.length += 4;
  }

  /** Patches a u32 written earlier (an array's length, known once its elements are written). */
  patchU32(at: number, v: number): void {
    if (this.littleEndian) this.buf.writeUInt32LE(v, at);
    else this.buf.writeUInt32BE(v, at);
  }

  value(type: string, v: unknown): void {
    const le = this.littleEndian;
    const c = type[0];
    this.align(ALIGN[c]);
    switch (c) {
      case 'y': this.ensure(1); this.buf.writeUInt8(int(v, type, 0, 0xff), this.length); this.length += 1; return;
      case 'b': this.u32(bool(v) ? 1 : 0); return;
      case 'n': this.ensure(2); le ? this.buf.writeInt16LE(int(v, type, -0x8000, 0x7fff), this.length) : this.buf.writeInt16BE(int(v, type, -0x8000, 0x7fff), this.length); this.length += 2; return;
      case 'q': this.ensure(2); le ? this.buf.writeUInt16LE(int(v, type, 0, 0xffff), this.length) : this.buf.writeUInt16BE(int(v, type, 0, 0xffff), this.length); this.length += 2; return;
      case 'i': this.ensure(4); le ? this.buf.writeInt32LE(int(v, type, -0x80000000, 0x7fffffff), this.length) : this.buf.writeInt32BE(int(v, type, -0x80000000, 0x7fffffff), this.length); this.length += 4; return;
      case 'u': case 'h': this.u32(int(v, type, 0, 0xffffffff)); return;
      case 'x': this.ensure(8); le ? this.buf.writeBigInt64LE(big(v, type, -(2n ** 63n), 2n ** 63n - 1n), this.length) : this.buf.writeBigInt64BE(big(v, type, -(2n ** 63n), 2n ** 63n - 1n), this.length); this.length += 8; return;
      case 't': this.ensure(8); le ? this.buf.writeBigUInt64LE(big(v, type, 0n, 2n ** 64n - 1n), this.length) : this.buf.writeBigUInt64BE(big(v, type, 0n, 2n ** 64n - 1n), this.length); this.length += 8; return;
      case 'd': this.ensure(8); le ? this.buf.writeDoubleLE(num(v, type), this.length) : this.buf.writeDoubleBE(num(v, type), this.length); this.length += 8; return;
      case 's': case 'o': {
        const s = str(v, type);
        if (c === 'o' && !isObjectPath(s)) throw new TypeError(`${JSON.stringify(s)} is not a D-Bus object path`);
        const b = Buffer.from(s, 'utf8');
        if (b.includes(0)) throw new TypeError(`a D-Bus string cannot contain NUL`);
        this.u32(b.length);
        this.bytes(b);
        this.u8(0);
        return;
      }
      case 'g': {
        const s = str(v, type);
        splitSignature(s);
        this.u8(s.length);
        this.bytes(Buffer.from(s, 'ascii'));
        this.u8(0);
        return;
      }
      case 'v': {
        const { signature, value } = v as Variant;
        if (typeof signature !== 'string' || splitSignature(signature).length !== 1) throw new TypeError(`a variant needs the signature of one complete type, got ${JSON.stringify(signature)}`);
        this.value('g', signature);
        this.value(signature, value);
        return;
      }
      case '(': {
        const fields = splitSignature(type.slice(1, -1));
        if (!Array.isArray(v) || v.length !== fields.length) throw new TypeError(`struct ${type} needs an array of ${fields.length} values`);
        fields.forEach((t, i) => this.value(t, v[i]));
        return;
      }
      case 'a': {
        const elem = type.slice(1);
        if (!Array.isArray(v)) throw new TypeError(`array ${type} needs an array`);
        this.u32(0);
        const lengthAt = this.length - 4;
        // Padding to the first element's alignment is not part of the array's length.
        this.align(ALIGN[elem[0]]);
        const start = this.length;
        if (elem[0] === '{') {
          const [k, val] = splitSignature(elem.slice(1, -1));
          for (const e of v) {
            if (!Array.isArray(e) || e.length !== 2) throw new TypeError(`dict ${type} needs [key, value] pairs`);
            this.align(8);
            this.value(k, e[0]);
            this.value(val, e[1]);
          }
        } else {
          for (const e of v) this.value(elem, e);
        }
        const len = this.length - start;
        if (len > MAX_ARRAY) throw new TypeError(`array too long (${len} bytes)`);
        this.patchU32(lengthAt, len);
        return;
      }
    }
    throw new TypeError(`cannot marshal type ${JSON.stringify(type)}`);
  }

  values(signature: string, vs: unknown[]): void {
    const types = splitSignature(signature);
    if (types.length !== vs.length) throw new TypeError(`signature ${JSON.stringify(signature)} needs ${types.length} values, got ${vs.length}`);
    types.forEach((t, i) => this.value(t, vs[i]));
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

const int = (v: unknown, t: string, min: number, max: number): number => {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new TypeError(`${String(v)} does not fit D-Bus type ${t}`);
  return n;
};
const big = (v: unknown, t: string, min: bigint, max: bigint): bigint => {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new TypeError(`${v} is not an exact integer for D-Bus type ${t}: use a bigint`);
  const n = typeof v === 'number' ? BigInt(v) : v;
  if (typeof n !== 'bigint' || n < min || n > max) throw new TypeError(`${String(v)} does not fit D-Bus type ${t}`);
  return n;
};
const num = (v: unknown, t: string): number => {
  if (typeof v !== 'number') throw new TypeError(`${String(v)} is not a number for D-Bus type ${t}`);
  return v;
};
const bool = (v: unknown): boolean => {
  if (typeof v !== 'boolean') throw new TypeError(`${String(v)} is not a boolean`);
  return v;
};
const str = (v: unknown, t: string): string => {
  if (typeof v !== 'string') throw new TypeError(`${String(v)} is not a string for D-Bus type ${t}`);
  return v;
};

export function isObjectPath(s: string): boolean {
  return s === '/' || /^(\/[A-Za-z0-9_]+)+$/.test(s);
}

/** Reads marshalled values from a buffer; offsets (and so alignment) count from the message start. */
export class Reader {
  offset: number;

  constructor(readonly buf: Buffer, readonly littleEndian = true, offset = 0, private readonly end = buf.length) {
    this.offset = offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.end) throw new DBusProtocolError('message truncated');
  }

  align(n: number): void {
    const next = this.offset + ((n - (this.offset % n)) % n);
    if (next > this.end) throw new DBusProtocolError('message truncated');
    for (let i = this.offset; i < next; i++) if (this.buf[i] !== 0) throw new DBusProtocolError('non-zero alignment padding');
    this.offset = next;
  }

  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.littleEndian ? this.buf.readUInt32LE(this.offset) : this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  value(type: string, depth = 0): unknown {
    if (depth > MAX_DEPTH) throw new DBusProtocolError('value nests too deeply');
    const le = this.littleEndian;
    const b = this.buf;
    const c = type[0];
    this.align(ALIGN[c] ?? 1);
    const fixed = <T>(n: number, read: () => T): T => {
      this.need(n);
      const v = read();
      this.offset += n;
      return v;
    };
    switch (c) {
      case 'y': return fixed(1, () => b.readUInt8(this.offset));
      case 'b': {
        const v = this.u32();
        if (v > 1) throw new DBusProtocolError(`boolean value ${v}`);
        return v === 1;
      }
      case 'n': return fixed(2, () => (le ? b.readInt16LE(this.offset) : b.readInt16BE(this.offset)));
      case 'q': return fixed(2, () => (le ? b.readUInt16LE(this.offset) : b.readUInt16BE(this.offset)));
      case 'i': return fixed(4, () => (le ? b.readInt32LE(this.offset) : b.readInt32BE(this.offset)));
      case 'u': case 'h': return this.u32();
      case 'x': return fixed(8, () => (le ? b.readBigInt64LE(this.offset) : b.readBigInt64BE(this.offset)));
      case 't': return fixed(8, () => (le ? b.readBigUInt64LE(this.offset) : b.readBigUInt64BE(this.offset)));
      case 'd': return fixed(8, () => (le ? b.readDoubleLE(this.offset) : b.readDoubleBE(this.offset)));
      case 's': case 'o': {
        const len = this.u32();
        this.need(len + 1);
        const s = b.toString('utf8', this.offset, this.offset + len);
        if (b[this.offset + len] !== 0) throw new DBusProtocolError('string not NUL-terminated');
        this.offset += len + 1;
        return s;
      }
      case 'g': {
        const len = fixed(1, () => b.readUInt8(this.offset));
        this.need(len + 1);
        const s = b.toString('ascii', this.offset, this.offset + len);
        if (b[this.offset + len] !== 0) throw new DBusProtocolError('signature not NUL-terminated');
        this.offset += len + 1;
        return s;
      }
      case 'v': {
        const signature = this.value('g') as string;
        if (splitSignature(signature).length !== 1) throw new DBusProtocolError(`variant signature ${JSON.stringify(signature)} is not one complete type`);
        return { signature, value: this.value(signature, depth + 1) } satisfies Variant;
      }
      case '(': return splitSignature(type.slice(1, -1)).map((t) => this.value(t, depth + 1));
      case 'a': {
        const len = this.u32();
        if (len > MAX_ARRAY) throw new DBusProtocolError(`array of ${len} bytes`);
        const elem = type.slice(1);
        this.align(ALIGN[elem[0]]);
        const end = this.offset + len;
        if (end > this.end) throw new DBusProtocolError('message truncated');
        const out: unknown[] = [];
        if (elem[0] === '{') {
          const [k, v] = splitSignature(elem.slice(1, -1));
          while (this.offset < end) {
            this.align(8);
            out.push([this.value(k, depth + 1), this.value(v, depth + 1)]);
          }
        } else {
          while (this.offset < end) out.push(this.value(elem, depth + 1));
        }
        if (this.offset !== end) throw new DBusProtocolError('array elements overrun the array length');
        return out;
      }
    }
    throw new DBusProtocolError(`cannot read type ${JSON.stringify(type)}`);
  }

  values(signature: string): unknown[] {
    return splitSignature(signature).map((t) => this.value(t));
  }
}

/* ---------- messages ---------- */

export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
export const Flags = { NO_REPLY_EXPECTED: 1, NO_AUTO_START: 2 } as const;
const Field = { PATH: 1, INTERFACE: 2, MEMBER: 3, ERROR_NAME: 4, REPLY_SERIAL: 5, DESTINATION: 6, SENDER: 7, SIGNATURE: 8, UNIX_FDS: 9 } as const;
const FIELD_TYPES: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };

export interface Message {
  type: number;
  flags: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  /** The body's signature ("" = no body). */
  signature: string;
  body: unknown[];
}

export function encodeMessage(m: Omit<Message, 'signature' | 'body'> & { signature?: string; body?: unknown[] }): Buffer {
  const signature = m.signature ?? '';
  const bodyWriter = new Writer(true);
  bodyWriter.values(signature, m.body ?? []);
  const body = bodyWriter.result();
  const fields: [number, Variant][] = [];
  const add = (code: number, v: unknown) => {
    if (v !== undefined) fields.push([code, variant(FIELD_TYPES[code], v)]);
  };
  add(Field.PATH, m.path);
  add(Field.INTERFACE, m.interface);
  add(Field.MEMBER, m.member);
  add(Field.ERROR_NAME, m.errorName);
  add(Field.REPLY_SERIAL, m.replySerial);
  add(Field.DESTINATION, m.destination);
  add(Field.SENDER, m.sender);
  if (signature) add(Field.SIGNATURE, signature);
  const w = new Writer(true);
  w.u8('l'.charCodeAt(0));
  w.u8(m.type);
  w.u8(m.flags);
  w.u8(1);
  w.u32(body.length);
  w.u32(m.serial);
  w.value('a(yv)', fields);
  w.align(8);
  w.bytes(body);
  const out = w.result();
  if (out.length > MAX_MESSAGE) throw new TypeError(`message too long (${out.length} bytes)`);
  return out;
}

/** The total length of the message at the start of buf, once its first 16 bytes are there (else undefined). */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const le = endianOf(buf[0]);
  const bodyLen = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const headerLen = 16 + fieldsLen + ((8 - (fieldsLen % 8)) % 8);
  const total = headerLen + bodyLen;
  if (total > MAX_MESSAGE) throw new DBusProtocolError(`message of ${total} bytes`);
  return total;
}

function endianOf(byte: number): boolean {
  if (byte === 0x6c) return true; // 'l'
  if (byte === 0x42) return false; // 'B'
  throw new DBusProtocolError(`bad endianness byte 0x${byte.toString(16)}`);
}

export function decodeMessage(buf: Buffer): Message {
  const le = endianOf(buf[0]);
  const total = messageLength(buf);
  if (total === undefined || buf.length < total) throw new DBusProtocolError('message truncated');
  if (buf[3] !== 1) throw new DBusProtocolError(`protocol version ${buf[3]}`);
  const r = new Reader(buf, le, 12, total);
  const bodyLen = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const m: Message = { type: buf[1], flags: buf[2], serial: le ? buf.readUInt32LE(8) : buf.readUInt32BE(8), signature: '', body: [] };
  for (const [code, v] of r.value('a(yv)') as [number, Variant][]) {
    const want = FIELD_TYPES[code];
    if (want === undefined) continue; // unknown fields are ignored, as the specification says
    if (v.signature !== want) throw new DBusProtocolError(`header field ${code} has type ${v.signature}, not ${want}`);
    switch (code) {
      case Field.PATH: m.path = v.value as string; break;
      case Field.INTERFACE: m.interface = v.value as string; break;
      case Field.MEMBER: m.member = v.value as string; break;
      case Field.ERROR_NAME: m.errorName = v.value as string; break;
      case Field.REPLY_SERIAL: m.replySerial = v.value as number; break;
      case Field.DESTINATION: m.destination = v.value as string; break;
      case Field.SENDER: m.sender = v.value as string; break;
      case Field.SIGNATURE: m.signature = v.value as string; break;
    }
  }
  r.align(8);
  const bodyStart = r.offset;
  if (bodyStart + bodyLen !== total) throw new DBusProtocolError('header and body lengths disagree');
  // The body's alignment counts from its own start: a fresh reader over it.
  const br = new Reader(buf.subarray(bodyStart, total), le);
  m.body = br.values(m.signature);
  if (br.offset !== bodyLen) throw new DBusProtocolError('body longer than its signature');
  return m;
}
