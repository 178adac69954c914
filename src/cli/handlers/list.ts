import type { CommandContext } from '../context';
import type { Flags } from '../flags';
import { deriveStatus, ociState } from '../../container/status';
import { TsruncError } from '../../sys/errors';
import { storeOf } from './common';
import { readFileSync, statSync } from 'node:fs';

/** Who owns a container, as runc says: the user name of its state directory's owner, or #uid. */
function ownerOf(dir: string): string {
  let uid: number;
  try {
    uid = statSync(dir).uid;
  } catch {
    return '';
  }
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    // no passwd file
  }
  return `#${uid}`;
}

/** `list`: never takes a container's lock, so a busy container cannot stall it. */
export async function run(ctx: CommandContext<Flags<'list'>>): Promise<number> {
  const format = ctx.flags.format;
  if (format !== 'table' && format !== 'json') throw new TsruncError(`invalid --format ${JSON.stringify(format)}: must be table or json`);
  const store = storeOf(ctx);
  const rows = [];
  for (const id of store.ids()) {
    const record = store.tryRead(id);
    if (!record) continue; // being created, not yet recorded
    const status = deriveStatus(record, store.dir(id));
    const exit = status === 'stopped' ? store.readExit(id) : undefined;
    rows.push({ ...ociState(record, status), owner: ownerOf(store.dir(id)), created: record.created, pid: status === 'stopped' ? 0 : record.pid ?? 0, ...(exit ? { exitCode: exit.exitCode } : {}) });
  }
  if (ctx.flags.quiet) {
    ctx.stdout(rows.map((r) => `${r.id}\n`).join(''));
  } else if (format === 'json') {
    ctx.stdout(JSON.stringify(rows) + '\n');
  } else {
    const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
      ...rows.map((r) => [r.id, String(r.pid), r.exitCode !== undefined ? `stopped (${r.exitCode})` : r.status, r.bundle, String(r.created), r.owner])];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    ctx.stdout(table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('   ')).join('\n') + '\n');
  }
  return 0;
}
