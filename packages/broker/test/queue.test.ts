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
  const entry = (packetId: number) =>
    ({ packetId, state: 'publish', resends: 0, delivery: {} }) as Parameters<Inflight['add']>[0];

  it('allocates ids going up, skips ids in use, wraps, and reports exhaustion with 0', () => {
    const f = new Inflight();
    expect(f.allocate()).toBe(1);
    expect(f.allocate()).toBe(2);
    f.add(entry(3));
    expect(f.allocate()).toBe(4); // 3 is in use
    let last = 4;
    let wrong = 0;
    for (let id = f.allocate(); id !== 1; id = f.allocate()) {
      if (id <= last || id === 3) wrong++;
      last = id;
    }
    expect(wrong).toBe(0);
    expect(last).toBe(65_535); // then wrapped to 1
    for (let id = 1; id <= 65_535; id++) if (id !== 3) f.add(entry(id));
    expect(f.size).toBe(65_535);
    expect(f.allocate()).toBe(0);
    expect(f.delete(100)).toBe(true);
    expect(f.delete(100)).toBe(false);
    expect(f.allocate()).toBe(100);
    expect(f.get(3)?.packetId).toBe(3);
  });

  it('finds, deletes and lists entries in sending order as the window moves and wraps', () => {
    const f = new Inflight();
    const model = new Map<number, ReturnType<typeof entry>>();
    const wrong: string[] = [];
    let wrapped = false;
    for (let n = 0; n < 120_000 && wrong.length === 0; n++) {
      if (model.size < 40 || n % 3 !== 0) {
        const id = f.allocate();
        if (model.has(id)) wrong.push(`${id} handed out twice`);
        if (id === 1 && n > 0) wrapped = true;
        const e = entry(id);
        f.add(e);
        model.set(id, e);
      }
      if (model.size > 30) {
        // acknowledgements out of order: mostly the second oldest, sometimes the oldest
        const keys = model.keys();
        let id = keys.next().value!;
        if (n % 5 !== 0) id = keys.next().value!;
        if (f.get(id) !== model.get(id)) wrong.push(`get(${id})`);
        if (!f.delete(id) || f.get(id) !== undefined) wrong.push(`delete(${id})`);
        model.delete(id);
      }
      if (f.size !== model.size) wrong.push(`size ${f.size} at ${n}`);
    }
    expect(wrong).toEqual([]);
    expect(wrapped).toBe(true);
    expect([...f.values()]).toEqual([...model.values()]);
    f.clear();
    expect(f.size).toBe(0);
    expect([...f.values()]).toEqual([]);
  });

  it('takes stored entries whatever their ids, in the order they are added', () => {
    const f = new Inflight();
    const ids = [65_530, 65_535, 1, 2, 33, 65, 97]; // as sent: ids go up and wrap
    for (const id of ids) f.add(entry(id));
    expect([...f.values()].map((e) => e.packetId)).toEqual(ids);
    for (const id of ids) expect(f.get(id)?.packetId).toBe(id);
    expect(f.allocate()).toBe(98);
  });
});
