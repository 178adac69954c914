import { describe, expect, it } from 'vitest';
import { blkioToIoWeight, counter, sharesToWeight, statsJson, swapToV2, weightToShares } from '../../src/cgroups/resources';

describe('v1 <-> v2 conversions', () => {
  it('cpu shares -> weight: the linear map of runc 1.1 and crun, clamped', () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(10_000_000)).toBe(10000);
  });

  it('weight -> shares is its inverse at the ends and close in between', () => {
    expect(weightToShares(1)).toBe(2);
    expect(weightToShares(10000)).toBe(262144);
    for (const shares of [2, 100, 1024, 5000, 262144]) expect(Math.abs(weightToShares(sharesToWeight(shares)) - shares)).toBeLessThanOrEqual(27);
  });

  it('blkio weight -> io.weight', () => {
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(1000)).toBe(10000);
    expect(blkioToIoWeight(500)).toBe(4950);
  });

  it('memory+swap -> v2 swap', () => {
    expect(swapToV2(0, -1)).toBe(-1);
    expect(swapToV2(-1, 100)).toBe(-1);
    expect(swapToV2(0, 100)).toBe(0);
    expect(swapToV2(300, 100)).toBe(200);
    expect(() => swapToV2(50, 100)).toThrow('should be >= memory limit');
    expect(() => swapToV2(50, 0)).toThrow('without memory limit');
  });
});

describe('stats numbers', () => {
  it('counters past 2^53 stay exact in the JSON', () => {
    expect(counter('9223372036854771712\n')).toBe(9223372036854771712n);
    expect(counter('42')).toBe(42);
    expect(counter(undefined)).toBe(0);
    expect(statsJson({ a: 9223372036854771712n, b: [1n, 2], c: 'x' })).toBe('{"a":9223372036854771712,"b":[1,2],"c":"x"}');
  });
});
