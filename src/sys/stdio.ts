/**
 * Output to stdout and stderr with plain write(2). tsrunc writes a line or a
 * JSON document and exits; Bun's process.stdout/stderr streams cost more CPU
 * to set up than most commands spend on their work (and they switch the
 * shared file description to O_NONBLOCK under the caller's feet).
 */
import { writeSync } from 'node:fs';
import { errnoOf } from './errors';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of text to fd; waits out EAGAIN (a non-blocking pipe that is full); a reader gone (EPIPE) ends it. */
export function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  for (let off = 0; off < data.length;) {
    try {
      off += writeSync(fd, data, off);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EAGAIN') Atomics.wait(pause, 0, 0, 2);
      else if (code === 'EINTR') continue;
      else if (code === 'EPIPE') return;
      else throw err;
    }
  }
}
