/**
 * Build step: compiles dist/cli/tsrunc.js (tsc's output, with the generated
 * schema validators beside it) into one executable, addon/build/tsrunc, with
 * Bun from the npm registry (@oven/bun-<os>-<arch>, pinned in package.json).
 * Why Bun: a compiled Bun program starts in a few ms where Node needs ~60 ms,
 * and tsrunc is a short-lived command that engines run 3–5 times per
 * container. koffi stays out of the binary: under Bun the FFI is bun:ffi
 * (src/sys/ffi.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const repo = join(__dirname, '..', '..');

function bunExecutable(): string {
  const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  const pkg = `@oven/bun-${process.platform}-${arch}`;
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`, { paths: [repo] }));
  } catch {
    throw new Error(`${pkg} is not installed: tsrunc is compiled with Bun from the npm registry (npm ci installs it on linux x64)`);
  }
  const bin = join(dir, 'bin', 'bun');
  if (!existsSync(bin)) throw new Error(`${bin} is missing`);
  return bin;
}

const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
execFileSync(bunExecutable(), [
  'build', '--compile', '--bytecode', '--minify', '--target=bun',
  '--external', 'koffi',
  '--define', `TSRUNC_VERSION=${JSON.stringify(version)}`,
  join(repo, 'dist', 'cli', 'tsrunc.js'),
  '--outfile', join(repo, 'addon', 'build', 'tsrunc'),
], { stdio: ['ignore', 'ignore', 'inherit'] });
