import { describe, expect, it } from 'vitest';
import { RetainedIndex } from '../src/index.ts';
import { MATCH_CATALOGUE } from './catalogue.ts';

describe('RetainedIndex matching catalogue', () => {
  for (const [clause, filter, topic, expected] of MATCH_CATALOGUE) {
    it(`${clause} "${filter}" ${expected ? 'finds' : 'does not find'} retained "${topic}"`, () => {
      const index = new RetainedIndex<string>();
      index.set(topic, `v:${topic}`);
      index.set('unrelated/topic', 'other');
      const found = index.match(filter).filter((v) => v !== 'other');
      expect(found).toEqual(expected ? [`v:${topic}`] : []);
    });
  }
});

describe('RetainedIndex', () => {
  it('MQTT-3.3.1-5 set replaces the retained message of a topic', () => {
    const index = new RetainedIndex<number>();
    index.set('a/b', 1);
    index.set('a/b', 2);
    expect(index.size).toBe(1);
    expect(index.get('a/b')).toBe(2);
    expect(index.match('a/+')).toEqual([2]);
  });

  it('MQTT-3.3.1-6 delete removes it and prunes', () => {
    const index = new RetainedIndex<number>();
    index.set('a/b/c', 1);
    index.set('a/b', 2);
    expect(index.delete('a/b/c')).toBe(true);
    expect(index.delete('a/b/c')).toBe(false);
    expect(index.delete('zz')).toBe(false);
    expect(index.match('#')).toEqual([2]);
    expect(index.delete('a/b')).toBe(true);
    expect(index.size).toBe(0);
    expect(index.has('a/b')).toBe(false);
    expect([...index]).toEqual([]);
  });

  it('MQTT-4.7.1-1 "#" returns the parent level and every level below', () => {
    const index = new RetainedIndex<string>();
    for (const t of ['s', 's/1', 's/1/2', 's/2', 'x', '$SYS/a', '/']) index.set(t, t);
    expect(index.match('s/#').sort()).toEqual(['s', 's/1', 's/1/2', 's/2']);
    expect(index.match('#').sort()).toEqual(['/', 's', 's/1', 's/1/2', 's/2', 'x']);
    expect(index.match('+').sort()).toEqual(['s', 'x']);
    expect(index.match('$SYS/#')).toEqual(['$SYS/a']);
  });

  it('iterates over every entry with its topic', () => {
    const index = new RetainedIndex<number>();
    index.set('a', 1);
    index.set('a/b', 2);
    index.set('c//d', 3);
    expect([...index.entries()].sort()).toEqual([
      ['a', 1],
      ['a/b', 2],
      ['c//d', 3],
    ]);
    const seen: string[] = [];
    index.forEachMatch('+/+', (_v, topic) => seen.push(topic));
    expect(seen).toEqual(['a/b']);
  });

  it('bounds the depth of stored topics', () => {
    const index = new RetainedIndex<number>({ maxLevels: 3 });
    expect(() => index.set('a/b/c/d', 1)).toThrow(/levels/);
    index.set('a/b/c', 1);
    expect(index.size).toBe(1);
  });
});
