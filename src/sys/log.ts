import { appendFileSync } from 'node:fs';
import { writeAll } from './stdio';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';

/**
 * tsrunc's log, as runc writes it: to --log FILE (default: stderr) in
 * --log-format text (logrus style) or json (one object per line with level,
 * msg and time; containerd shows the last "msg" of a failed call). Debug lines
 * only with --debug. Writes are synchronous appends so that the last line
 * is on disk when tsrunc exits.
 */
export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: LogFormat = 'text',
    readonly debugEnabled = false,
    private readonly stderr: (line: string) => void = (line) => writeAll(2, line),
  ) {}

  debug(msg: string): void { if (this.debugEnabled) this.write('debug', msg); }
  info(msg: string): void { this.write('info', msg); }
  warn(msg: string): void { this.write('warning', msg); }
  error(msg: string): void { this.write('error', msg); }

  private write(level: LogLevel, msg: string): void {
    const time = new Date().toISOString();
    const line = this.format === 'json'
      ? JSON.stringify({ level, msg, time }) + '\n'
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (this.file) {
      try {
        appendFileSync(this.file, line, { mode: 0o644 });
        return;
      } catch {
        // An unwritable log must not hide the message: fall through to stderr.
      }
    }
    // Errors also go to stderr as a plain line (see cli/main.ts); avoid printing them twice.
    if (level !== 'error') this.stderr(line);
  }
}

/** A logger that drops everything: for library callers and unit tests. */
export const silentLogger = new Logger(undefined, 'text', false, () => {});
