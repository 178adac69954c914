import { MOUNT_ATTR, MS } from './constants';
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
  /** Recursive attributes (rro, rnosuid, ...): mount_setattr(AT_RECURSIVE) on the mount and every mount below it. */
  recursiveAttrs?: { set: number; clear: number };
  /** "idmap" / "ridmap": the mount is id-mapped (ridmap: the mounts below it too). */
  idmap?: 'idmap' | 'ridmap';
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

// [clear?, MOUNT_ATTR_*]: the recursive forms, applied with mount_setattr(2) (runtime-spec's list).
const RECURSIVE_OPTIONS: Record<string, [boolean, number]> = {
  rro: [false, MOUNT_ATTR.RDONLY], rrw: [true, MOUNT_ATTR.RDONLY], rnosuid: [false, MOUNT_ATTR.NOSUID], rsuid: [true, MOUNT_ATTR.NOSUID],
  rnodev: [false, MOUNT_ATTR.NODEV], rdev: [true, MOUNT_ATTR.NODEV], rnoexec: [false, MOUNT_ATTR.NOEXEC], rexec: [true, MOUNT_ATTR.NOEXEC],
  rnodiratime: [false, MOUNT_ATTR.NODIRATIME], rdiratime: [true, MOUNT_ATTR.NODIRATIME],
  rrelatime: [false, MOUNT_ATTR.RELATIME], rnorelatime: [true, MOUNT_ATTR.RELATIME],
  rnoatime: [false, MOUNT_ATTR.NOATIME], ratime: [true, MOUNT_ATTR.NOATIME],
  rstrictatime: [false, MOUNT_ATTR.STRICTATIME], rnostrictatime: [true, MOUNT_ATTR.STRICTATIME],
  rnosymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW], rsymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
};
const ATIME_OPTIONS = new Set(['rrelatime', 'rnoatime', 'rstrictatime']);

/** Every option name tsrunc understands itself (for `features`); others go to the filesystem as data. */
export const KNOWN_MOUNT_OPTIONS = [
  ...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), ...Object.keys(RECURSIVE_OPTIONS), 'bind', 'rbind', 'tmpcopyup', 'idmap', 'ridmap',
].sort();

export function parseMountOptions(m: Mount): MountOptions {
  const out: MountOptions = { flags: 0, propagation: [], data: '', bind: m.type === 'bind', recursive: false, tmpcopyup: false };
  const data: string[] = [];
  for (const opt of m.options ?? []) {
    if (opt === 'bind') out.bind = true;
    else if (opt === 'rbind') { out.bind = true; out.recursive = true; }
    else if (opt === 'tmpcopyup') out.tmpcopyup = true;
    else if (opt === 'idmap' || opt === 'ridmap') out.idmap = opt;
    else if (Object.hasOwn(RECURSIVE_OPTIONS, opt)) {
      const [clear, attr] = RECURSIVE_OPTIONS[opt];
      const r = (out.recursiveAttrs ??= { set: 0, clear: 0 });
      if (clear) {
        r.clear |= attr;
        r.set &= ~attr;
      } else {
        r.set |= attr;
        r.clear &= ~attr;
        // The access-time mode is one field: setting one means clearing the field first (mount_setattr(2)).
        if (ATIME_OPTIONS.has(opt)) {
          r.set = (r.set & ~MOUNT_ATTR._ATIME) | attr;
          r.clear |= MOUNT_ATTR._ATIME;
        }
      }
    }
    else if (Object.hasOwn(PROPAGATION_OPTIONS, opt)) out.propagation.push(PROPAGATION_OPTIONS[opt]);
    else if (Object.hasOwn(FLAG_OPTIONS, opt)) {
      const [clear, flag] = FLAG_OPTIONS[opt];
      out.flags = clear ? out.flags & ~flag : out.flags | flag;
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
