/**
 * The FFI seam (ffi.ts) over koffi: what tsrunc's code uses when it runs
 * under Node (the test runner). The compiled `tsrunc` never loads it.
 */
import type * as Koffi from 'koffi';
import type { Ffi, NativeArg, NativeFunction, NativeType, PinnedMemory, Signature } from './ffi-types';

const toKoffi: Record<NativeType, string> = {
  i32: 'int32_t', u32: 'uint32_t', i64: 'int64_t', u64: 'uint64_t', ptr: 'void *', cstring: 'const char *', strv: 'const char **', void: 'void',
};

export function koffiFfi(): Ffi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof Koffi;
  const libc = koffi.load('libc.so.6');
  const syscall = libc.func('long syscall(long number, ...)');
  return {
    bindLibrary<K extends string>(library: string, sigs: Record<K, Signature>): Record<K, NativeFunction> {
      const lib = koffi.load(library);
      const out = {} as Record<K, NativeFunction>;
      for (const [name, sig] of Object.entries(sigs) as [K, Signature][]) {
        const fn = lib.func(name, toKoffi[sig.returns], sig.args.map((t) => toKoffi[t]));
        out[name] = (...args: NativeArg[]) => {
          const r = fn(...args.map((a, i) => (sig.args[i] === 'strv' && Array.isArray(a) ? [...a, null] : a)));
          return r as ReturnType<NativeFunction>;
        };
      }
      return out;
    },
    syscall(nr: number, ...args: (number | bigint | Buffer | null)[]): number {
      const typed: unknown[] = [];
      for (const a of args) typed.push(a === null || Buffer.isBuffer(a) ? 'void *' : 'long', a);
      return Number(syscall(nr, ...typed));
    },
    errno: () => koffi.errno(),
    pinned(size: number): PinnedMemory {
      // koffi-owned memory: a Node Buffer's address cannot be had, and this one does not move.
      const ptr = koffi.alloc('uint8_t', Math.max(size, 1));
      const buffer = Buffer.from(koffi.view(ptr, Math.max(size, 1)));
      buffer.fill(0);
      return { buffer, address: BigInt(koffi.address(ptr)), free: () => koffi.free(ptr) };
    },
  };
}
