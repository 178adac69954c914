/**
 * Runs a cgroup device filter program the way the kernel would for one
 * request: a tiny interpreter of exactly the instructions
 * deviceFilterProgram (src/cgroups/devices.ts) emits, so unit tests check
 * the program's decisions without loading it. The opcodes and the context
 * layout are written out here from the eBPF ISA and linux/bpf.h, not taken
 * from the code under test.
 */
const BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2;
const BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4;
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K = 0x54, ALU32_RSH_K = 0x74, ALU32_MOV_K = 0xb4, ALU32_MOV_X = 0xbc;
const JMP_JEQ_K = 0x15, JMP_JNE_K = 0x55, JMP_JNE_X = 0x5d, JMP_EXIT = 0x95;

export function runDeviceFilter(program: Buffer, type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  let acc = 0;
  if (access.includes('r')) acc |= BPF_DEVCG_ACC_READ;
  if (access.includes('w')) acc |= BPF_DEVCG_ACC_WRITE;
  if (access.includes('m')) acc |= BPF_DEVCG_ACC_MKNOD;
  const ctx = [((acc << 16) | (type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)) >>> 0, major >>> 0, minor >>> 0];
  const r = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const n = program.length / 8;
  for (let pc = 0, steps = 0; pc < n && steps < 10_000; pc++, steps++) {
    const code = program.readUInt8(pc * 8);
    const regs = program.readUInt8(pc * 8 + 1);
    const dst = regs & 0xf, src = regs >> 4;
    const off = program.readInt16LE(pc * 8 + 2);
    const imm = program.readInt32LE(pc * 8 + 4);
    switch (code) {
      case LDX_MEM_W: r[dst] = ctx[off / 4]; break;
      case ALU32_AND_K: r[dst] = (r[dst] & imm) >>> 0; break;
      case ALU32_RSH_K: r[dst] = r[dst] >>> imm; break;
      case ALU32_MOV_K: r[dst] = imm >>> 0; break;
      case ALU32_MOV_X: r[dst] = r[src] >>> 0; break;
      case JMP_JNE_K: if (r[dst] !== imm >>> 0) pc += off; break;
      case JMP_JEQ_K: if (r[dst] === imm >>> 0) pc += off; break;
      case JMP_JNE_X: if (r[dst] !== r[src]) pc += off; break;
      case JMP_EXIT: return r[0] === 1;
      default: throw new Error(`unexpected instruction 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('program did not exit');
}
