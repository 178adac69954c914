import { describe, expect, it } from 'vitest';
import { runDeviceFilter } from '../helpers/device-filter';
import { containerRules, DEFAULT_ALLOWED, deviceFilterProgram, DeviceEmulator, ruleString, toRule, v1Transition, type Rule } from '../../src/cgroups/devices';

const denyAll = { allow: false, access: 'rwm' };
const rule = (allow: boolean, type: Rule['type'], major: number, minor: number, access = 'rwm'): Rule => ({ allow, type, major, minor, access });

describe('containerRules', () => {
  it('puts the config\'s rules first, then runc\'s defaults', () => {
    const rules = containerRules([denyAll, { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }], []);
    expect(rules.slice(0, 2).map(ruleString)).toEqual(['a *:* rwm', 'c 10:229 rwm']);
    expect(rules.slice(2).map(ruleString)).toEqual([
      'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
    ]);
  });

  it('drops a default whose path linux.devices lists (the config\'s device takes its place)', () => {
    const rules = containerRules([denyAll], [{ path: '/dev/null', type: 'c', major: 1, minor: 3 }]);
    expect(rules.map(ruleString)).not.toContain('c 1:3 rwm');
    expect(rules).toHaveLength(1 + DEFAULT_ALLOWED.length - 1);
  });

  it('reads absent type/major/minor as wildcards and absent access as rwm', () => {
    expect(toRule({ allow: true }, 'x')).toEqual({ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' });
    expect(toRule({ allow: false, type: 'b', major: 8, minor: null, access: 'wr' }, 'x')).toEqual({ allow: false, type: 'b', major: 8, minor: -1, access: 'rw' });
    expect(() => toRule({ allow: true, access: 'x' }, 'linux.resources.devices[0]')).toThrow('linux.resources.devices[0].access');
  });
});

describe('DeviceEmulator (the v1 devices controller)', () => {
  it('starts denying everything; allow rules add exceptions, merged by device', () => {
    const e = DeviceEmulator.of([rule(true, 'c', 1, 3, 'r'), rule(true, 'c', 1, 3, 'w')]);
    expect(e.list()).toEqual(['c 1:3 rw']);
    expect(e.allows('c', 1, 3, 'rw')).toBe(true);
    expect(e.allows('c', 1, 3, 'm')).toBe(false);
    expect(e.allows('c', 1, 5, 'r')).toBe(false);
  });

  it('a deny rule removes access from the exact exception', () => {
    const e = DeviceEmulator.of([rule(true, 'c', 1, 3), rule(false, 'c', 1, 3, 'w')]);
    expect(e.list()).toEqual(['c 1:3 rm']);
  });

  it('"allow a" resets to allow everything; deny exceptions then block any overlapping access', () => {
    const e = DeviceEmulator.of([rule(true, 'a', -1, -1), rule(false, 'b', 8, -1, 'w')]);
    expect(e.defaultAllow).toBe(true);
    expect(e.allows('b', 8, 1, 'r')).toBe(true);
    expect(e.allows('b', 8, 1, 'rw')).toBe(false);
    expect(e.allows('c', 8, 1, 'w')).toBe(true);
  });

  it('refuses a rule that would punch a hole in a wildcard (the kernel would silently ignore it)', () => {
    expect(() => DeviceEmulator.of([rule(true, 'c', -1, -1, 'm'), rule(false, 'c', 1, 3, 'm')])).toThrow(/punch a hole/);
    // Removing access the wildcard does not grant is fine.
    expect(() => DeviceEmulator.of([rule(true, 'c', -1, -1, 'm'), rule(false, 'c', 1, 3, 'r')])).not.toThrow();
  });

  it('parses devices.list', () => {
    expect(DeviceEmulator.fromList('a *:* rwm\n').defaultAllow).toBe(true);
    const e = DeviceEmulator.fromList('c 1:3 rwm\nc 136:* rwm\n');
    expect(e.defaultAllow).toBe(false);
    expect(e.allows('c', 136, 7, 'rw')).toBe(true);
    expect(() => DeviceEmulator.fromList('x 1:2 r')).toThrow(/cannot parse/);
  });
});

describe('v1Transition', () => {
  const rules = containerRules([denyAll, { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' }], []);

  it('from a new cgroup: deny all, then the rules in the config\'s order (so devices.list lists them in that order)', () => {
    const writes = v1Transition(DeviceEmulator.fromList('a *:* rwm'), rules);
    expect(writes.slice(0, 4)).toEqual([
      { file: 'devices.deny', value: 'a *:* rwm' },
      { file: 'devices.deny', value: 'a *:* rwm' },
      { file: 'devices.allow', value: 'c 10:229 rwm' },
      { file: 'devices.allow', value: 'b 8:20 rw' },
    ]);
    expect(writes).toHaveLength(2 + 2 + DEFAULT_ALLOWED.length);
  });

  it('from an existing allow list: only what changes', () => {
    const current = DeviceEmulator.of(rules);
    const next = containerRules([denyAll, { allow: true, type: 'c', major: 10, minor: 229, access: 'r' }, { allow: true, type: 'b', major: 7, minor: 0, access: 'r' }], []);
    expect(v1Transition(current, next)).toEqual([
      { file: 'devices.deny', value: 'c 10:229 wm' },
      { file: 'devices.deny', value: 'b 8:20 rw' },
      { file: 'devices.allow', value: 'b 7:0 r' },
    ]);
    expect(v1Transition(current, rules)).toEqual([]);
  });

  it('to allow-all from an allow list: one "allow a"', () => {
    expect(v1Transition(DeviceEmulator.of(rules), [rule(true, 'a', -1, -1)])).toEqual([{ file: 'devices.allow', value: 'a *:* rwm' }]);
  });
});

describe('deviceFilterProgram (cgroup v2 eBPF)', () => {
  const requests: [('b' | 'c'), number, number, string][] = [];
  for (const type of ['b', 'c'] as const) {
    for (const [maj, min] of [[1, 3], [1, 5], [1, 9], [5, 0], [5, 2], [136, 4], [10, 229], [10, 200], [8, 0], [8, 20], [7, 0], [4, 1]]) {
      for (const acc of ['r', 'w', 'm', 'rw', 'rwm', 'wm']) requests.push([type, maj, min, acc]);
    }
  }

  const cases: [string, Rule[]][] = [
    ['the default config (deny all + defaults)', containerRules([denyAll], [])],
    ['allow lists with partial access', containerRules([denyAll, { allow: true, type: 'c', major: 10, minor: 229, access: 'r' }, { allow: true, type: 'b', major: 8, minor: -1, access: 'rw' }], [])],
    ['allow all with deny exceptions', [rule(true, 'a', -1, -1), rule(false, 'c', 1, 3, 'w'), rule(false, 'b', 8, -1, 'rwm'), rule(false, 'c', 5, 2, 'm')]],
    ['nothing allowed', [rule(false, 'a', -1, -1)]],
  ];

  for (const [name, rules] of cases) {
    it(`decides every request as the v1 controller would: ${name}`, () => {
      const program = deviceFilterProgram(rules);
      const emu = DeviceEmulator.of(rules);
      for (const [t, maj, min, acc] of requests) {
        expect(runDeviceFilter(program, t, maj, min, acc), `${t} ${maj}:${min} ${acc}`).toBe(emu.allows(t, maj, min, acc));
      }
    });
  }

  it('denies what the default config does not list and allows its devices', () => {
    const p = deviceFilterProgram(containerRules([denyAll], []));
    expect(runDeviceFilter(p, 'c', 1, 3, 'rw')).toBe(true); // /dev/null
    expect(runDeviceFilter(p, 'c', 136, 0, 'rw')).toBe(true); // a pty
    expect(runDeviceFilter(p, 'b', 8, 0, 'r')).toBe(false); // a disk
    expect(runDeviceFilter(p, 'b', 8, 0, 'm')).toBe(true); // mknod of anything
    expect(runDeviceFilter(p, 'c', 1, 1, 'r')).toBe(false); // /dev/mem
  });

  it('is made of 8-byte instructions, starting with the context loads and ending in exit', () => {
    const p = deviceFilterProgram([rule(false, 'a', -1, -1), rule(true, 'c', 1, 3, 'rwm')]);
    expect(p.length % 8).toBe(0);
    // ldxw r2, [r1+0]
    expect([...p.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    // the end: mov32 r0, 0; exit
    expect([...p.subarray(p.length - 16)]).toEqual([0xb4, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  });
});
