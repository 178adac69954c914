/**
 * The unprivileged user the rootless tests run as, made by the test setup
 * itself: `tsrunc-test`, with subordinate uid and gid ranges in /etc/subuid
 * and /etc/subgid (what newuidmap/newgidmap and rootless podman need).
 * Idempotent: an existing user and existing ranges are kept; nothing the
 * machine had before is changed or removed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, type Result, type RunOptions } from '../helpers/harness';

export const TEST_USER = 'tsrunc-test';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** The first of the user's subordinate uids and gids, and how many. */
  subuid: { start: number; count: number };
  subgid: { start: number; count: number };
}

function passwdEntry(name: string): string[] | undefined {
  return readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
}

function subRange(file: string, name: string): { start: number; count: number } | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.split('\n').map((l) => l.split(':')).find((e) => e[0] === name && Number(e[2]) >= 65536);
  return f ? { start: Number(f[1]), count: Number(f[2]) } : undefined;
}

/** The first free block of 65536 ids at or above 100000 in a subid file (one that overlaps no line). */
function freeRange(file: string): number {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no file yet
  }
  const used = text.split('\n').map((l) => l.split(':')).filter((f) => f.length === 3).map((f) => [Number(f[1]), Number(f[1]) + Number(f[2])]);
  let start = 100000;
  for (;;) {
    const clash = used.find(([a, b]) => start < b && a < start + 65536);
    if (!clash) return start;
    start = clash[1];
  }
}

export function ensureTestUser(): TestUser {
  if (!passwdEntry(TEST_USER)) {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', TEST_USER], { stdio: 'pipe' });
  }
  // useradd allocates ranges on Debian (SUB_UID_COUNT); a user made without them gets a free block.
  if (!subRange('/etc/subuid', TEST_USER)) {
    const s = freeRange('/etc/subuid');
    execFileSync('usermod', ['--add-subuids', `${s}-${s + 65535}`, TEST_USER], { stdio: 'pipe' });
  }
  if (!subRange('/etc/subgid', TEST_USER)) {
    const s = freeRange('/etc/subgid');
    execFileSync('usermod', ['--add-subgids', `${s}-${s + 65535}`, TEST_USER], { stdio: 'pipe' });
  }
  const f = passwdEntry(TEST_USER)!;
  return {
    name: TEST_USER, uid: Number(f[2]), gid: Number(f[3]), home: f[5],
    subuid: subRange('/etc/subuid', TEST_USER)!, subgid: subRange('/etc/subgid', TEST_USER)!,
  };
}

/**
 * Runs a program as the user: real and effective ids, its groups, no
 * capabilities (setresuid from root to a user clears them), a clean
 * environment of the user's own.
 */
export function asUser(u: TestUser, cmd: string, args: string[], env: Record<string, string | undefined>, o: Omit<RunOptions, 'env'> & { cgroups?: string[] } = {}): Promise<Result> {
  const base = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: u.home, USER: u.name, LOGNAME: u.name };
  const full = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  const setpriv = ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', cmd, ...args];
  if (!o.cgroups) return exec(setpriv[0], setpriv.slice(1), { ...o, env: full });
  // First into the user's delegated cgroups (as a session manager puts a user's session), then the user.
  const enter = o.cgroups.map((_, i) => `echo $$ > "\${${i + 1}}/cgroup.procs" || exit 99;`).join(' ');
  return exec('sh', ['-c', `${enter} shift ${o.cgroups.length}; exec "$@"`, 'sh', ...o.cgroups, ...setpriv], { ...o, env: full });
}

/**
 * A cgroup subtree delegated to the user, as systemd's Delegate=yes does: a
 * directory of the test's own in every hierarchy, owned by the user (cpuset
 * filled in from its parent first, as v1 needs). remove() takes them away
 * once empty.
 */
export function delegateCgroups(u: TestUser, name: string): { dirs: string[]; remove(): void } {
  const dirs: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', h);
    if (!existsSync(join(parent, 'cgroup.procs'))) continue;
    const d = join(parent, name);
    mkdirSync(d, { recursive: true });
    dirs.push(d);
    for (const f of ['cpuset.cpus', 'cpuset.mems']) if (existsSync(join(parent, f))) writeFileSync(join(d, f), readFileSync(join(parent, f)));
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, d]);
  }
  return {
    dirs,
    remove() {
      for (const d of dirs) {
        try {
          rmdirSync(d);
        } catch {
          // still in use: the after-run check reports it
        }
      }
    },
  };
}
