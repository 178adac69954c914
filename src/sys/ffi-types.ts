/** The vocabulary of the FFI seam (ffi.ts), shared by its two implementations (ffi-bun.ts, ffi-koffi.ts). */
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
