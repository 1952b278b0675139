import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isValidTopicFilter,
  isValidTopicName,
  type Match,
  MatchBuffer,
  matchesFilter,
  type QoS,
  RetainedIndex,
  SubscriptionTrie,
} from '../src/index.ts';
import { referenceMatches } from './reference.ts';

// Each property stops after ~2 s on a slow machine rather than failing; the runs done are checked.
const TIME_BOX = { interruptAfterTimeLimit: 2_000, markInterruptAsFailure: false };

// Few distinct level values so that random filters and topics actually meet.
const LEVELS = ['a', 'b', 'c', '', '$s', 'a$'];
const CLIENTS = ['c1', 'c2', 'c3', 'c4'];
const SHARE_NAMES = ['g1', 'g2'];

const topicArb = fc
  .array(fc.constantFrom(...LEVELS), { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((t) => t.length > 0);

const plainFilterArb = fc
  .tuple(
    fc.array(fc.constantFrom(...LEVELS, '+', '+'), { minLength: 0, maxLength: 5 }),
    fc.boolean(), // trailing '#'
  )
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);

const filterArb = fc
  .tuple(fc.option(fc.constantFrom(...SHARE_NAMES), { freq: 4 }), plainFilterArb)
  .map(([share, f]) => (share === null ? f : `$share/${share}/${f}`));

interface SubOp {
  kind: 'sub';
  client: string;
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  id: number | null;
}
type Op = SubOp | { kind: 'unsub'; client: string; filter: string } | { kind: 'drop'; client: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('sub' as const),
      client: fc.constantFrom(...CLIENTS),
      filter: filterArb,
      qos: fc.constantFrom<QoS>(0, 1, 2),
      noLocal: fc.boolean(),
      retainAsPublished: fc.boolean(),
      id: fc.option(fc.integer({ min: 1, max: 268_435_455 })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('unsub' as const),
      client: fc.constantFrom(...CLIENTS),
      filter: filterArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('drop' as const), client: fc.constantFrom(...CLIENTS) }),
  },
);

type Model = Map<string, Map<string, SubOp>>;

function innerOf(filter: string): { share: string | undefined; inner: string } {
  if (!filter.startsWith('$share/')) return { share: undefined, inner: filter };
  const slash = filter.indexOf('/', 7);
  return { share: filter.slice(7, slash), inner: filter.slice(slash + 1) };
}

function apply(trie: SubscriptionTrie, model: Model, op: Op): void {
  const subs = model.get(op.client) ?? new Map<string, SubOp>();
  model.set(op.client, subs);
  if (op.kind === 'sub') {
    // The spec makes No Local on a shared subscription a protocol error; the trie refuses it.
    const stored = innerOf(op.filter).share === undefined ? op : { ...op, noLocal: false };
    const existed = subs.has(op.filter);
    const old = trie.subscribe(op.client, op.filter, {
      qos: stored.qos,
      noLocal: stored.noLocal,
      retainAsPublished: stored.retainAsPublished,
      ...(stored.id === null ? {} : { subscriptionIdentifier: stored.id }),
    });
    expect(old !== undefined).toBe(existed);
    subs.set(op.filter, stored);
  } else if (op.kind === 'unsub') {
    expect(trie.unsubscribe(op.client, op.filter)).toBe(subs.delete(op.filter));
  } else {
    expect(trie.removeClient(op.client)).toBe(subs.size);
    subs.clear();
  }
}

function normalize(m: Match) {
  return {
    clientId: m.clientId,
    qos: m.qos,
    noLocal: m.noLocal,
    retainAsPublished: m.retainAsPublished,
    ids: [...m.subscriptionIdentifiers].sort((x, y) => x - y),
  };
}

function expected(model: Model, topic: string, publisher: string | undefined) {
  const matches: ReturnType<typeof normalize>[] = [];
  const groups = new Map<string, string[]>();
  for (const [client, subs] of model) {
    let merged: ReturnType<typeof normalize> | undefined;
    for (const sub of subs.values()) {
      const { share, inner } = innerOf(sub.filter);
      if (!referenceMatches(inner, topic)) continue;
      if (share !== undefined) {
        const key = `${share}|${inner}`;
        groups.set(key, [...(groups.get(key) ?? []), `${client}:${sub.qos}`]);
        continue;
      }
      if (sub.noLocal && client === publisher) continue;
      const ids = sub.id === null ? [] : [sub.id];
      if (merged === undefined) {
        merged = {
          clientId: client,
          qos: sub.qos,
          noLocal: sub.noLocal,
          retainAsPublished: sub.retainAsPublished,
          ids,
        };
      } else {
        merged.qos = Math.max(merged.qos, sub.qos) as QoS;
        merged.noLocal &&= sub.noLocal;
        merged.retainAsPublished ||= sub.retainAsPublished;
        merged.ids = [...merged.ids, ...ids].sort((x, y) => x - y);
      }
    }
    if (merged !== undefined) matches.push(merged);
  }
  matches.sort((x, y) => x.clientId.localeCompare(y.clientId));
  return { matches, groups: [...groups].map(([k, v]) => `${k}=${v.sort().join(',')}`).sort() };
}

describe('property: SubscriptionTrie agrees with a naive matcher written from the spec', () => {
  it('MQTT-4.7.1-1 MQTT-4.7.1-2 MQTT-4.7.2-1 MQTT-3.3.4-2 MQTT-4.8.2-1 match after random churn', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.array(topicArb, { minLength: 1, maxLength: 8 }),
        fc.option(fc.constantFrom(...CLIENTS)),
        (ops, topics, publisher) => {
          const trie = new SubscriptionTrie();
          const buffer = new MatchBuffer();
          const model: Model = new Map();
          for (const op of ops) apply(trie, model, op);
          let size = 0;
          for (const subs of model.values()) size += subs.size;
          expect(trie.size).toBe(size);
          for (const [client, subs] of model) {
            expect(
              trie
                .subscriptionsOf(client)
                .map((s) => s.topicFilter)
                .sort(),
            ).toEqual([...subs.keys()].sort());
          }
          for (const topic of topics) {
            const pub = publisher ?? undefined;
            const want = expected(model, topic, pub);
            const all = trie.matchAll(topic, pub);
            const got = all.matches.map(normalize).sort((x, y) => x.clientId.localeCompare(y.clientId));
            expect(got).toEqual(want.matches);
            expect(
              trie
                .match(topic, pub)
                .map(normalize)
                .sort((x, y) => x.clientId.localeCompare(y.clientId)),
            ).toEqual(want.matches);
            const groups = all.shared
              .map(
                (g) =>
                  `${g.shareName}|${g.topicFilter}=${g.members
                    .map((m) => `${m.clientId}:${m.qos}`)
                    .sort()
                    .join(',')}`,
              )
              .sort();
            expect(groups).toEqual(want.groups);
            // The allocation-free form agrees, through a buffer reused across topics.
            const count = trie.matchInto(topic, buffer, pub);
            expect(
              buffer.matches
                .slice(0, count)
                .map(normalize)
                .sort((x, y) => x.clientId.localeCompare(y.clientId)),
            ).toEqual(want.matches);
            expect(buffer.sharedCount).toBe(want.groups.length);
          }
          // Removing everything leaves an empty trie that matches nothing.
          for (const client of CLIENTS) trie.removeClient(client);
          expect(trie.size).toBe(0);
          expect(trie.clientCount).toBe(0);
          for (const topic of topics) expect(trie.matchAll(topic).matches).toEqual([]);
        },
      ),
      { numRuns: 5000, ...TIME_BOX },
    );
  });

  it('MQTT-4.7.1-1 MQTT-4.7.2-1 matchesFilter agrees with the naive matcher', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        expect(isValidTopicFilter(filter)).toBe(true);
        expect(isValidTopicName(topic)).toBe(true);
        expect(matchesFilter(filter, topic)).toBe(referenceMatches(innerOf(filter).inner, topic));
      }),
      { numRuns: 50_000, ...TIME_BOX },
    );
  });
});

type RetainedOp = { kind: 'set'; topic: string; value: number } | { kind: 'delete'; topic: string };

describe('property: RetainedIndex.match agrees with a naive scan', () => {
  it('MQTT-4.7.1-1 MQTT-4.7.1-2 MQTT-4.7.2-1 retained lookups after random set/delete', () => {
    const retainedOpArb: fc.Arbitrary<RetainedOp> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('set' as const), topic: topicArb, value: fc.nat() }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), topic: topicArb }) },
    );
    fc.assert(
      fc.property(
        fc.array(retainedOpArb, { minLength: 1, maxLength: 60 }),
        fc.array(plainFilterArb, { minLength: 1, maxLength: 8 }),
        (ops, filters) => {
          const index = new RetainedIndex<number>();
          const model = new Map<string, number>();
          for (const op of ops) {
            if (op.kind === 'set') {
              index.set(op.topic, op.value);
              model.set(op.topic, op.value);
            } else {
              expect(index.delete(op.topic)).toBe(model.delete(op.topic));
            }
          }
          expect(index.size).toBe(model.size);
          expect([...index].sort()).toEqual([...model].sort());
          for (const filter of filters) {
            const got: [string, number][] = [];
            index.forEachMatch(filter, (value, topic) => got.push([topic, value]));
            const want = [...model].filter(([topic]) => referenceMatches(filter, topic));
            expect(got.sort()).toEqual(want.sort());
            expect(index.match(filter).sort()).toEqual(want.map(([, v]) => v).sort());
          }
        },
      ),
      { numRuns: 10_000, ...TIME_BOX },
    );
  });
});
