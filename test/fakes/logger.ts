import { Logger } from '../../src/sys/log';

/** A Logger (debug on) whose lines are kept as "level: msg" instead of going to stderr. */
export function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = new Logger(undefined, 'json', true, (line) => {
    const { level, msg } = JSON.parse(line) as { level: string; msg: string };
    lines.push(`${level}: ${msg}`);
  });
  return { log, lines };
}
