import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { InitChannel } from './channel';
import {
  addSeals, execve, memfdCreate, setChildSubreaper, socketpair, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, MFD_ALLOW_SEALING, MFD_CLOEXEC,
} from '../sys/libc';
import { BIN_DIR } from '../sys/runtime';

export const INIT_BINARY = join(BIN_DIR, 'tsrunc-init');
export const SHIM_BINARY = join(BIN_DIR, 'tsrunc-shim');

/** Who becomes the container's parent once tsrunc-init's first process exits. */
export type Supervision =
  /** The caller's subreaper (containerd's shim, conmon) or PID 1, exactly as with runc. */
  | { kind: 'caller' }
  /** The calling process itself (foreground run and exec), which later execs into tsrunc-shim. */
  | { kind: 'self' }
  /** A detached tsrunc-shim that outlives tsrunc; it learns the container's pid from <stateDir>/pid. */
  | { kind: 'shim'; stateDir: string; logFile?: string };

export interface LaunchOptions {
  /** --preserve-fds: fds 3..3+n-1 of the caller go to the container unchanged. */
  preserveFds: number;
  supervision: Supervision;
  /**
   * Foreground with a terminal and no --console-socket: a socketpair whose one
   * end tsrunc-init gets (to send the pty master on) and whose other end stays
   * with the caller for tsrunc-shim.
   */
  consolePair?: boolean;
}

export interface LaunchedInit {
  channel: InitChannel;
  /** With consolePair: the init's end, as an fd number inside tsrunc-init. */
  consoleFd?: number;
  /** With consolePair: the caller's end, as an fd number in the calling process (kept for execInPlace). */
  consoleKeep?: number;
  /** Kill what was launched (a failed create). */
  kill(): void;
}

/**
 * A sealed in-memory copy of tsrunc-init to exec from. The process that
 * joins the container then runs a file that nothing can open for writing, so
 * a container that reaches it through /proc/<pid>/exe cannot overwrite the
 * binary on disk (CVE-2019-5736 class). The copy is ~700 KB, once per call.
 */
function sealedInitCopy(): number {
  const fd = memfdCreate('tsrunc-init', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  const image = readFileSync(INIT_BINARY);
  for (let off = 0; off < image.length;) off += writeSync(fd, image, off);
  addSeals(fd, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  return fd;
}

/**
 * Starts tsrunc-init (or tsrunc-shim, which forks it) as a child of this
 * process, with the caller's stdio and preserved fds and the request channel
 * on a socketpair. The container's init descends from whoever ran tsrunc, so
 * when tsrunc exits it is re-parented to the caller's subreaper, as with runc.
 */
export async function launchInit(opts: LaunchOptions): Promise<LaunchedInit> {
  // The init's fds: stdio, the preserved ones, the console end, and the channel last (it closes all above).
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  const pair = opts.consolePair ? socketpair() : undefined;
  let consoleFd: number | undefined;
  if (pair) {
    consoleFd = stdio.length;
    stdio.push(pair[1]);
  }
  // 'pipe' gives the child a unix socketpair at that fd: the request channel.
  const channelFd = stdio.length;
  stdio.push('pipe');
  const image = opts.supervision.kind === 'shim' ? undefined : sealedInitCopy();
  try {
    const child = opts.supervision.kind === 'shim'
      // The shim forks the init (from its own sealed copy), so the container ends up as the shim's child.
      ? spawn(SHIM_BINARY, ['supervise', opts.supervision.stateDir, opts.supervision.logFile ?? '-', '--', INIT_BINARY, String(channelFd)],
        { stdio, detached: true, argv0: 'tsrunc-shim' })
      : spawn(`/proc/self/fd/${image}`, [String(channelFd)], { stdio, argv0: 'tsrunc-init' });
    if (opts.supervision.kind === 'shim') child.unref();
    child.on('error', () => {}); // a failed spawn surfaces as EOF on the channel
    return {
      channel: new InitChannel(child.stdio[channelFd] as Duplex), consoleFd, consoleKeep: pair?.[0],
      kill: () => child.kill('SIGKILL'),
    };
  } finally {
    if (image !== undefined) closeSync(image);
    if (pair) closeSync(pair[1]);
  }
}

/** Foreground run/exec: this process becomes a child subreaper, so the container is re-parented to it. */
export function becomeSubreaper(): void {
  setChildSubreaper();
}

/** Foreground run/exec: this process becomes `path` (tsrunc-shim) in place, same pid, keeping stdio and these fds. */
export function execInPlace(path: string, argv: string[], env: string[], keepFds: number[]): never {
  return execve(path, argv, env, [0, 1, 2, ...keepFds]);
}
