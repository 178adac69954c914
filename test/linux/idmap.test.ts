import { describe, expect, it } from 'vitest';
import { findHelper, mapWriter, parseIdMap } from '../../src/linux/idmap';

const user = { euid: 1000, egid: 1001, hostRoot: false };

describe('parseIdMap', () => {
  it('reads the map files\' "container host size" lines', () => {
    expect(parseIdMap('0 1000 1\n1 100000 65536\n')).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
    expect(parseIdMap('')).toEqual([]);
  });
});

describe('mapWriter', () => {
  it("a user writes only its own single id itself; anything more goes through newuidmap/newgidmap", () => {
    expect(mapWriter([{ containerID: 0, hostID: 1000, size: 1 }], user.euid, user)).toBe('direct');
    expect(mapWriter([{ containerID: 5, hostID: 1000, size: 1 }], user.euid, user)).toBe('direct');
    expect(mapWriter([{ containerID: 0, hostID: 1000, size: 2 }], user.euid, user)).toBe('helper');
    expect(mapWriter([{ containerID: 0, hostID: 0, size: 1 }], user.euid, user)).toBe('helper');
    expect(mapWriter([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }], user.euid, user)).toBe('helper');
  });
  it('root (of the host or of a user namespace) writes any map itself', () => {
    expect(mapWriter([{ containerID: 0, hostID: 100000, size: 65536 }], 0, { euid: 0, egid: 0, hostRoot: true })).toBe('direct');
    expect(mapWriter([{ containerID: 0, hostID: 1, size: 65536 }], 0, { euid: 0, egid: 0, hostRoot: false })).toBe('direct');
  });
});

describe('findHelper', () => {
  it('looks on PATH, then /usr/bin', () => {
    expect(findHelper('sh', '/nonexistent')).toMatch(/^\/(usr\/)?bin\/sh$/);
    expect(findHelper('no-such-helper-xyz', '/nonexistent')).toBeUndefined();
  });
});
