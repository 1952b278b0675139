import { describe, expect, it } from 'vitest';
import { HashFilter } from '../src/hash-filter.ts';
import { KidTable } from '../src/kid-table.ts';
import { addSub, child, type Leaf, Node } from '../src/nodes.ts';
import { CLIENT_SHIFT, ClientEntry, Sub } from '../src/subscription.ts';
import { NO_PUBLISHER, Walker } from '../src/walker.ts';

describe('Walker per-client marks', () => {
  it('MQTT-3.3.4-2 merges per client across walks, also when the marks start over', () => {
    // Two clients, each with two overlapping filters: "a/+" and "a/#" both match "a/b".
    const root = new Node<string>('');
    const entries = [new ClientEntry('x', 0), new ClientEntry('y', 1)];
    for (const filter of ['a/+', 'a/#']) {
      let node = root;
      for (const level of filter.split('/')) node = child(node, level);
      for (const entry of entries) {
        addSub(node, new Sub(entry, filter, 1 | (entry.num << CLIENT_SHIFT), []));
      }
    }
    const walker = new Walker<string>();
    walker.reserve(1);
    const exact = new KidTable<Leaf<string>>();
    const filter = new HashFilter();
    const walk = () => {
      walker.run(root, exact, filter, 'a/b', NO_PUBLISHER);
      return walker.take().map((m) => m.clientId);
    };
    for (let i = 0; i < 3; i++) expect(walk().sort()).toEqual(['x', 'y']);
    // Close to the limit: the walks that cross it must still merge, and none may see stale marks.
    walker.base = 0x3fffffff - 4;
    for (let i = 0; i < 5; i++) expect(walk().sort()).toEqual(['x', 'y']);
    expect(walker.base).toBeLessThan(100);
  });
});
