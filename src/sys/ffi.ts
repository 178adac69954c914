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

export type { Ffi, NativeArg, NativeFunction, NativeType, OpaquePointer, PinnedMemory, Signature } from './ffi-types';
import type { Ffi } from './ffi-types';

let chosen: Ffi | undefined;

/** The FFI of the runtime this process runs in. */
export function ffi(): Ffi {
  if (chosen) return chosen;
  // Both modules are cheap to import: each loads its FFI only when called, and only this runtime's is.
  chosen = process.versions.bun ? bunFfi() : koffiFfi();
  return chosen;
}
