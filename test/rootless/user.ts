/**
 * The unprivileged user the rootless tests run as, made by the test setup
 * itself: `tsrunc-test`, with subordinate uid and gid ranges in /etc/subuid
 * and /etc/subgid (what newuidmap/newgidmap and rootless podman need).
 * Idempotent: an existing user and existing ranges are kept; nothing the
 * machine had before is changed or removed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
export function asUser(u: TestUser, cmd: string, args: string[], env: Record<string, string | undefined>, o: Omit<RunOptions, 'env'> = {}): Promise<Result> {
  const base = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: u.home, USER: u.name, LOGNAME: u.name };
  const full = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return exec('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', cmd, ...args], { ...o, env: full });
}
