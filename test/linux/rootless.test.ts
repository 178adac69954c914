import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkUserNamespace, defaultStateRoot, inUserNamespace, prepareXdgRoot, rootlessMode } from '../../src/linux/rootless';

const user = { euid: 1000, egid: 1000, hostRoot: false };
const hostRoot = { euid: 0, egid: 0, hostRoot: true };
const nsRoot = { euid: 0, egid: 0, hostRoot: false };

describe('inUserNamespace', () => {
  it("is false only for the host's identity map of every id", () => {
    expect(inUserNamespace('         0          0 4294967295\n')).toBe(false);
    expect(inUserNamespace('         0       1000          1\n')).toBe(true);
    expect(inUserNamespace('0 0 1000\n1000 1000 4294966295\n')).toBe(true);
  });
});

describe('defaultStateRoot (runc 1.1 rules)', () => {
  const never = () => false, always = () => true;
  it('host root keeps /run/tsrunc even with XDG_RUNTIME_DIR set', () => {
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/0' }, 0, never)).toEqual({ root: '/run/tsrunc', xdg: false });
  });
  it('a user gets $XDG_RUNTIME_DIR/tsrunc, or /run/tsrunc without it', () => {
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000, never)).toEqual({ root: '/run/user/1000/tsrunc', xdg: true });
    expect(defaultStateRoot({}, 1000, never)).toEqual({ root: '/run/tsrunc', xdg: false });
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '' }, 1000, never)).toEqual({ root: '/run/tsrunc', xdg: false });
  });
  it('root of a user namespace (rootless podman) gets it unless USER=root', () => {
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000', USER: 'alice' }, 0, always).root).toBe('/run/user/1000/tsrunc');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 0, always).root).toBe('/run/user/1000/tsrunc');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/0', USER: 'root' }, 0, always).root).toBe('/run/tsrunc');
  });
});

describe('prepareXdgRoot', () => {
  it('makes the directory 0700 and sticky, and says which directory when it cannot', () => {
    const d = mkdtempSync(join(tmpdir(), 'xdg-'));
    try {
      prepareXdgRoot(join(d, 'tsrunc'));
      expect(statSync(join(d, 'tsrunc')).mode & 0o7777).toBe(0o1700);
      writeFileSync(join(d, 'file'), '');
      expect(() => prepareXdgRoot(join(d, 'file', 'tsrunc'))).toThrow(/state directory .*file\/tsrunc .*ENOTDIR/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('rootlessMode (--rootless)', () => {
  it('auto: rootless unless host root; true and false as given; anything else an error', () => {
    expect(rootlessMode('auto', user)).toBe(true);
    expect(rootlessMode('auto', nsRoot)).toBe(true);
    expect(rootlessMode('auto', hostRoot)).toBe(false);
    expect(rootlessMode('true', hostRoot)).toBe(true);
    expect(rootlessMode('false', user)).toBe(false);
    expect(() => rootlessMode('yes', user)).toThrow(/--rootless "yes"/);
  });
});

describe('checkUserNamespace', () => {
  it('a user needs a user namespace; root (host or namespace) does not', () => {
    expect(() => checkUserNamespace(user, [{ type: 'pid' }])).toThrow(/uid 1000 \(not root\).*"user"/);
    expect(() => checkUserNamespace(user, [{ type: 'user' }])).not.toThrow();
    expect(() => checkUserNamespace(nsRoot, [])).not.toThrow();
    expect(() => checkUserNamespace(hostRoot, [])).not.toThrow();
  });
});
