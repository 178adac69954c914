import { readFileSync } from 'node:fs';
import { isAtOrBelow, mountPointsOf } from '../linux/mounts';
import { isAlive } from '../linux/proc';
import { TsruncError } from '../sys/errors';
import { umount2, MNT_DETACH } from '../sys/libc';

/* What create (undoing a half-built container) and delete both take down: processes and host mounts. */

/** SIGKILL pid (if it is still the process we started) and wait until it is gone. */
export async function killAndWait(pid: number, startTime: string | undefined, timeoutMs = 10_000): Promise<void> {
  if (startTime === undefined || !isAlive(pid, startTime)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) throw new TsruncError(`process ${pid} did not die after SIGKILL`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Unmounts everything mounted on or below dir in tsrunc's mount namespace,
 * deepest first: what a container without its own mount namespace left.
 */
export async function unmountUnder(dir: string): Promise<void> {
  const points = mountPointsOf(readFileSync('/proc/self/mountinfo', 'utf8')).filter((p) => isAtOrBelow(p, dir));
  for (const p of [...new Set(points)].sort((a, b) => b.length - a.length)) {
    try {
      umount2(p, MNT_DETACH);
    } catch {
      // already gone with its parent
    }
  }
}
