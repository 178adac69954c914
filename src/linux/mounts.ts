import { MS } from './constants';
import { TsruncError } from '../sys/errors';
import type { Mount } from '../spec/types';

/** A config mount's options, split the way mount(2) wants them. */
export interface MountOptions {
  /** MS_* flags for the mount call itself. */
  flags: number;
  /** Propagation changes, each applied by a separate mount(2) call after the mount. */
  propagation: number[];
  /** Options the filesystem interprets (mode=755, size=64k, ...), comma-joined. */
  data: string;
  bind: boolean;
  recursive: boolean;
  /** runc's extension: copy what the image has under the target into a new tmpfs. */
  tmpcopyup: boolean;
}

// [clear?, flag]: "rw" clears MS_RDONLY, "ro" sets it (runc's table, from mount(8)).
const FLAG_OPTIONS: Record<string, [boolean, number]> = {
  async: [true, MS.SYNCHRONOUS], atime: [true, MS.NOATIME], defaults: [false, 0], dev: [true, MS.NODEV],
  diratime: [true, MS.NODIRATIME], dirsync: [false, MS.DIRSYNC], exec: [true, MS.NOEXEC],
  iversion: [false, MS.I_VERSION], lazytime: [false, MS.LAZYTIME], loud: [true, MS.SILENT],
  mand: [false, MS.MANDLOCK], noatime: [false, MS.NOATIME], nodev: [false, MS.NODEV],
  nodiratime: [false, MS.NODIRATIME], noexec: [false, MS.NOEXEC], noiversion: [true, MS.I_VERSION],
  nolazytime: [true, MS.LAZYTIME], nomand: [true, MS.MANDLOCK], norelatime: [true, MS.RELATIME],
  nostrictatime: [true, MS.STRICTATIME], nosuid: [false, MS.NOSUID], nosymfollow: [false, MS.NOSYMFOLLOW],
  relatime: [false, MS.RELATIME], remount: [false, MS.REMOUNT], ro: [false, MS.RDONLY], rw: [true, MS.RDONLY],
  silent: [false, MS.SILENT], strictatime: [false, MS.STRICTATIME], suid: [true, MS.NOSUID],
  symfollow: [true, MS.NOSYMFOLLOW], sync: [false, MS.SYNCHRONOUS],
};

export const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Every option name tsrunc understands itself (for `features`); others go to the filesystem as data. */
export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), 'bind', 'rbind'].sort();

export function parseMountOptions(m: Mount): MountOptions {
  const out: MountOptions = { flags: 0, propagation: [], data: '', bind: m.type === 'bind', recursive: false, tmpcopyup: false };
  const data: string[] = [];
  for (const opt of m.options ?? []) {
    if (opt === 'bind') out.bind = true;
    else if (opt === 'rbind') { out.bind = true; out.recursive = true; }
    else if (opt === 'tmpcopyup') out.tmpcopyup = true;
    else if (Object.hasOwn(PROPAGATION_OPTIONS, opt)) out.propagation.push(PROPAGATION_OPTIONS[opt]);
    else if (Object.hasOwn(FLAG_OPTIONS, opt)) {
      const [clear, flag] = FLAG_OPTIONS[opt];
      out.flags = clear ? out.flags & ~flag : out.flags | flag;
    } else if (/^(r(ro|rw|nosuid|suid|nodev|dev|noexec|exec|atime|noatime|relatime|norelatime|strictatime|nostrictatime|nodiratime|diratime|nosymfollow|symfollow)|idmap|ridmap)$/.test(opt)) {
      throw new TsruncError(`mount ${m.destination}: option ${JSON.stringify(opt)} is not supported by tsrunc`);
    } else {
      data.push(opt);
    }
  }
  out.data = data.join(',');
  return out;
}

/** Lexically cleans an absolute container path: "/a//b/../c/" -> "/a/c"; never climbs above "/". */
export function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

/** A /proc/<pid>/mountinfo field unescaped: the kernel writes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount points a mountinfo text lists, unescaped, in its order (a point mounted over appears again). */
export function mountPointsOf(mountinfo: string): string[] {
  return mountinfo.split('\n').map((line) => line.split(' ')[4]).filter((p): p is string => !!p).map(unescapeMountinfo);
}

/**
 * The mount points of whole (root "/") procfs and sysfs mounts in a
 * mountinfo text, deepest first. The kernel lets a user namespace mount a
 * fresh proc or sysfs only where such a fully visible one exists in its
 * mount namespace.
 */
export function fullProcSysfsMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields[3] !== '/' || (fields[sep + 1] !== 'proc' && fields[sep + 1] !== 'sysfs')) continue;
    out.push(unescapeMountinfo(fields[4]));
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Whether the absolute path is dir itself or lies below it, by its text. */
export function isAtOrBelow(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
