/**
 * Which program this code runs as. The product is the executable that
 * `bun build --compile` makes (addon/build/tsrunc); the test runner loads the
 * same modules from dist/ under Node.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * True in the compiled executable: Bun runs its embedded entry point from
 * /$bunfs (its __filename is the build machine's path, so argv tells).
 */
export const isCompiledBinary = !!process.versions.bun && !!process.argv[1]?.startsWith('/$bunfs/');

/** The directory of tsrunc's executables (tsrunc, tsrunc-init, tsrunc-shim). */
export const BIN_DIR = isCompiledBinary ? dirname(process.execPath) : join(__dirname, '..', '..', 'addon', 'build');

/** Set by the Bun build (--define); under Node, package.json is read from the checkout. */
declare const TSRUNC_VERSION: string | undefined;

/** tsrunc's version: built into the executable, never read from the machine it was built on. */
export function tsruncVersion(): string {
  if (typeof TSRUNC_VERSION === 'string') return TSRUNC_VERSION;
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The command line that runs this tsrunc again (the shim's cleanup after a foreground run). */
export function selfCommand(): string[] {
  return isCompiledBinary ? [process.execPath] : [process.execPath, process.argv[1]];
}
