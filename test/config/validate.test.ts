/**
 * config.json and process.json validation.
 *
 * The rules beyond the schema (configProblems, processProblems) are pure
 * functions: they are tested from src. Everything that runs the schema
 * (validateConfig, validateProcess, validateDocument, loadConfig) needs the
 * validators that only the build generates (dist/spec/validators.js, which
 * src/config/validate.ts loads with require('../spec/validators.js')): those are
 * tested through the compiled module in dist/, loaded with Node's own
 * require so that its require of ../spec/validators.js resolves. A freshness check
 * makes a stale build fail loudly instead of testing old code.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configProblems, processProblems } from '../../src/config/validate';
import { defaultSpec, rootlessSpec } from '../../src/spec/defaults';
import type { Process, Spec } from '../../src/spec/types';

const repo = join(__dirname, '..', '..');
const compiled = createRequire(__filename)(join(repo, 'dist', 'config', 'validate.js')) as typeof import('../../src/config/validate');
const { ValidationError, validateConfig, validateProcess, validateDocument, loadConfig, parseJson } = compiled;

function proc(edit?: (p: Process) => void): Process {
  const p: Process = { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' };
  edit?.(p);
  return p;
}

function spec(edit?: (s: Spec) => void): Spec {
  const s = defaultSpec();
  edit?.(s);
  return s;
}

/** The error fn throws, as a ValidationError of the compiled module. */
function validationError(fn: () => unknown): InstanceType<typeof ValidationError> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as InstanceType<typeof ValidationError>;
  }
  throw new Error('did not throw');
}

describe('the build is fresh', () => {
  it('dist/config/validate.js is not older than src/config/validate.ts (run `npm run build`)', () => {
    expect(statSync(join(repo, 'dist', 'config', 'validate.js')).mtimeMs).toBeGreaterThanOrEqual(statSync(join(repo, 'src', 'config', 'validate.ts')).mtimeMs);
  });
});

describe('processProblems', () => {
  it('finds nothing wrong in a good process', () => {
    expect(processProblems(defaultSpec().process!, '/process')).toEqual([]);
  });

  it.each<[string, (p: Process) => void, string, string]>([
    ['relative cwd', (p) => { p.cwd = 'work'; }, '/cwd', 'must be an absolute path'],
    ['empty cwd', (p) => { p.cwd = ''; }, '/cwd', 'must be an absolute path'],
    ['no args', (p) => { delete p.args; }, '/args', 'must name the program to run'],
    ['empty args', (p) => { p.args = []; }, '/args', 'must name the program to run'],
    ['unknown capability', (p) => { p.capabilities = { bounding: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_NOPE'] }; }, '/capabilities/ambient/1', 'unknown capability "CAP_NOPE"'],
    ['unknown rlimit', (p) => { p.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }]; }, '/rlimits/0/type', 'unknown rlimit "RLIMIT_NOPE"'],
    ['duplicate rlimit', (p) => { p.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }]; }, '/rlimits/2/type', 'duplicate rlimit RLIMIT_NOFILE'],
    ['soft above hard', (p) => { p.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]; }, '/rlimits/0', 'soft limit must not exceed the hard limit'],
  ])('%s', (_, edit, path, message) => {
    expect(processProblems(proc(edit), '/process')).toEqual([{ path: `/process${path}`, message }]);
    expect(processProblems(proc(edit), '')).toEqual([{ path, message }]);
  });

  it('accepts consoleSize without a terminal (the spec: runtimes ignore it then)', () => {
    expect(processProblems(proc((p) => { p.terminal = false; p.consoleSize = { height: 1, width: 1 }; }), '/process')).toEqual([]);
  });

  it('reports every problem, in order', () => {
    const p = proc((x) => {
      x.cwd = 'rel';
      x.args = [];
      x.capabilities = { bounding: ['CAP_A'], effective: ['CAP_B'] };
      x.rlimits = [{ type: 'RLIMIT_X', soft: 2, hard: 1 }];
    });
    expect(processProblems(p, '')).toEqual([
      { path: '/cwd', message: 'must be an absolute path' },
      { path: '/args', message: 'must name the program to run' },
      { path: '/capabilities/bounding/0', message: 'unknown capability "CAP_A"' },
      { path: '/capabilities/effective/0', message: 'unknown capability "CAP_B"' },
      { path: '/rlimits/0/type', message: 'unknown rlimit "RLIMIT_X"' },
      { path: '/rlimits/0', message: 'soft limit must not exceed the hard limit' },
    ]);
  });

  it('accepts a console size with a terminal, and soft equal to hard', () => {
    expect(processProblems(proc((p) => {
      p.terminal = true;
      p.consoleSize = { height: 24, width: 80 };
      p.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 5, hard: 5 }];
    }), '')).toEqual([]);
  });
});

describe('configProblems', () => {
  it("finds nothing wrong in runc's default and rootless configs", () => {
    expect(configProblems(defaultSpec())).toEqual([]);
    expect(configProblems(rootlessSpec(1000, 1000))).toEqual([]);
  });

  it.each<[string, (s: Spec) => void, string, string]>([
    ['no root', (s) => { delete s.root; }, '/root', 'is required on Linux'],
    ['a bad process, under /process', (s) => { s.process!.cwd = 'x'; }, '/process/cwd', 'must be an absolute path'],
    ['a namespace type twice', (s) => { s.linux!.namespaces!.push({ type: 'pid', path: '/proc/1/ns/pid' }); }, '/linux/namespaces/6/type', 'namespace type "pid" given more than once'],
    ['a relative namespace path', (s) => { s.linux!.namespaces![1].path = 'proc/1/ns/net'; }, '/linux/namespaces/1/path', 'must be an absolute path'],
    ['a hostname without a uts namespace', (s) => { s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts'); }, '/hostname', 'can only be set with a uts namespace of the container (add {"type": "uts"} to linux.namespaces)'],
    ['a domainname without a uts namespace', (s) => { delete s.hostname; s.domainname = 'example'; s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts'); }, '/domainname', 'can only be set with a uts namespace of the container (add {"type": "uts"} to linux.namespaces)'],
    ['a relative hook path', (s) => { s.hooks = { poststop: [{ path: '/ok' }, { path: 'bin/hook' }] }; }, '/hooks/poststop/1/path', 'must be an absolute path'],
    ['an empty mount destination', (s) => { s.mounts![2].destination = ''; }, '/mounts/2/destination', 'must not be empty'],
    ['a relative device path', (s) => { s.linux!.devices = [{ type: 'p', path: 'dev/fifo' }]; }, '/linux/devices/0/path', 'must be an absolute path'],
    ['a char device without major', (s) => { s.linux!.devices = [{ type: 'c', path: '/dev/x', minor: 1 }]; }, '/linux/devices/0', 'a c device needs major and minor'],
    ['a block device without minor', (s) => { s.linux!.devices = [{ type: 'b', path: '/dev/x', major: 8 }]; }, '/linux/devices/0', 'a b device needs major and minor'],
    ['an unbuffered char device without numbers', (s) => { s.linux!.devices = [{ type: 'u', path: '/dev/x' }]; }, '/linux/devices/0', 'a u device needs major and minor'],
    ['time offsets without a time namespace', (s) => { s.linux!.timeOffsets = { monotonic: { secs: 1 } }; }, '/linux/timeOffsets', 'needs a time namespace'],
  ])('%s', (_, edit, path, message) => {
    expect(configProblems(spec(edit))).toEqual([{ path, message }]);
  });

  it('allows a config without process (create then parks the container)', () => {
    expect(configProblems(spec((s) => { delete s.process; }))).toEqual([]);
  });

  it('allows a hostname with a uts namespace joined by path, and an empty one without any', () => {
    expect(configProblems(spec((s) => { s.linux!.namespaces![3] = { type: 'uts', path: '/proc/1/ns/uts' }; }))).toEqual([]);
    expect(configProblems(spec((s) => {
      s.hostname = '';
      s.domainname = '';
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts');
    }))).toEqual([]);
  });

  it('allows a pipe without numbers and time offsets with a time namespace', () => {
    expect(configProblems(spec((s) => {
      s.linux!.devices = [{ type: 'p', path: '/dev/fifo' }];
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: 5 } };
    }))).toEqual([]);
  });
});

describe('ValidationError', () => {
  it('has one line per problem: "<document>: <pointer>: <message>"', () => {
    const err = new ValidationError('config.json', [
      { path: '/process/user/uid', message: 'must be >= 0' },
      { path: '/root', message: 'is required on Linux' },
    ]);
    expect(err.message).toBe('config.json: /process/user/uid: must be >= 0\nconfig.json: /root: is required on Linux');
    expect(err.document).toBe('config.json');
    expect(err.problems).toHaveLength(2);
    expect(err.name).toBe('TsruncError');
  });
});

describe('validateConfig', () => {
  it("returns runc's default and rootless configs unchanged", () => {
    const s = defaultSpec();
    expect(validateConfig(s)).toBe(s);
    expect(validateConfig(rootlessSpec(1000, 1000))).toEqual(rootlessSpec(1000, 1000));
  });

  it('reports a schema error with its JSON pointer', () => {
    const err = validationError(() => validateConfig(spec((s) => { s.process!.user.uid = -1; })));
    expect(err.message).toBe('config.json: /process/user/uid: must be >= 0');
    expect(err.problems).toEqual([{ path: '/process/user/uid', message: 'must be >= 0' }]);
  });

  it('names the offending value of an enum and lists the allowed ones', () => {
    const err = validationError(() => validateConfig(spec((s) => { (s.linux!.namespaces![0] as { type: string }).type = 'bogus'; })));
    expect(err.message).toBe('config.json: /linux/namespaces/0/type: is "bogus", must be equal to one of the allowed values: "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"');
    const sc = validationError(() => validateConfig(spec((s) => { s.linux!.seccomp = { defaultAction: 'SCMP_ACT_MAYBE' as never }; })));
    expect(sc.message).toMatch(/^config\.json: \/linux\/seccomp\/defaultAction: is "SCMP_ACT_MAYBE", must be equal to one of the allowed values: "SCMP_ACT_KILL"/);
  });

  it('reports at most 5 schema errors', () => {
    const err = validationError(() => validateConfig(spec((s) => {
      const p = s.process as unknown as Record<string, unknown>;
      (p.user as Record<string, unknown>).uid = -1;
      (p.user as Record<string, unknown>).gid = -1;
      p.terminal = 'yes';
      p.cwd = 5;
      p.args = 'sh';
      (s as unknown as Record<string, unknown>).hostname = 5;
    })));
    expect(err.problems).toHaveLength(5);
    expect(err.message.split('\n')).toHaveLength(5);
  });

  it('checks the rules only once the schema is satisfied', () => {
    const err = validationError(() => validateConfig(spec((s) => {
      s.process!.user.uid = -1;
      s.linux!.timeOffsets = { monotonic: { secs: 1 } };
    })));
    expect(err.problems).toEqual([{ path: '/process/user/uid', message: 'must be >= 0' }]);
  });

  it('reports every rule problem', () => {
    const err = validationError(() => validateConfig(spec((s) => {
      s.linux!.timeOffsets = { monotonic: { secs: 1 } };
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2, hard: 1 }];
    })));
    expect(err.message).toBe('config.json: /process/rlimits/0: soft limit must not exceed the hard limit\nconfig.json: /linux/timeOffsets: needs a time namespace');
  });
});

describe('id-mapped mounts', () => {
  it('are bind mounts with both mappings, or idmap/ridmap', () => {
    const map = [{ containerID: 0, hostID: 1000, size: 1 }];
    expect(() => validateConfig(spec((s) => { s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', options: ['rbind'], uidMappings: map, gidMappings: map }); }))).not.toThrow();
    expect(validationError(() => validateConfig(spec((s) => { s.mounts!.push({ destination: '/d', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }); }))).message)
      .toMatch(/\/mounts\/\d+: only bind mounts can be id-mapped/);
    expect(validationError(() => validateConfig(spec((s) => { s.mounts!.push({ destination: '/d', type: 'bind', source: '/s', uidMappings: map }); }))).message)
      .toMatch(/\/mounts\/\d+: must have property gidMappings when property uidMappings is present/);
  });
});

describe('validateProcess', () => {
  it('runs a process without user as uid/gid 0 (as runc)', () => {
    expect(validateProcess({ cwd: '/', args: ['id'] })).toEqual({ cwd: '/', args: ['id'], user: { uid: 0, gid: 0 } });
  });

  it('returns a good process', () => {
    const p = proc();
    expect(validateProcess(p)).toBe(p);
  });

  it('names the document, with pointers from the process object', () => {
    const bad = proc((p) => { p.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2, hard: 1 }]; });
    expect(validationError(() => validateProcess(bad)).message).toBe('process.json: /rlimits/0: soft limit must not exceed the hard limit');
    expect(validationError(() => validateProcess(bad, '--process p.json')).message).toBe('--process p.json: /rlimits/0: soft limit must not exceed the hard limit');
  });

  it('runs the schema first', () => {
    expect(validationError(() => validateProcess({ user: { uid: 0, gid: -1 }, cwd: '/', args: ['x'] })).message).toBe('process.json: /user/gid: must be >= 0');
  });
});

describe('validateDocument', () => {
  it('checks state documents', () => {
    expect(validateDocument('state', { ociVersion: '1.3.0', id: 'x', status: 'stopped', bundle: '/b' })).toEqual([]);
    expect(validateDocument('state', { ociVersion: '1.3.0', id: 'x', status: 'running', bundle: '/b' })).toContainEqual({ path: '/', message: "must have required property 'pid'" });
  });
});

describe('parseJson and loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-validate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns a JSON syntax error into a ValidationError at "/"', () => {
    const err = validationError(() => parseJson('{x', 'config.json'));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toMatch(/^config\.json: \/: invalid JSON: /);
  });

  it('reads and validates <bundle>/config.json', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(defaultSpec()));
    expect(loadConfig(dir)).toEqual(defaultSpec());
  });

  it('says when there is no config.json', () => {
    const bundle = join(dir, 'nothing-here');
    expect(() => loadConfig(bundle)).toThrow(`cannot read ${join(bundle, 'config.json')}: no such file`);
  });

  it('reports bad JSON and bad configs', () => {
    const bundle = mkdtempSync(join(dir, 'b-'));
    writeFileSync(join(bundle, 'config.json'), '{"ociVersion": ');
    expect(validationError(() => loadConfig(bundle)).message).toMatch(/^config\.json: \/: invalid JSON: /);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec((s) => { delete s.root; })));
    expect(validationError(() => loadConfig(bundle)).message).toBe("config.json: /: must have required property 'root'");
  });
});

describe('the kernel limits execve and setgroups have', () => {
  const base = () => ({ user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' }) as Process;

  it('more additional groups than NGROUPS_MAX: named, with the limit', () => {
    const p = base();
    p.user.additionalGids = Array.from({ length: 65537 }, (_, i) => i);
    expect(() => validateProcess(p)).toThrow('process.json: /user/additionalGids: 65537 groups: the kernel\'s limit is 65536 (NGROUPS_MAX)');
    p.user.additionalGids.pop();
    expect(() => validateProcess(p)).not.toThrow();
  });

  it('one argument or variable longer than MAX_ARG_STRLEN', () => {
    const p = base();
    p.env = ['A=1', `BIG=${'x'.repeat(131072)}`];
    expect(() => validateProcess(p)).toThrow('process.json: /env/1: 131077 bytes: the kernel\'s limit for one argument or variable is 131072 (MAX_ARG_STRLEN)');
  });

  it('more argument and environment bytes than the stack limit leaves room for', () => {
    const p = base();
    p.env = Array.from({ length: 70000 }, (_, i) => `VAR${i}=${'v'.repeat(100)}`);
    expect(() => validateProcess(p)).toThrow(/\/args: 1 arguments and 70000 environment variables take \d+ bytes: more than the 6291456 the kernel allows a program \(E2BIG\)/);
    p.env = p.env.slice(0, 1200);
    expect(() => validateProcess(p)).not.toThrow();
    p.rlimits = [{ type: 'RLIMIT_STACK', soft: 256 * 1024, hard: 256 * 1024 }];
    expect(() => validateProcess(p)).toThrow(/more than the 131072 the kernel allows a program with this RLIMIT_STACK/);
  });
});
