import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/reconnect.js';

describe('Backoff', () => {
  it('grows exponentially up to the cap, with full jitter inside [0, cap]', () => {
    const caps: number[] = [];
    const b = new Backoff({ initialDelay: 100, maxDelay: 1000, factor: 2 }, () => 1);
    for (let i = 0; i < 6; i++) caps.push(b.next());
    expect(caps).toEqual([100, 200, 400, 800, 1000, 1000]);
    const low = new Backoff({ initialDelay: 100 }, () => 0);
    expect(low.next()).toBe(0);
  });

  it('spreads a fleet of clients instead of synchronising them', () => {
    const delays = Array.from({ length: 200 }, () => {
      const b = new Backoff({ initialDelay: 1000, maxDelay: 30_000 });
      b.next();
      b.next();
      return b.next(); // third attempt: cap 4000
    });
    const distinct = new Set(delays.map((d) => Math.round(d / 100)));
    expect(Math.max(...delays)).toBeLessThanOrEqual(4000);
    expect(distinct.size).toBeGreaterThan(20);
  });

  it('equal jitter stays in the upper half; none is exact', () => {
    const eq = new Backoff({ initialDelay: 1000, jitter: 'equal' }, () => 0);
    expect(eq.next()).toBe(500);
    const none = new Backoff({ initialDelay: 1000, jitter: 'none' });
    expect(none.next()).toBe(1000);
    expect(none.next()).toBe(2000);
  });

  it('counts attempts, resets, and reports exhaustion', () => {
    const b = new Backoff({ maxAttempts: 2 });
    expect(b.exhausted).toBe(false);
    b.next();
    b.next();
    expect(b.exhausted).toBe(true);
    b.reset();
    expect(b.attempt).toBe(0);
  });

  it('rejects nonsense settings', () => {
    expect(() => new Backoff({ initialDelay: 10, maxDelay: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError);
  });
});
