/**
 * A classic-BPF interpreter for seccomp programs: what a filter answers for
 * one system call. tsrunc-init must make a few system calls after loading the
 * container's filter (execve, and exit_group if that fails); a profile that
 * denies them would leave a process that can neither start its program nor
 * exit, so compileSeccomp refuses it up front with a clear error.
 */
const AUDIT_ARCH_X86_64 = 0xc000003e;

export interface SeccompData {
  nr: number;
  arch?: number;
  args?: bigint[];
}

/** The filter's return value (SECCOMP_RET_*) for data; throws on an instruction seccomp would not accept. */
export function evaluateFilter(program: Buffer, data: SeccompData): number {
  const packet = Buffer.alloc(64);
  packet.writeUInt32LE(data.nr >>> 0, 0);
  packet.writeUInt32LE(data.arch ?? AUDIT_ARCH_X86_64, 4);
  (data.args ?? []).forEach((a, i) => packet.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + i * 8));
  const count = program.length / 8;
  const mem = new Uint32Array(16);
  let a = 0, x = 0;
  for (let pc = 0; pc < count; pc++) {
    const code = program.readUInt16LE(pc * 8), jt = program[pc * 8 + 2], jf = program[pc * 8 + 3], k = program.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    const src = code & 0x08 ? x : k;
    switch (cls) {
      case 0x00: // LD
        if ((code & 0xe0) === 0x20 && (code & 0x18) === 0x00) a = k + 4 <= 64 ? packet.readUInt32LE(k) : fail(pc);
        else if ((code & 0xe0) === 0x00) a = k;
        else if ((code & 0xe0) === 0x60) a = mem[k & 15];
        else if ((code & 0xe0) === 0x80) a = 64;
        else fail(pc);
        break;
      case 0x01: // LDX
        if ((code & 0xe0) === 0x00) x = k;
        else if ((code & 0xe0) === 0x60) x = mem[k & 15];
        else if ((code & 0xe0) === 0x80) x = 64;
        else fail(pc);
        break;
      case 0x02: mem[k & 15] = a; break; // ST
      case 0x03: mem[k & 15] = x; break; // STX
      case 0x04: a = alu(code & 0xf0, a, src, pc); break;
      case 0x05: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) { pc += k; break; }
        const taken = op === 0x10 ? a === src : op === 0x20 ? a > src : op === 0x30 ? a >= src : op === 0x40 ? (a & src) !== 0 : fail(pc);
        pc += taken ? jt : jf;
        break;
      }
      case 0x06: return ((code & 0x18) === 0x10 ? a : k) >>> 0; // RET A or K
      case 0x07: if (code & 0x80) a = x; else x = a; break; // MISC: TXA / TAX
    }
  }
  throw new Error('seccomp program runs off its end');
}

function alu(op: number, a: number, v: number, pc: number): number {
  switch (op) {
    case 0x00: return (a + v) >>> 0;
    case 0x10: return (a - v) >>> 0;
    case 0x20: return Math.imul(a, v) >>> 0;
    case 0x30: return v === 0 ? fail(pc) : Math.floor(a / v) >>> 0;
    case 0x40: return (a | v) >>> 0;
    case 0x50: return (a & v) >>> 0;
    case 0x60: return v >= 32 ? 0 : (a << v) >>> 0;
    case 0x70: return v >= 32 ? 0 : a >>> v;
    case 0x80: return (-a) >>> 0;
    case 0x90: return v === 0 ? fail(pc) : (a % v) >>> 0;
    case 0xa0: return (a ^ v) >>> 0;
    default: return fail(pc);
  }
}

function fail(pc: number): never {
  throw new Error(`seccomp program: instruction ${pc} is not one seccomp accepts`);
}

const SECCOMP_RET_ACTION_FULL = 0xffff0000;
/** KILL_PROCESS, KILL_THREAD, TRAP, ERRNO: the call does not happen (TRACE, NOTIFY and LOG may let it). */
const DENYING = new Set([0x80000000, 0x00000000, 0x00030000, 0x00050000]);

export function denies(action: number): boolean {
  return DENYING.has((action & SECCOMP_RET_ACTION_FULL) >>> 0);
}
