import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../src/write-batch.js';

describe('WriteBatch', () => {
  it('folds the changes of each key: the last change of a field wins, in order of first touch', () => {
    const b = new WriteBatch(1 << 20);
    expect(b.empty).toBe(true);
    b.hset('a', 'q:{a}', 7, 'm7');
    b.hset('clients', 'clients', 'a', 'rec1');
    b.hset('a', 'q:{a}', 8, 'm8');
    b.hdel('a', 'q:{a}', 7);
    b.hset('clients', 'clients', 'a', 'rec2');
    b.sadd('a', 'in:{a}', 5);
    b.sadd('a', 'in:{a}', 6);
    b.srem('a', 'in:{a}', 5);
    expect(b.commands()).toEqual([
      ['hset', 'q:{a}', '8', 'm8'],
      ['hdel', 'q:{a}', '7'],
      ['hset', 'clients', 'a', 'rec2'],
      ['sadd', 'in:{a}', '6'],
      ['srem', 'in:{a}', '5'],
    ]);
    expect(b.empty).toBe(false);
  });

  it('encodes a lazy value only when the batch is sent, and never one that a later change replaced or deleted', () => {
    let encoded = 0;
    const lazy = (text: string) => ({
      bytes: 100,
      encode: () => {
        encoded++;
        return Buffer.from(text);
      },
    });
    const b = new WriteBatch(1 << 20);
    b.hset('a', 'q:{a}', 1, lazy('m1'));
    b.hset('a', 'q:{a}', 2, lazy('m2'));
    b.hset('a', 'f:{a}', 9, lazy('old'));
    b.hdel('a', 'q:{a}', 1);
    b.hset('a', 'f:{a}', 9, lazy('new'));
    expect(encoded).toBe(0);
    // The byte bound counts what a lazy value says it may take.
    expect(b.bytes).toBeGreaterThanOrEqual(300);
    expect(b.commands()).toEqual([
      ['hset', 'q:{a}', '2', Buffer.from('m2')],
      ['hdel', 'q:{a}', '1'],
      ['hset', 'f:{a}', '9', Buffer.from('new')],
    ]);
    expect(encoded).toBe(2);
  });

  it('a deleted key goes first and drops what was recorded for it before', () => {
    const b = new WriteBatch(1 << 20);
    b.hset('a', 'subs:{a}', 'x', '1');
    b.del('a', 'subs:{a}');
    b.hset('a', 'subs:{a}', 'y', '2');
    b.hdel('a', 'subs:{a}', 'z'); // nothing to delete in a key just deleted
    b.del('b', 'q:{b}');
    expect(b.commands()).toEqual([
      ['del', 'subs:{a}'],
      ['hset', 'subs:{a}', 'y', '2'],
      ['del', 'q:{b}'],
    ]);
  });

  it('absorb folds a later batch in as if it had been recorded after: its fields win, its deletes drop', () => {
    const first = new WriteBatch(1 << 20);
    first.hset('clients', 'clients', 'a', 'old');
    first.hset('a', 'subs:{a}', 'x', '1');
    first.hset('a', 'q:{a}', 1, 'm1');
    const later = new WriteBatch(1 << 20);
    later.hset('clients', 'clients', 'a', 'new');
    later.hdel('a', 'subs:{a}', 'x');
    later.del('a', 'q:{a}');
    later.hset('a', 'q:{a}', 2, 'm2');
    first.absorb(later);
    expect(first.commands()).toEqual([
      ['hset', 'clients', 'a', 'new'],
      ['hdel', 'subs:{a}', 'x'],
      ['del', 'q:{a}'],
      ['hset', 'q:{a}', '2', 'm2'],
    ]);
    const small = new WriteBatch(40);
    const big = new WriteBatch(1 << 20);
    big.hset('a', 'q:{a}', 1, 'x'.repeat(100));
    small.absorb(big);
    expect(small.overflow).toBe(true);
  });

  it('groups commands per session for a cluster, and splits huge commands', () => {
    const b = new WriteBatch(1 << 24);
    for (let i = 0; i < 2500; i++) b.hset('a', 'q:{a}', i, 'v');
    b.hset('clients', 'clients', 'a', 'r');
    b.hdel('b', 'q:{b}', 1);
    const groups = b.byGroup();
    expect([...groups.keys()]).toEqual(['a', 'clients', 'b']);
    expect(groups.get('a')!.map((c) => c.length)).toEqual([2002, 2002, 1002]);
    expect(groups.get('b')).toEqual([['hdel', 'q:{b}', '1']]);
  });

  it('drops everything once over its byte limit and stays over', () => {
    const b = new WriteBatch(1000);
    b.hset('a', 'q:{a}', 1, Buffer.alloc(500));
    expect(b.overflow).toBe(false);
    b.hset('a', 'q:{a}', 2, Buffer.alloc(500));
    expect(b.overflow).toBe(true);
    b.hset('a', 'q:{a}', 3, 'small');
    expect(b.commands()).toEqual([]);
    expect(b.empty).toBe(false); // an overflowed batch is not "nothing to do": its commit fails
  });
});
