/**
 * Running without host root: as an unprivileged user, or as root of a user
 * namespace (rootless podman runs the runtime there). tsrunc then gains no
 * privilege the caller lacks: no setuid helper of its own, no root-only path.
 * The rules here are runc 1.1's, so engines see the same behaviour.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { TsruncError, errnoOf } from '../sys/errors';

/** True when this process is in a user namespace other than the host's (its uid_map is not the identity of all ids). */
export function inUserNamespace(uidMap?: string): boolean {
  let text = uidMap;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/uid_map', 'utf8');
    } catch {
      return false;
    }
  }
  const lines = text.trim().split('\n').map((l) => l.trim().split(/\s+/));
  return !(lines.length === 1 && lines[0][0] === '0' && lines[0][1] === '0' && lines[0][2] === '4294967295');
}

/** The caller's privilege: host root, or not (a user, or root of a user namespace). */
export interface Caller {
  euid: number;
  egid: number;
  /** Root of the host's user namespace: the only case where tsrunc may write any id map and create any cgroup. */
  hostRoot: boolean;
}

export function currentCaller(): Caller {
  const euid = process.geteuid?.() ?? 0;
  return { euid, egid: process.getegid?.() ?? 0, hostRoot: euid === 0 && !inUserNamespace() };
}

/**
 * --rootless true|false|auto, as runc: whether cgroups that cannot be
 * written are skipped (when the config asks for no limits). auto: rootless
 * unless tsrunc is the host's root.
 */
export function rootlessMode(flag: string, caller: Caller = currentCaller()): boolean {
  if (flag === 'true') return true;
  if (flag === 'false') return false;
  if (flag !== 'auto') throw new TsruncError(`invalid --rootless ${JSON.stringify(flag)}: must be true, false or auto`);
  return !caller.hostRoot;
}

/**
 * The default --root, as runc's: $XDG_RUNTIME_DIR/tsrunc when XDG_RUNTIME_DIR
 * is set and tsrunc is not the host's root (as root of a user namespace,
 * unless USER=root); otherwise /run/tsrunc. runc does not check who owns
 * XDG_RUNTIME_DIR: a directory the user cannot write fails at mkdir, with
 * its path in the error.
 */
export function defaultStateRoot(env: NodeJS.ProcessEnv, euid: number, inUserns: () => boolean = inUserNamespace): { root: string; xdg: boolean } {
  const xdg = env.XDG_RUNTIME_DIR;
  const honour = !!xdg && (euid !== 0 || (inUserns() && env.USER !== 'root'));
  return honour ? { root: `${xdg}/tsrunc`, xdg: true } : { root: '/run/tsrunc', xdg: false };
}

/**
 * An XDG runtime directory's state root is made now, mode 0700 and sticky,
 * as the XDG spec asks of anything kept in XDG_RUNTIME_DIR (and as runc
 * does), so that nothing cleans it up while containers live.
 */
export function prepareXdgRoot(root: string): void {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    chmodSync(root, 0o1700);
  } catch (err) {
    throw new TsruncError(`state directory ${root} (from XDG_RUNTIME_DIR): ${errnoOf(err) ?? (err as Error).message}`);
  }
}

/** Without host root, a container needs a user namespace of its own (or one joined): nothing else can give it root. */
export function checkUserNamespace(caller: Caller, namespaces: { type: string }[] = []): void {
  if (caller.hostRoot || caller.euid === 0) return;
  if (!namespaces.some((n) => n.type === 'user')) {
    throw new TsruncError(`linux.namespaces: tsrunc runs as uid ${caller.euid} (not root), so the container needs a user namespace ({"type": "user"}, as \`tsrunc spec --rootless\` writes)`);
  }
}
