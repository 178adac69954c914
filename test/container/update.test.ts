import { describe, expect, it } from 'vitest';
import { mergeResources, ramInBytes, resourcesFromFlags } from '../../src/container/update';
import { parseDuration } from '../../src/cli/handlers/events';
// The schema validators exist only in the build (dist/spec/validators.js): test the compiled handler, as test/spec does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseResources } = require('../../dist/cli/handlers/update.js') as typeof import('../../src/cli/handlers/update');

describe('ramInBytes (go-units, what runc update accepts)', () => {
  it('binary units, case-insensitive, optional b/ib, optional space, fractions', () => {
    expect(ramInBytes('512m')).toBe(512 * 1024 * 1024);
    expect(ramInBytes('512M')).toBe(512 * 1024 * 1024);
    expect(ramInBytes('1g')).toBe(1024 ** 3);
    expect(ramInBytes('1GiB')).toBe(1024 ** 3);
    expect(ramInBytes('1.5k')).toBe(1536);
    expect(ramInBytes('10 kb')).toBe(10240);
    expect(ramInBytes('2048')).toBe(2048);
    expect(ramInBytes('2048b')).toBe(2048);
  });

  it('rejects what go-units rejects', () => {
    for (const bad of ['', 'm', '12q', '1mbb', '1kB2', '-5m', '1 gig']) expect(() => ramInBytes(bad), bad).toThrow();
  });
});

describe('resourcesFromFlags', () => {
  it('only the flags given, in their fields', () => {
    expect(resourcesFromFlags({ memory: '512m', 'memory-swap': '-1', 'cpu-share': '512', 'cpu-quota': '-1', 'cpuset-cpus': '0', 'pids-limit': 10, 'blkio-weight': 300 })).toEqual({
      memory: { limit: 536870912, swap: -1 }, cpu: { shares: 512, quota: -1, cpus: '0' }, pids: { limit: 10 }, blockIO: { weight: 300 },
    });
    expect(resourcesFromFlags({})).toEqual({});
    expect(() => resourcesFromFlags({ 'cpu-period': '-5' })).toThrow('invalid value for cpu-period');
    expect(() => resourcesFromFlags({ memory: 'lots' })).toThrow('invalid value for memory');
  });
});

describe('mergeResources (runc update semantics)', () => {
  const current = {
    memory: { limit: 100, swap: 200, checkBeforeUpdate: true },
    cpu: { quota: 50000, period: 100000, shares: 1024 },
    pids: { limit: 10 },
    blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] },
    devices: [{ allow: false, access: 'rwm' }],
  };

  it('given values replace, the rest stays', () => {
    const m = mergeResources(current, { cpu: { period: 200000 }, memory: { limit: 150 } });
    expect(m.cpu).toEqual({ quota: 50000, period: 200000, shares: 1024 });
    expect(m.memory).toEqual({ limit: 150, swap: 200, checkBeforeUpdate: false });
    expect(m.pids).toEqual({ limit: 10 });
    expect(m.devices).toEqual(current.devices);
  });

  it('memory -1 without swap: swap reset (both unlimited)', () => {
    expect(mergeResources(current, { memory: { limit: -1 } }).memory).toMatchObject({ limit: -1, swap: 0 });
  });

  it('zeros are "not given", as Docker sends them for what its update does not change', () => {
    // docker update --pids-limit 20 on a container run with -m: every field of memory and cpu comes, 0.
    const m = mergeResources(current, { memory: { limit: 0, reservation: 0, swap: 0, kernel: 0 }, cpu: { shares: 0, quota: 0, period: 0, cpus: '', mems: '' }, pids: { limit: 20 } });
    expect(m.memory).toEqual({ limit: 100, swap: 200, checkBeforeUpdate: false });
    expect(m.cpu).toEqual(current.cpu);
    expect(m.pids).toEqual({ limit: 20 });
    expect(mergeResources(current, { pids: { limit: 0 } }).pids).toEqual({ limit: 10 });
    expect(mergeResources(current, { memory: { limit: -1, swap: 0 } }).memory).toMatchObject({ limit: -1, swap: 0 });
  });

  it('checkBeforeUpdate only for the update that asks for it', () => {
    expect(mergeResources(current, { memory: { limit: 150, checkBeforeUpdate: true } }).memory?.checkBeforeUpdate).toBe(true);
  });

  it('per-device entries are upserted by major:minor', () => {
    const m = mergeResources(current, { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 5 }, { major: 8, minor: 16, rate: 7 }] } });
    expect(m.blockIO?.throttleReadBpsDevice).toEqual([{ major: 8, minor: 0, rate: 5 }, { major: 8, minor: 16, rate: 7 }]);
    expect(m.blockIO?.weight).toBe(100);
  });

  it('does not change its inputs', () => {
    const copy = structuredClone(current);
    mergeResources(current, { cpu: { shares: 2 }, devices: [] });
    expect(current).toEqual(copy);
  });
});

describe('update --resources JSON', () => {
  it('is checked against the schema\'s linux.resources', () => {
    expect(parseResources('{"memory":{"limit":1024},"cpu":{"cpus":"0"}}', 'stdin')).toEqual({ memory: { limit: 1024 }, cpu: { cpus: '0' } });
    expect(() => parseResources('{"memory":{"limit":"x"}}', 'stdin')).toThrow('--resources stdin: /memory/limit');
    expect(() => parseResources('[1]', 'f')).toThrow('not a JSON object');
    expect(() => parseResources('{', 'f')).toThrow('invalid JSON');
  });
});

describe('parseDuration (events --interval)', () => {
  it('reads Go durations', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('100ms')).toBe(100);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('5')).toThrow('parse error');
    expect(() => parseDuration('5x')).toThrow('parse error');
  });
});
