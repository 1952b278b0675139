import { describe, expect, it } from 'vitest';
import { type Match, MatchBuffer, matchesFilter, SubscriptionTrie, TopicError } from '../src/index.ts';
import { MATCH_CATALOGUE } from './catalogue.ts';

function clientsOf(matches: Match[]): string[] {
  return matches.map((m) => m.clientId).sort();
}

describe('SubscriptionTrie matching catalogue', () => {
  for (const [clause, filter, topic, expected] of MATCH_CATALOGUE) {
    it(`${clause} "${filter}" ${expected ? 'matches' : 'does not match'} "${topic}"`, () => {
      const trie = new SubscriptionTrie();
      trie.subscribe('c', filter);
      expect(trie.match(topic).length).toBe(expected ? 1 : 0);
      expect(matchesFilter(filter, topic)).toBe(expected);
      // The same through a shared subscription's inner filter.
      trie.subscribe('s', `$share/g/${filter}`);
      expect(trie.matchAll(topic).shared.length).toBe(expected ? 1 : 0);
      expect(matchesFilter(`$share/g/${filter}`, topic)).toBe(expected);
    });
  }
});

describe('SubscriptionTrie subscriptions', () => {
  it('MQTT-3.8.4-3 re-subscribing the same filter replaces the subscription', () => {
    const trie = new SubscriptionTrie();
    expect(trie.subscribe('c', 'a/+', { qos: 1 })).toBeUndefined();
    const old = trie.subscribe('c', 'a/+', { qos: 2, subscriptionIdentifier: 7 });
    expect(old?.qos).toBe(1);
    expect(trie.size).toBe(1);
    const [m] = trie.match('a/b');
    expect(m?.qos).toBe(2);
    expect(m?.subscriptionIdentifiers).toEqual([7]);
    expect(trie.subscriptionsOf('c').map((s) => s.topicFilter)).toEqual(['a/+']);
  });

  it('MQTT-3.3.4-2 overlapping subscriptions give one match with the highest QoS', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'a/#', { qos: 0 });
    trie.subscribe('c', 'a/+', { qos: 2 });
    trie.subscribe('c', 'a/b', { qos: 1 });
    trie.subscribe('d', 'a/b', { qos: 1 });
    const matches = trie.match('a/b');
    expect(clientsOf(matches)).toEqual(['c', 'd']);
    expect(matches.find((m) => m.clientId === 'c')?.qos).toBe(2);
  });

  it('MQTT-3.3.4-4 a merged match carries every subscription identifier', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'a/#', { subscriptionIdentifier: 1 });
    trie.subscribe('c', 'a/+', { subscriptionIdentifier: 2 });
    trie.subscribe('c', '+/b');
    trie.subscribe('c', 'a/b', { subscriptionIdentifier: 3 });
    const [m] = trie.match('a/b');
    expect([...(m?.subscriptionIdentifiers ?? [])].sort()).toEqual([1, 2, 3]);
    // A second walk does not see identifiers of the first (merged matches are fresh objects).
    const [again] = trie.match('a/b');
    expect(again?.subscriptionIdentifiers.length).toBe(3);
  });

  it('MQTT-3.3.4-2 retainAsPublished is true when any matching subscription has it', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'a/#');
    trie.subscribe('c', 'a/b', { retainAsPublished: true });
    expect(trie.match('a/b')[0]?.retainAsPublished).toBe(true);
    expect(trie.match('a/c')[0]?.retainAsPublished).toBe(false);
  });

  it('MQTT-3.8.3-3 No Local: the publisher is skipped when it is given', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('p', 'a/#', { noLocal: true, qos: 2, subscriptionIdentifier: 9 });
    trie.subscribe('q', 'a/#', { noLocal: true });
    expect(clientsOf(trie.match('a/b', 'p'))).toEqual(['q']);
    expect(clientsOf(trie.match('a/b'))).toEqual(['p', 'q']);
    expect(trie.match('a/b')[0]?.noLocal).toBe(true);
    // A subscription without No Local still delivers, with its own QoS and identifiers only.
    trie.subscribe('p', 'a/b', { qos: 1 });
    const own = trie.match('a/b', 'p').find((m) => m.clientId === 'p');
    expect(own?.qos).toBe(1);
    expect(own?.subscriptionIdentifiers).toEqual([]);
    const merged = trie.match('a/b').find((m) => m.clientId === 'p');
    expect(merged?.noLocal).toBe(false);
    expect(merged?.qos).toBe(2);
  });

  it('stores and reports every option', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'x/y', {
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 2,
      subscriptionIdentifier: 268_435_455,
    });
    expect(trie.get('c', 'x/y')).toMatchObject({
      clientId: 'c',
      topicFilter: 'x/y',
      shareName: undefined,
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 2,
      subscriptionIdentifier: 268_435_455,
    });
  });

  it('refuses invalid filters and options with typed errors', () => {
    const trie = new SubscriptionTrie();
    expect(() => trie.subscribe('c', 'a/#/b')).toThrow(TopicError);
    expect(() => trie.subscribe('c', 'a', { qos: 3 as 0 })).toThrow(/qos 3/);
    expect(() => trie.subscribe('c', 'a', { retainHandling: 3 as 0 })).toThrow(TopicError);
    expect(() => trie.subscribe('c', 'a', { subscriptionIdentifier: 0 })).toThrow(TopicError);
    expect(() => trie.subscribe('c', 'a', { subscriptionIdentifier: 268_435_456 })).toThrow(TopicError);
    expect(trie.size).toBe(0);
    expect(() => new SubscriptionTrie({ maxLevels: 2 }).subscribe('c', 'a/b/c')).toThrow(/levels/);
  });

  it('unsubscribe removes exactly one subscription and prunes', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'a/b');
    trie.subscribe('d', 'a/b');
    trie.subscribe('c', 'a/+');
    expect(trie.unsubscribe('c', 'a/b')).toBe(true);
    expect(trie.unsubscribe('c', 'a/b')).toBe(false);
    expect(trie.unsubscribe('x', 'a/b')).toBe(false);
    expect(trie.unsubscribe('c', 'nope/#')).toBe(false);
    expect(clientsOf(trie.match('a/b'))).toEqual(['c', 'd']);
    expect(trie.size).toBe(2);
    expect(trie.unsubscribe('c', 'a/+')).toBe(true);
    expect(trie.unsubscribe('d', 'a/b')).toBe(true);
    expect(trie.size).toBe(0);
    expect(trie.clientCount).toBe(0);
    expect(trie.match('a/b')).toEqual([]);
  });

  it('removeClient drops all of a client subscriptions, shared ones included', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c', 'a/b');
    trie.subscribe('c', '#');
    trie.subscribe('c', '$share/g/a/b');
    trie.subscribe('d', 'a/b');
    expect(trie.subscriptionsOf('c').map((s) => s.topicFilter)).toEqual(['a/b', '#', '$share/g/a/b']);
    expect(trie.removeClient('c')).toBe(3);
    expect(trie.removeClient('c')).toBe(0);
    expect(trie.size).toBe(1);
    const all = trie.matchAll('a/b');
    expect(clientsOf(all.matches)).toEqual(['d']);
    expect(all.shared).toEqual([]);
  });

  it('handles many subscribers on one node (indexed list) through churn', () => {
    const trie = new SubscriptionTrie();
    for (let i = 0; i < 100; i++) trie.subscribe(`c${i}`, 'hot/topic', { qos: (i % 3) as 0 | 1 | 2 });
    for (let i = 0; i < 100; i += 2) expect(trie.unsubscribe(`c${i}`, 'hot/topic')).toBe(true);
    const got = clientsOf(trie.match('hot/topic'));
    expect(got).toEqual(Array.from({ length: 50 }, (_, k) => `c${2 * k + 1}`).sort());
    for (let i = 1; i < 100; i += 2) trie.subscribe(`c${i}`, 'hot/topic', { qos: 2 });
    expect(trie.match('hot/topic').every((m) => m.qos === 2)).toBe(true);
    expect(trie.size).toBe(50);
  });

  it('finds every exact filter through growth, removal and re-adding (the exact index and its filter)', () => {
    const trie = new SubscriptionTrie();
    const topic = (i: number) => `dev/${i}/t`;
    for (let i = 0; i < 5000; i++) trie.subscribe(`c${i % 50}`, topic(i));
    for (let i = 0; i < 5000; i++) if (i % 5 !== 0) trie.unsubscribe(`c${i % 50}`, topic(i));
    for (let i = 0; i < 3000; i += 3) trie.subscribe(`c${i % 50}`, topic(i));
    const present = (i: number) => (i < 5000 && i % 5 === 0) || (i < 3000 && i % 3 === 0);
    const wrong: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const got = trie.match(topic(i)).map((m) => m.clientId);
      const want = present(i) ? [`c${i % 50}`] : [];
      if (got.join() !== want.join()) wrong.push(i);
    }
    expect(wrong).toEqual([]);
  });

  it('works with non-string client ids', () => {
    const a = { name: 'a' };
    const trie = new SubscriptionTrie<object>();
    trie.subscribe(a, 'x/#');
    expect(trie.match('x/y')[0]?.clientId).toBe(a);
  });
});

describe('SubscriptionTrie shared subscriptions', () => {
  it('MQTT-4.8.2-1 shared groups are kept apart from normal subscriptions', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', '$share/workers/jobs/+', { qos: 1 });
    trie.subscribe('b', '$share/workers/jobs/+', { qos: 2 });
    trie.subscribe('a', 'jobs/#');
    trie.subscribe('c', '$share/other/jobs/#');
    expect(clientsOf(trie.match('jobs/1'))).toEqual(['a']);
    const { matches, shared } = trie.matchAll('jobs/1');
    expect(clientsOf(matches)).toEqual(['a']);
    const byName = new Map(shared.map((g) => [`${g.shareName}|${g.topicFilter}`, g]));
    expect([...byName.keys()].sort()).toEqual(['other|jobs/#', 'workers|jobs/+']);
    expect(byName.get('workers|jobs/+')?.members.map((m) => [m.clientId, m.qos])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(trie.get('a', '$share/workers/jobs/+')?.shareName).toBe('workers');
  });

  it('MQTT-4.8.2-2 the same ShareName with different filters makes different groups', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', '$share/g/x/+');
    trie.subscribe('b', '$share/g/x/#');
    expect(trie.matchAll('x/y').shared.length).toBe(2);
  });

  it('MQTT-3.8.3-4 No Local on a shared subscription is a protocol error', () => {
    const trie = new SubscriptionTrie();
    try {
      trie.subscribe('a', '$share/g/x', { noLocal: true });
      expect.unreachable();
    } catch (error) {
      expect((error as TopicError).code).toBe('SHARED_NO_LOCAL');
      expect((error as TopicError).reasonCode).toBe(0x82);
    }
  });

  it('MQTT-4.8.2-1 re-subscribing to a shared subscription replaces the member', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', '$share/g/x', { qos: 0 });
    expect(trie.subscribe('a', '$share/g/x', { qos: 2 })?.qos).toBe(0);
    expect(trie.size).toBe(1);
    expect(trie.matchAll('x').shared[0]?.members.map((m) => m.qos)).toEqual([2]);
    expect(trie.unsubscribe('a', '$share/g/x')).toBe(true);
    expect(trie.matchAll('x').shared).toEqual([]);
    expect(trie.unsubscribe('a', '$share/g/x')).toBe(false);
  });

  it('refuses shared subscriptions with 0x9E when they are disabled', () => {
    const trie = new SubscriptionTrie({ allowShared: false });
    try {
      trie.subscribe('a', '$share/g/x');
      expect.unreachable();
    } catch (error) {
      expect((error as TopicError).reasonCode).toBe(0x9e);
    }
  });
});

describe('SubscriptionTrie.matchInto', () => {
  it('MQTT-3.3.4-2 writes the same matches as matchAll into a reused buffer', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a', 'x/#', { qos: 1 });
    trie.subscribe('a', 'x/+', { qos: 2, subscriptionIdentifier: 4 });
    trie.subscribe('b', 'x/y');
    trie.subscribe('c', '$share/g/x/y');
    const buffer = new MatchBuffer();
    expect(trie.matchInto('x/y', buffer)).toBe(2);
    const got = buffer.matches
      .slice(0, buffer.count)
      .map((m) => [m.clientId, m.qos, m.subscriptionIdentifiers]);
    expect(got.sort()).toEqual([
      ['a', 2, [4]],
      ['b', 0, []],
    ]);
    expect(buffer.sharedCount).toBe(1);
    expect(buffer.shared[0]?.shareName).toBe('g');
    // Reused: a topic with fewer matches overwrites the counts, not the array length.
    expect(trie.matchInto('x/z', buffer)).toBe(1);
    expect(buffer.matches[0]?.clientId).toBe('a');
    expect(buffer.sharedCount).toBe(0);
    expect(trie.matchInto('nothing', buffer)).toBe(0);
    buffer.clear();
    expect(buffer.matches).toEqual([]);
    // The trie's own results are unaffected by the buffer.
    expect(trie.matchAll('x/y').matches.length).toBe(2);
  });

  it('MQTT-3.8.3-3 applies No Local for the given publisher', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('p', 'x', { noLocal: true });
    const buffer = new MatchBuffer();
    expect(trie.matchInto('x', buffer, 'p')).toBe(0);
    expect(trie.matchInto('x', buffer, 'q')).toBe(1);
  });
});

describe('SubscriptionTrie level comparison', () => {
  it('MQTT-4.7.1-2 tells apart levels that share a hash bucket, packed or not (ASCII, long, non-ASCII, empty)', () => {
    const trie = new SubscriptionTrie();
    const levels = ['', 'a', 'ab', 'abcd', 'abcde', 'abcdefgh', 'abcdefghi', 'é', 'aé', 'ü1234567', '日本'];
    // Many siblings so the levels sit in one table, each under its own '+' tail.
    for (const level of levels) trie.subscribe(`c-${level}`, `root/${level}/+`);
    for (const level of levels) {
      expect(clientsOf(trie.match(`root/${level}/x`))).toEqual([`c-${level}`]);
      // One character more or less never matches.
      expect(trie.match(`root/${level}z/x`)).toEqual([]);
      if (level.length > 0) expect(trie.match(`root/${level.slice(0, -1)}Z/x`)).toEqual([]);
    }
    // A single child (kept inline, compared through the parent's copy of its hash).
    const single = new SubscriptionTrie();
    single.subscribe('s', 'one/abcdefgh/+');
    expect(clientsOf(single.match('one/abcdefgh/x'))).toEqual(['s']);
    expect(single.match('one/abcdefgi/x')).toEqual([]);
    expect(single.match('one/abcdefg/x')).toEqual([]);
  });
});

describe('SubscriptionTrie with the longest topics', () => {
  it('MQTT-4.7.3-3 matches topics up to 65 535 characters and 65 536 levels; longer ones match nothing', () => {
    const trie = new SubscriptionTrie({ maxLevels: 70_000 });
    trie.subscribe('all', '#');
    trie.subscribe('deep', `${'/'.repeat(65_534)}#`);
    trie.subscribe('exact', `${'a/'.repeat(32_767)}a`);
    trie.subscribe('tail', `${'a/'.repeat(32_766)}+/#`);
    // 65 535 slashes: 65 536 empty levels.
    expect(clientsOf(trie.match('/'.repeat(65_535)))).toEqual(['all', 'deep']);
    // 32 768 levels of one character.
    expect(clientsOf(trie.match(`${'a/'.repeat(32_767)}a`))).toEqual(['all', 'exact', 'tail']);
    expect(trie.match('/'.repeat(65_536))).toEqual([]);
    // Deep but ordinary: more levels than any walk needed before.
    expect(clientsOf(trie.match(`${'x/'.repeat(300)}x`))).toEqual(['all']);
  });
});
