import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InitChannel } from './channel';
import {
  addSeals, memfdCreate, socketpair, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, MFD_ALLOW_SEALING, MFD_CLOEXEC,
} from '../sys/libc';

export const ADDON_DIR = join(__dirname, '..', '..', 'addon', 'build');
export const INIT_BINARY = join(ADDON_DIR, 'tsrunc-init');
export const SHIM_BINARY = join(ADDON_DIR, 'tsrunc-shim');

/** Who becomes the container's parent once tsrunc-init's first process exits. */
export type Supervision =
  /** The caller's subreaper (containerd's shim, conmon) or PID 1, exactly as with runc. */
  | { kind: 'caller' }
  /** This tsrunc process, which later execs into tsrunc-shim in the foreground. */
  | { kind: 'self' }
  /** A detached tsrunc-shim that outlives tsrunc. */
  | { kind: 'shim'; stateDir: string; logFile?: string };

export interface LaunchOptions {
  /** The container's stdin, stdout, stderr: fds of this process, or 'inherit'. */
  stdio?: [number | 'inherit', number | 'inherit', number | 'inherit'];
  /** --preserve-fds: fds 3..3+n-1 of this process go to the container unchanged. */
  preserveFds: number;
  /**
   * Other fds of this process the init needs (the console socket, the
   * seccomp listener socket): placed after the preserved ones; see
   * LaunchedInit.passedFds for their numbers in the init.
   */
  pass?: number[];
  supervision: Supervision;
}

export interface LaunchedInit {
  channel: InitChannel;
  /** The process spawned here: tsrunc-init itself, or the detached shim. */
  child: ChildProcess;
  /** The numbers that LaunchOptions.pass got inside tsrunc-init, in order. */
  passedFds: number[];
  /** Tells the detached shim which pid is the container (see tellShim). */
  shimControl?: number;
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
 * Starts tsrunc-init with the container's stdio on 0-2, the preserved fds on
 * 3.., the passed sockets next, and the request channel last: the init
 * closes everything above the channel at once.
 */
export function launchInit(opts: LaunchOptions): LaunchedInit {
  const [ours, theirs] = socketpair();
  const image = sealedInitCopy();
  try {
    const stdio: StdioOptions = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit'])];
    for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
    const passedFds: number[] = [];
    for (const fd of opts.pass ?? []) {
      passedFds.push(stdio.length);
      stdio.push(fd);
    }
    const channelFd = stdio.length;
    stdio.push(theirs);
    const initPath = `/proc/self/fd/${image}`;
    let child: ChildProcess;
    let shimControl: number | undefined;
    if (opts.supervision.kind === 'shim') {
      // The shim forks the init, so the container ends up as the shim's child (it is a subreaper).
      const [ctlOurs, ctlTheirs] = socketpair();
      const ctlFd = stdio.length;
      stdio.push(ctlTheirs);
      const imageFd = stdio.length;
      stdio.push(image);
      child = spawn(SHIM_BINARY, ['supervise', opts.supervision.stateDir, String(ctlFd), opts.supervision.logFile ?? '-', '--',
        `/proc/self/fd/${imageFd}`, String(channelFd)], { stdio, detached: true, argv0: 'tsrunc-shim' });
      child.unref();
      closeSync(ctlTheirs);
      shimControl = ctlOurs;
    } else {
      child = spawn(initPath, [String(channelFd)], { stdio, argv0: 'tsrunc-init' });
    }
    child.on('error', () => {}); // a failed spawn surfaces as EOF on the channel
    return { channel: new InitChannel(ours), child, passedFds, shimControl };
  } finally {
    closeSync(theirs);
    closeSync(image);
  }
}

/** Tells a detached shim the container's pid (or, with undefined, that there is none: create failed). */
export function tellShim(control: number, pid: number | undefined): void {
  try {
    if (pid !== undefined) writeSync(control, `${pid}\n`);
  } finally {
    closeSync(control);
  }
}
