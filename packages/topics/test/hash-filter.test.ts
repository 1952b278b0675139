import { describe, expect, it } from 'vitest';
import { HashFilter } from '../src/hash-filter.ts';
import { hashLevel } from '../src/kid-table.ts';

describe('HashFilter', () => {
  it('never says no for an added hash, across growth and rebuilds', () => {
    const filter = new HashFilter();
    const added: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const hash = hashLevel(`site/${i}/device/${i * 7}/temp`);
      added.push(hash);
      if (!filter.add(hash)) filter.rebuild(added);
    }
    expect(added.filter((h) => !filter.mayHave(h))).toEqual([]);
  });

  it('says no for most absent hashes', () => {
    const filter = new HashFilter();
    const added: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const hash = hashLevel(`present/${i}`);
      added.push(hash);
      if (!filter.add(hash)) filter.rebuild(added);
    }
    let maybe = 0;
    for (let i = 0; i < 20_000; i++) if (filter.mayHave(hashLevel(`absent/${i}`))) maybe++;
    // Sized for at most 1 bit in 8 set: about 12 % false "maybe", allow some spread.
    expect(maybe / 20_000).toBeLessThan(0.2);
  });
});
