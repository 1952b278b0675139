import { describe, expect, it } from 'vitest';
import { InflightGroups } from '../src/inflight-groups.js';

describe('InflightGroups', () => {
  it('says when a group has no live message left, and that a packet id of no group is a plain row', () => {
    const groups = new InflightGroups();
    groups.add('a', 10, [1, 2]);
    expect(groups.release('a', 1)).toBe(-1);
    expect(groups.release('a', 2)).toBe(10);
    expect(groups.release('a', 2)).toBeUndefined();
    expect(groups.release('b', 1)).toBeUndefined();
  });

  it('rollback undoes every change since the last keep, in reverse order', () => {
    const groups = new InflightGroups();
    groups.add('a', 10, [1, 2]);
    groups.add('b', 20, [1]);
    groups.keep();
    expect(groups.release('a', 1)).toBe(-1);
    groups.add('a', 30, [1, 3]);
    groups.forget('b');
    expect(groups.release('a', 2)).toBe(10);
    groups.rollback();
    expect(groups.size).toBe(3);
    expect(groups.holds('a', 10)).toBe(true);
    expect(groups.holds('a', 30)).toBe(false);
    expect(groups.holds('b', 20)).toBe(true);
    // The state is the kept one: 1 and 2 live in group 10, 1 in group 20 of b.
    expect(groups.release('a', 1)).toBe(-1);
    expect(groups.release('a', 2)).toBe(10);
    expect(groups.release('b', 1)).toBe(20);
  });

  it('keep makes the changes final: a later rollback leaves them', () => {
    const groups = new InflightGroups();
    groups.add('a', 10, [1]);
    groups.keep();
    groups.rollback();
    expect(groups.holds('a', 10)).toBe(true);
  });
});
