import { describe, expect, it } from 'vitest';
import { MatchCache, SubscriptionTrie } from '../src/index.ts';

describe('MatchCache', () => {
  it('returns the trie result and reuses it while the trie is unchanged', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', 'x/+', { qos: 1 });
    const cache = new MatchCache(trie, { maxEntries: 2 });
    const first = cache.matchAll('x/y');
    expect(first.matches.map((m) => m.clientId)).toEqual(['a']);
    expect(cache.matchAll('x/y')).toBe(first);
    expect(cache.stats).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it('is emptied by any change to the trie, so results are never stale', () => {
    const trie = new SubscriptionTrie();
    const cache = new MatchCache(trie);
    expect(cache.matchAll('x/y').matches).toEqual([]);
    trie.subscribe('a', 'x/#');
    expect(cache.matchAll('x/y').matches.map((m) => m.clientId)).toEqual(['a']);
    trie.unsubscribe('a', 'x/#');
    expect(cache.matchAll('x/y').matches).toEqual([]);
    trie.subscribe('b', '$share/g/x/y');
    expect(cache.matchAll('x/y').shared.length).toBe(1);
    trie.removeClient('b');
    expect(cache.matchAll('x/y').shared).toEqual([]);
  });

  it('drops the oldest topic past maxEntries', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', '#');
    const cache = new MatchCache(trie, { maxEntries: 2 });
    const a = cache.matchAll('a');
    cache.matchAll('b');
    cache.matchAll('c');
    expect(cache.stats.size).toBe(2);
    expect(cache.matchAll('a')).not.toBe(a);
  });

  it('MQTT-3.8.3-3 bypasses the cache for a publisher when No Local subscriptions exist', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('p', 'x', { noLocal: true });
    trie.subscribe('q', 'x');
    const cache = new MatchCache(trie);
    expect(cache.matchAll('x').matches.length).toBe(2);
    expect(cache.matchAll('x', 'p').matches.map((m) => m.clientId)).toEqual(['q']);
    expect(cache.matchAll('x', 'q').matches.length).toBe(2);
  });
});

describe('MatchCache adaptivity', () => {
  it('stops storing while topics do not repeat, and stays correct', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', 'x/+');
    const cache = new MatchCache(trie);
    for (let i = 0; i < 1000; i++) expect(cache.matchAll(`x/${i}`).matches.length).toBe(1);
    expect(cache.stats.size).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(cache.matchAll(`x/n${i}`).matches.length).toBe(1);
    expect(cache.stats.size).toBe(0);
    // A repeating workload in the same cache stays correct either way.
    expect(cache.matchAll('x/1').matches.map((m) => m.clientId)).toEqual(['a']);
  });
});
