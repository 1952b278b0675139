import { describe, expect, it } from 'vitest';
import { SubscriptionMap } from '../src/subscription-map.js';

describe('SubscriptionMap', () => {
  it('behaves as a Map through one entry, growth to many and back to none', () => {
    const map = new SubscriptionMap<number>();
    const model = new Map<string, number>();
    const ops: Array<['set', string, number] | ['delete', string] | ['clear']> = [
      ['set', 'a', 1],
      ['set', 'a', 2], // replaced in place
      ['delete', 'b'], // not there
      ['set', 'b', 3], // second entry: a real Map from here
      ['set', 'c', 4],
      ['delete', 'a'],
      ['delete', 'b'],
      ['delete', 'c'],
      ['set', 'd', 5],
      ['clear'],
      ['set', 'e', 6],
      ['delete', 'e'],
      ['set', 'f', 7],
    ];
    for (const op of ops) {
      if (op[0] === 'set') {
        expect(map.set(op[1], op[2])).toBe(map);
        model.set(op[1], op[2]);
      } else if (op[0] === 'delete') expect(map.delete(op[1])).toBe(model.delete(op[1]));
      else {
        map.clear();
        model.clear();
      }
      expect(map.size).toBe(model.size);
      expect([...map]).toEqual([...model]);
      expect([...map.keys()]).toEqual([...model.keys()]);
      expect([...map.values()]).toEqual([...model.values()]);
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
        expect(map.get(key)).toBe(model.get(key));
        expect(map.has(key)).toBe(model.has(key));
      }
      const seen: Array<[string, number]> = [];
      map.forEach((value, key) => {
        seen.push([key, value]);
      });
      expect(seen).toEqual([...model.entries()]);
    }
  });

  it('lets an entry be deleted while its iteration runs', () => {
    const map = new SubscriptionMap<number>();
    map.set('a', 1);
    for (const [key] of map) map.delete(key);
    expect(map.size).toBe(0);
    map.set('a', 1).set('b', 2);
    for (const [key] of map) map.delete(key);
    expect(map.size).toBe(0);
  });
});
