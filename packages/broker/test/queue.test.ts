import { describe, expect, it } from 'vitest';
import { Inflight } from '../src/inflight.js';
import { RingQueue } from '../src/queue.js';

describe('RingQueue', () => {
  it('is first-in first-out across growth and wrap-around', () => {
    const q = new RingQueue<number>(2);
    const model: number[] = [];
    let next = 0;
    for (let round = 0; round < 200; round++) {
      const pushes = (round * 7) % 5;
      for (let i = 0; i < pushes; i++) {
        q.push(next);
        model.push(next++);
      }
      const shifts = (round * 3) % 4;
      for (let i = 0; i < shifts; i++) expect(q.shift()).toBe(model.shift());
      expect(q.length).toBe(model.length);
      expect(q.peek()).toBe(model[0]);
    }
    expect([...q]).toEqual(model);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });
});

describe('Inflight packet ids', () => {
  it('allocates 1..65535 in order, wraps, skips ids in use and reports exhaustion with 0', () => {
    const f = new Inflight();
    expect(f.allocate()).toBe(1);
    expect(f.allocate()).toBe(2);
    const entry = (packetId: number) =>
      ({ packetId, state: 'publish', resends: 0, delivery: {} }) as Parameters<Inflight['add']>[0];
    f.add(entry(3));
    expect(f.allocate()).toBe(4); // 3 is in use
    for (let id = 5; id <= 65_535; id++) f.allocate();
    expect(f.allocate()).toBe(1); // wrapped
    for (let id = 1; id <= 65_535; id++) if (id !== 3) f.add(entry(id));
    expect(f.size).toBe(65_535);
    expect(f.allocate()).toBe(0);
    f.delete(100);
    expect(f.allocate()).toBe(100);
  });
});
