import { describe, expect, it } from 'vitest';
import { Histogram } from '../src/histogram.js';

function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? 0;
}

describe('Histogram', () => {
  it('is exact below 2048 and within 0.1 % above', () => {
    const values: number[] = [];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      values.push(seed % 5_000_000);
    }
    const h = new Histogram();
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [1, 10, 50, 90, 99, 99.9, 100]) {
      const exact = exactPercentile(sorted, p);
      const got = h.percentile(p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got - exact).toBeLessThanOrEqual(Math.max(0, exact / 1024));
    }
    expect(h.count).toBe(values.length);
    expect(h.min).toBe(sorted[0]);
    expect(h.max).toBe(sorted[sorted.length - 1]);
    const small = new Histogram();
    for (let v = 0; v < 2048; v++) small.record(v);
    expect(small.percentile(50)).toBe(1023);
  });

  it('merges by adding buckets, so merged percentiles equal those of one histogram of everything', () => {
    const all = new Histogram();
    const parts = [new Histogram(), new Histogram(), new Histogram()];
    for (let i = 0; i < 30_000; i++) {
      // Three workers with very different latency: averaging their p99 would be badly wrong.
      const v = i % 3 === 0 ? 100 + (i % 50) : i % 3 === 1 ? 10_000 + i : 900_000 + i;
      all.record(v);
      parts[i % 3]?.record(v);
    }
    const merged = new Histogram();
    for (const p of parts) merged.merge(p.snapshot());
    for (const q of [50, 90, 99, 99.9]) expect(merged.percentile(q)).toBe(all.percentile(q));
    expect(merged.count).toBe(all.count);
    expect(merged.mean).toBeCloseTo(all.mean, 6);
    expect(Histogram.from(structuredClone(merged.snapshot())).percentile(99)).toBe(all.percentile(99));
  });

  it('clamps negatives to 0 and huge values to 2^32-1, and reports zeros when empty', () => {
    const h = new Histogram();
    expect(h.percentile(99)).toBe(0);
    expect(h.distribution()).toEqual([]);
    h.record(-5);
    h.record(2 ** 40);
    expect(h.min).toBe(0);
    expect(h.max).toBe(0xffff_ffff);
    expect(h.distribution(10).reduce((a, b) => a + b.count, 0)).toBe(2);
  });
});
