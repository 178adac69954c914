/**
 * The one seam between tsrunc and native code. Everything that calls into a
 * shared library (libc, libseccomp) goes through `bindLibrary`, `syscall`,
 * `errno` and `pinned` below, and nothing else in src/ imports an FFI.
 *
 * Two implementations, chosen by the runtime we are in:
 *  - under Bun (the compiled `tsrunc`): Bun's own `bun:ffi` — `dlopen` costs
 *    ~1 ms, where loading koffi and libc costs ~25 ms under Bun;
 *  - under Node (the test runner, vitest): koffi, which Node needs.
 * Both are loaded on first use only: `state` and `list` never touch either.
 *
 * The vocabulary is deliberately small: integers, pointers to caller-owned
 * Buffers, C strings and NULL-terminated string arrays. Structs are laid out
 * by hand in Buffers by the modules that need them.
 */
import { bunFfi } from './ffi-bun';
import { koffiFfi } from './ffi-koffi';

export type NativeType = 'i32' | 'u32' | 'i64' | 'u64' | 'ptr' | 'cstring' | 'strv' | 'void';

export interface Signature {
  args: NativeType[];
  returns: Exclude<NativeType, 'cstring' | 'strv'>;
}

/** What a native function takes: numbers for integers, a Buffer (or null, or an opaque pointer it returned) for 'ptr'. */
export type NativeArg = number | bigint | Buffer | string | (string | null)[] | null | OpaquePointer;
/** A pointer a native function returned (e.g. libseccomp's context): only passed back, never read. */
export type OpaquePointer = { readonly __opaquePointer: true };
export type NativeFunction = (...args: NativeArg[]) => number | bigint | OpaquePointer | null;

/** Memory whose address stays put while it is in use: for pointers the kernel follows inside a struct. */
export interface PinnedMemory {
  /** A view of the memory (reads and writes go to the native memory itself). */
  readonly buffer: Buffer;
  readonly address: bigint;
  free(): void;
}

export interface Ffi {
  /** Opens a shared library and binds the functions named by sigs; throws if the library or a symbol is missing. */
  bindLibrary<K extends string>(library: string, sigs: Record<K, Signature>): Record<K, NativeFunction>;
  /** syscall(2) with up to six integer or pointer (Buffer) arguments; returns -1 and sets errno on failure. */
  syscall(nr: number, ...args: (number | bigint | Buffer | null)[]): number;
  /** errno as the last native call left it. */
  errno(): number;
  pinned(size: number): PinnedMemory;
}

let chosen: Ffi | undefined;

/** The FFI of the runtime this process runs in. */
export function ffi(): Ffi {
  if (chosen) return chosen;
  // Both modules are cheap to import: each loads its FFI only when called, and only this runtime's is.
  chosen = process.versions.bun ? bunFfi() : koffiFfi();
  return chosen;
}
