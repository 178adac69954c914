/**
 * The file descriptors tsrunc's caller gave it, for --preserve-fds.
 *
 * The runtime opens fds of its own before any of tsrunc's code runs (Bun: an
 * epoll instance and the eventfd it watches), at the lowest free numbers. If
 * the caller left fd 3 closed and asked for --preserve-fds 1, fd 3 is then
 * the runtime's, and later the lowest free fds are tsrunc's own (a state
 * directory, a lock): passing them on would hand the container a host fd
 * (the CVE-2024-21626 pattern). So the fds are read once, at the very start
 * of the process, and the runtime's event-loop pair is told apart by what it
 * is: an epoll instance watching an eventfd of this same process.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { TsruncError } from '../sys/errors';

/** fds >= 3 open now, without the runtime's own event loop. Call it before opening anything. */
export function readInheritedFds(): Set<number> {
  const links = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd < 3) continue;
    try {
      links.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory fd readdirSync used, closed since
    }
  }
  for (const [fd, link] of links) {
    if (link !== 'anon_inode:[eventpoll]') continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const watched = [...info.matchAll(/^tfd:\s*(\d+)/gm)].map((m) => Number(m[1]));
    if (watched.length && watched.every((w) => links.get(w) === 'anon_inode:[eventfd]')) {
      links.delete(fd);
      for (const w of watched) links.delete(w);
    }
  }
  return new Set(links.keys());
}

/** --preserve-fds N: fds 3..3+N-1 must all have come from the caller. */
export function checkPreservedFds(n: number, inherited: ReadonlySet<number>): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TsruncError(`--preserve-fds ${n}: must be a non-negative integer`);
  for (let fd = 3; fd < 3 + n; fd++) {
    if (!inherited.has(fd)) throw new TsruncError(`--preserve-fds ${n}: file descriptor ${fd} is not open (fds 3 to ${2 + n} must be)`);
  }
}
