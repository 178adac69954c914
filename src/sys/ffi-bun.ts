/**
 * The FFI seam (ffi.ts) over Bun's built-in `bun:ffi`: what the compiled
 * `tsrunc` uses. errno is read through glibc's `__errno_location`.
 */
import type { Ffi, NativeArg, NativeFunction, NativeType, PinnedMemory, Signature } from './ffi-types';

type BunFfi = typeof import('bun:ffi');

const toBun: Record<NativeType, string> = {
  i32: 'i32', u32: 'u32', i64: 'i64', u64: 'u64', ptr: 'ptr', cstring: 'ptr', strv: 'ptr', void: 'void',
};

export function bunFfi(): Ffi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bun = require('bun:ffi') as BunFfi;
  // Buffers handed to a call must outlive it: kept here until the call returns.
  const cstr = (s: string) => Buffer.from(`${s}\0`);
  const libc = bun.dlopen('libc.so.6', {
    __errno_location: { args: [], returns: 'ptr' },
    // Variadic in C; on x86_64 integer and pointer arguments travel in the same registers either way.
    syscall: { args: ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'], returns: 'i64' },
  });
  const errnoAt = libc.symbols.__errno_location() as number;

  function convert(type: NativeType, value: NativeArg, keep: unknown[]): unknown {
    if (type === 'cstring' && typeof value === 'string') {
      const b = cstr(value);
      keep.push(b);
      return b;
    }
    if (type === 'strv' && Array.isArray(value)) {
      const table = new BigUint64Array(value.length + 1);
      value.forEach((s, i) => {
        if (s === null) return;
        const b = cstr(s);
        keep.push(b);
        table[i] = BigInt(bun.ptr(b));
      });
      keep.push(table);
      return table;
    }
    return value;
  }

  return {
    bindLibrary<K extends string>(library: string, sigs: Record<K, Signature>): Record<K, NativeFunction> {
      const decl: Record<string, { args: string[]; returns: string }> = {};
      for (const [name, sig] of Object.entries(sigs) as [string, Signature][]) {
        decl[name] = { args: sig.args.map((t) => toBun[t]), returns: toBun[sig.returns] };
      }
      const lib = bun.dlopen(library, decl as never);
      const out = {} as Record<K, NativeFunction>;
      for (const [name, sig] of Object.entries(sigs) as [K, Signature][]) {
        const fn = (lib.symbols as Record<string, (...a: unknown[]) => unknown>)[name];
        out[name] = (...args: NativeArg[]) => {
          const keep: unknown[] = [];
          const result = fn(...args.map((a, i) => convert(sig.args[i], a, keep)));
          keep.length = 0;
          return result as ReturnType<NativeFunction>;
        };
      }
      return out;
    },
    syscall(nr: number, ...args: (number | bigint | Buffer | null)[]): number {
      const regs = args.map((a) => (a === null ? 0 : Buffer.isBuffer(a) ? bun.ptr(a) : a));
      while (regs.length < 6) regs.push(0);
      return Number(libc.symbols.syscall(nr, ...(regs as number[])));
    },
    errno(): number {
      return bun.read.i32(errnoAt as never, 0);
    },
    pinned(size: number): PinnedMemory {
      // Bun does not move an ArrayBuffer's memory: the Buffer itself is the pinned memory.
      const buffer = Buffer.alloc(Math.max(size, 1));
      return { buffer, address: BigInt(bun.ptr(buffer)), free: () => undefined };
    },
  };
}
