/** The part of Bun's built-in `bun:ffi` that src/sys/ffi-bun.ts uses (Bun ships no types to Node's tsc here). */
declare module 'bun:ffi' {
  export function dlopen<T extends Record<string, { args: string[]; returns: string }>>(
    path: string, symbols: T,
  ): { symbols: { [K in keyof T]: (...args: unknown[]) => unknown }; close(): void };
  export function ptr(view: ArrayBufferView): number;
  export const read: { i32(ptr: number, offset: number): number };
}
