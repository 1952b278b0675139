import { describe, expect, it } from 'vitest';
import {
  fewestInflight,
  hashOf,
  random,
  roundRobin,
  type ShareGroup,
  SubscriptionTrie,
} from '../src/index.ts';

function groupOf(trie: SubscriptionTrie, topic: string): ShareGroup {
  const group = trie.matchAll(topic).shared[0];
  if (group === undefined) throw new Error('no group');
  return group;
}

function trieWith(members: string[]): SubscriptionTrie {
  const trie = new SubscriptionTrie();
  for (const m of members) trie.subscribe(m, '$share/g/jobs/+');
  return trie;
}

describe('share strategies', () => {
  it('roundRobin and random pick among the eligible members only, undefined when none is', () => {
    const trie = trieWith(['a', 'b', 'c']);
    const onlyC = { topicName: 'jobs/1', eligible: (m: { clientId: string }) => m.clientId === 'c' };
    const none = { topicName: 'jobs/1', eligible: () => false };
    const rr = roundRobin();
    expect(rr(groupOf(trie, 'jobs/1'), onlyC)?.clientId).toBe('c');
    expect(rr(groupOf(trie, 'jobs/1'), none)).toBeUndefined();
    const notB = { topicName: 'jobs/1', eligible: (m: { clientId: string }) => m.clientId !== 'b' };
    const got = Array.from({ length: 4 }, () => rr(groupOf(trie, 'jobs/1'), notB)?.clientId);
    expect(got).toEqual(['a', 'c', 'a', 'c']);
    const rand = random(() => 0.5); // start at b, which is skipped
    expect(rand(groupOf(trie, 'jobs/1'), notB)?.clientId).toBe('c');
    expect(rand(groupOf(trie, 'jobs/1'), none)).toBeUndefined();
  });

  it('MQTT-4.8.2-1 roundRobin gives each member a turn and survives a member leaving', () => {
    const trie = trieWith(['a', 'b', 'c']);
    const pick = roundRobin();
    const ctx = { topicName: 'jobs/1' };
    const got = Array.from({ length: 6 }, () => pick(groupOf(trie, 'jobs/1'), ctx)?.clientId);
    expect(got).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    pick(groupOf(trie, 'jobs/1'), ctx); // a
    trie.unsubscribe('a', '$share/g/jobs/+');
    expect(pick(groupOf(trie, 'jobs/1'), ctx)?.clientId).toBe('b');
    expect(pick(groupOf(trie, 'jobs/1'), ctx)?.clientId).toBe('c');
    expect(pick(groupOf(trie, 'jobs/1'), ctx)?.clientId).toBe('b');
  });

  it('random picks with the given generator', () => {
    const trie = trieWith(['a', 'b', 'c', 'd']);
    const values = [0, 0.26, 0.51, 0.99];
    const pick = random(() => values.shift() ?? 0);
    const group = groupOf(trie, 'jobs/x');
    expect([1, 2, 3, 4].map(() => pick(group, { topicName: 'jobs/x' })?.clientId)).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  it('hashOf keeps one publisher on one member', () => {
    const trie = trieWith(['a', 'b', 'c', 'd', 'e']);
    const pick = hashOf();
    const group = groupOf(trie, 'jobs/x');
    const seen = new Set<string | undefined>();
    for (let i = 0; i < 20; i++)
      seen.add(pick(group, { topicName: `jobs/${i}`, publisherId: 'pub-7' })?.clientId);
    expect(seen.size).toBe(1);
    const spread = new Set<string | undefined>();
    for (let i = 0; i < 50; i++)
      spread.add(pick(group, { topicName: 'jobs/x', publisherId: `pub-${i}` })?.clientId);
    expect(spread.size).toBeGreaterThan(1);
  });

  it('fewestInflight picks the least loaded, ties in turn', () => {
    const trie = trieWith(['a', 'b', 'c']);
    const load: Record<string, number> = { a: 5, b: 1, c: 1 };
    const pick = fewestInflight<string>((id) => load[id] ?? 0);
    const group = groupOf(trie, 'jobs/x');
    const ctx = { topicName: 'jobs/x' };
    expect(pick(group, ctx)?.clientId).toBe('b');
    expect(pick(group, ctx)?.clientId).toBe('c');
    load.a = 0;
    expect(pick(group, ctx)?.clientId).toBe('a');
  });

  it('every strategy returns undefined for an empty group', () => {
    const empty: ShareGroup = { shareName: 'g', topicFilter: 'x', members: [], cursor: 0 };
    const ctx = { topicName: 'x' };
    expect(roundRobin()(empty, ctx)).toBeUndefined();
    expect(random()(empty, ctx)).toBeUndefined();
    expect(hashOf()(empty, ctx)).toBeUndefined();
    expect(fewestInflight(() => 0)(empty, ctx)).toBeUndefined();
  });
});
