import { readFileSync } from 'node:fs';
import type { Delivery, Logger, Message, StoredSession, StoredState, SysInfo } from '@x/broker';
import {
  type RunningRedisCluster,
  relaxedCommit,
  requireServer,
  sleep,
  startRedisCluster,
} from '@x/test-helpers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from '../src/index.js';
import { makeCertificates, startRedisWith, startSentinel, type TestRedis } from './redis-servers.js';

const redisServer = requireServer('redis-server');

/** A logger that keeps what it is given, to check what the store reported. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (fields: object, message: string) => {
    lines.push(`${message} ${JSON.stringify(fields)}`);
  };
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

function message(topic: string, payload: number[], overrides: Partial<Message> = {}): Message {
  return {
    topic,
    payload: Buffer.from(payload),
    qos: 2,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    origin: 'publisher',
    owned: true,
    ...overrides,
  };
}

function delivery(m: Message, qos: 0 | 1 | 2, subscriptionIds?: number[]): Delivery {
  return { message: m, qos, retain: false, subscriptionIds };
}

/** Commits and resolves with the error passed to the callback. */
function commit(store: RedisStore): Promise<Error | undefined> {
  return new Promise((resolve) => store.commit(resolve));
}

/** Opens a store, runs `body`, closes it. */
async function withStore<T>(
  options: RedisStoreOptions,
  body: (store: RedisStore, state: StoredState) => Promise<T>,
): Promise<T> {
  const store = new RedisStore(options);
  const state = await store.open();
  try {
    return await body(store, state);
  } finally {
    await store.close();
  }
}

const session = (clientId: string, overrides: Partial<StoredSession> = {}): StoredSession => ({
  clientId,
  protocolVersion: 5,
  expiryInterval: 3600,
  disconnectedAt: 0,
  will: undefined,
  pendingWill: undefined,
  ...overrides,
});

const sys = (n: number): SysInfo => ({
  version: 'x',
  started: 1,
  clientsConnected: 2,
  clientsTotal: 3,
  clientsMaximum: n,
  messagesReceived: n + 1,
  messagesSent: n + 2,
  bytesReceived: n + 3,
  bytesSent: n + 4,
  subscriptions: 5,
  retained: 6,
  inflight: 7,
  publishDropped: n + 5,
  connectionsTotal: n + 6,
  connectionsRefused: 0,
  readPauses: 0,
  acksHeld: 0,
  heldBytes: 0,
  heldBytesPeak: 0,
  stalledConsumers: 0,
});

/**
 * Records one of every change (and a few that cancel out) and commits them. Shared by the single
 * server, TLS and cluster round trips. Client id `a}b` exercises the fallback hash tag.
 */
async function writeEveryChange(store: RedisStore): Promise<void> {
  const will = {
    topic: 'will/a',
    payload: Buffer.from([1, 2]),
    qos: 1 as const,
    retain: false,
    properties: { willDelayInterval: 20, userProperties: [['k', 'v']] as [string, string][] },
  };
  store.saveSession(session('alice', { will }));
  store.saveSubscription('alice', {
    topicFilter: 'a/#',
    qos: 2,
    noLocal: true,
    retainAsPublished: true,
    retainHandling: 1,
    subscriptionIdentifier: 9,
  });
  store.saveSubscription('alice', {
    topicFilter: 'gone/+',
    qos: 0,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionIdentifier: undefined,
  });
  store.deleteSubscription('alice', 'gone/+');
  const shared = message('a/1', [0, 13, 10, 255], {
    properties: { contentType: 'bin', correlationData: Buffer.from([7, 7]), messageExpiryInterval: 3600 },
    expiresAt: Date.now() + 3_600_000,
  });
  for (let seq = 1; seq <= 12; seq++) {
    store.queueMessage('alice', seq, delivery(seq === 3 ? shared : message(`a/q${seq}`, [seq]), 1, [9]));
  }
  store.dequeueMessage('alice', 1);
  store.dequeueMessage('alice', 2);
  // Out of numeric-string order: 10 before 9 would be wrong.
  const first = delivery(message('a/f1', [1]), 2);
  const second = delivery(message('a/f2', [2]), 1);
  const done = delivery(message('a/f3', [3]), 1);
  store.saveInflight('alice', 300, first, false);
  store.saveInflight('alice', 7, second, false);
  store.saveInflight('alice', 8, done, false);
  store.saveInflight('alice', 300, first, true); // PUBREC: keeps its place, now released
  store.deleteInflight('alice', 8);
  store.saveInboundQos2('alice', 5);
  store.saveInboundQos2('alice', 6);
  store.deleteInboundQos2('alice', 5);

  store.saveSession(session('a}b', { protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 1000 }));
  store.saveSubscription('a}b', {
    topicFilter: 'b',
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionIdentifier: undefined,
  });
  store.saveSession(
    session('delayed', {
      disconnectedAt: Date.now(),
      pendingWill: { will: { ...will, topic: 'will/d' }, dueAt: Date.now() + 20_000 },
    }),
  );
  store.saveSession(session('bob'));
  store.queueMessage('bob', 1, delivery(message('b/1', [1]), 1));
  store.deleteSession('bob');

  store.saveRetained(
    message('r/1', [1, 2, 3], { qos: 1, retain: true, properties: { userProperties: [['r', '1']] } }),
  );
  store.saveRetained(message('r/2', [2], { retain: true }));
  store.deleteRetained('r/2');
  store.saveRetained(message('$SYS/broker/uptime', [1], { retain: true }));
  store.saveSysInfo(sys(10));
  store.saveSysInfo(sys(20));
  expect(await commit(store)).toBeUndefined();
}

/** Checks what `open()` of a new store returned after `writeEveryChange`. */
function expectEveryChange(state: StoredState): void {
  const byId = new Map(state.sessions.map((s) => [s.clientId, s]));
  expect([...byId.keys()].sort()).toEqual(['alice', 'a}b', 'delayed']);
  const alice = byId.get('alice')!;
  expect(alice).toMatchObject({
    protocolVersion: 5,
    expiryInterval: 3600,
    disconnectedAt: 0,
    pendingWill: undefined,
  });
  expect(alice.will).toMatchObject({
    topic: 'will/a',
    qos: 1,
    properties: { willDelayInterval: 20, userProperties: [['k', 'v']] },
  });
  expect(alice.subscriptions).toEqual([
    {
      topicFilter: 'a/#',
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 1,
      subscriptionIdentifier: 9,
    },
  ]);
  expect(alice.queue.map((d) => d.message.topic)).toEqual([
    'a/1',
    'a/q4',
    'a/q5',
    'a/q6',
    'a/q7',
    'a/q8',
    'a/q9',
    'a/q10',
    'a/q11',
    'a/q12',
  ]);
  const q = alice.queue[0]!;
  expect(q.qos).toBe(1);
  expect(q.subscriptionIds).toEqual([9]);
  expect(q.message.qos).toBe(2);
  expect(Buffer.from(q.message.payload)).toEqual(Buffer.from([0, 13, 10, 255]));
  expect(q.message.properties).toEqual({
    contentType: 'bin',
    correlationData: Buffer.from([7, 7]),
    messageExpiryInterval: 3600,
  });
  expect(q.message.expiresAt).toBeGreaterThan(Date.now());
  expect(
    alice.inflight.map((f) => [f.packetId, f.delivery.message.topic, f.delivery.qos, f.released]),
  ).toEqual([
    [300, 'a/f1', 2, true],
    [7, 'a/f2', 1, false],
  ]);
  expect(alice.inboundQos2).toEqual([6]);
  const ab = byId.get('a}b')!;
  expect(ab).toMatchObject({ protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 1000 });
  expect(ab.subscriptions.map((s) => s.topicFilter)).toEqual(['b']);
  expect(byId.get('delayed')!.pendingWill?.will.topic).toBe('will/d');
  expect(state.retained.map((m) => [m.topic, m.qos, m.retain, m.properties])).toEqual([
    ['r/1', 1, true, { userProperties: [['r', '1']] }],
  ]);
  expect(state.sysInfo).toEqual({
    clientsMaximum: 20,
    messagesReceived: 21,
    messagesSent: 22,
    bytesReceived: 23,
    bytesSent: 24,
    publishDropped: 25,
    connectionsTotal: 26,
  });
}

describe.skipIf(redisServer.skip)(
  `RedisStore against a real redis-server${redisServer.reason ? ` (skipped: ${redisServer.reason})` : ''}`,
  () => {
    let redis: TestRedis;
    let control: Redis;

    beforeAll(async () => {
      redis = await startRedisWith();
      control = new Redis(redis.url);
    });

    afterAll(async () => {
      control?.disconnect();
      await redis?.dispose();
    });

    it('every kind of change survives commit → a new store → open()', async () => {
      const logger = recordingLogger();
      await withStore({ url: redis.url, prefix: 'rt:', logger }, async (store, state) => {
        expect(state).toEqual({ sessions: [], retained: [], sysInfo: undefined });
        expect(store.writable).toBe(true);
        await writeEveryChange(store);
      });
      await withStore({ url: redis.url, prefix: 'rt:' }, async (_store, state) => expectEveryChange(state));
      // The layout is the documented one.
      expect((await control.keys('rt:*')).sort()).toEqual([
        'rt:clients',
        'rt:format',
        'rt:inflight:{alice}',
        'rt:qos2in:{alice}',
        'rt:queue:{alice}',
        'rt:retained',
        'rt:subs:{#}a}b',
        'rt:subs:{alice}',
        'rt:sys',
      ]);
      expect(await control.get('rt:format')).toBe('2');
      expect(logger.lines.some((l) => l.startsWith('Redis store: state loaded'))).toBe(true);
    });

    it('a new session under a known id starts empty; an expired session and expired messages are purged at open', async () => {
      await withStore({ url: redis.url, prefix: 'purge:' }, async (store) => {
        store.saveSession(session('old', { disconnectedAt: Date.now() - 10_000, expiryInterval: 5 }));
        store.saveSubscription('old', {
          topicFilter: 'x',
          qos: 1,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
          subscriptionIdentifier: undefined,
        });
        store.saveSession(session('live', { disconnectedAt: Date.now(), expiryInterval: 60 }));
        store.queueMessage('live', 1, delivery(message('gone', [1], { expiresAt: Date.now() + 50 }), 1));
        store.queueMessage('live', 2, delivery(message('kept', [2]), 1));
        store.saveRetained(message('r/gone', [1], { retain: true, expiresAt: Date.now() + 50 }));
        expect(await commit(store)).toBeUndefined();
      });
      await new Promise((r) => setTimeout(r, 100));
      await withStore({ url: redis.url, prefix: 'purge:' }, async (_store, state) => {
        expect(state.sessions.map((s) => s.clientId)).toEqual(['live']);
        expect(state.sessions[0]!.queue.map((d) => d.message.topic)).toEqual(['kept']);
        expect(state.retained).toEqual([]);
      });
      expect(await control.hkeys('purge:clients')).toEqual(['live']);
      expect(await control.exists('purge:subs:{old}')).toBe(0);
      expect(await control.hkeys('purge:queue:{live}')).toEqual(['2']);
      expect(await control.hkeys('purge:retained')).toEqual([]);

      // Keys left by a session Redis no longer lists (e.g. a lost HDEL) do not leak into a new one.
      await control.hset('purge:subs:{fresh}', 'stale/#', '{"q":1,"rh":0}');
      await withStore({ url: redis.url, prefix: 'purge:' }, async (store) => {
        store.saveSession(session('fresh'));
        expect(await commit(store)).toBeUndefined();
      });
      await withStore({ url: redis.url, prefix: 'purge:' }, async (_store, state) => {
        expect(state.sessions.find((s) => s.clientId === 'fresh')?.subscriptions).toEqual([]);
      });
    });

    it('commit callbacks run once each, in commit order, after Redis answered', async () => {
      await withStore({ url: redis.url, prefix: 'order:' }, async (store) => {
        const calls: Array<[number, Error | undefined]> = [];
        const big = Buffer.alloc(200_000, 1);
        const all: Promise<void>[] = [];
        for (let i = 0; i < 30; i++) {
          // Large, small and empty batches: an empty commit still waits for the earlier ones.
          if (i % 3 === 0)
            store.queueMessage('x', i, delivery(message('t', [...big.subarray(0, 100_000 + i)]), 1));
          else if (i % 3 === 1) store.saveInboundQos2('x', i + 1);
          all.push(
            new Promise((resolve) =>
              store.commit((error) => {
                calls.push([i, error]);
                resolve();
              }),
            ),
          );
        }
        expect(calls).toEqual([]); // none synchronously: the first is in flight
        await Promise.all(all);
        expect(calls.map(([i]) => i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
        expect(calls.every(([, e]) => e === undefined)).toBe(true);
        expect(await control.hlen('order:queue:{x}')).toBe(10);
        expect((await control.smembers('order:qos2in:{x}')).length).toBe(10);
      });
    });

    it('commits made while a batch is on its way go together when it is answered: a message queued and dequeued meanwhile never reaches Redis', async () => {
      const hsetCalls = async () =>
        Number(/cmdstat_hset:calls=(\d+)/.exec(await control.info('commandstats'))?.[1] ?? 0);
      await withStore({ url: redis.url, prefix: 'fold:' }, async (store) => {
        store.saveSession(session('x'));
        expect(await commit(store)).toBeUndefined();
        const before = await hsetCalls();
        store.saveInboundQos2('x', 1);
        const first = commit(store); // on its way: what follows waits for its answer
        store.queueMessage('x', 1, delivery(message('t', [1]), 1));
        const second = commit(store);
        store.dequeueMessage('x', 1);
        const third = commit(store);
        expect(await Promise.all([first, second, third])).toEqual([undefined, undefined, undefined]);
        expect(await hsetCalls()).toBe(before);
        expect(await control.exists('fold:queue:{x}')).toBe(0);
        expect(await control.smembers('fold:qos2in:{x}')).toEqual(['1']);
      });
    });

    it('holds a commit back while the last batch mostly cancelled out, unless it is urgent', async () => {
      await withStore({ url: redis.url, prefix: 'pace:', commitWindowMs: 60_000 }, async (store) => {
        store.saveSession(session('x'));
        for (let seq = 1; seq <= 100; seq++) {
          store.queueMessage('x', seq, delivery(message('t', [seq]), 1));
          store.dequeueMessage('x', seq);
        }
        expect(await commit(store)).toBeUndefined(); // 201 changes, 1 value written
        store.saveRetained(message('r/1', [1], { retain: true }));
        const held = relaxedCommit(store);
        await sleep(300);
        expect(held.answered).toBe(false); // the window is a minute
        expect(await control.hexists('pace:retained', 'r/1')).toBe(0);
        store.saveRetained(message('r/2', [2], { retain: true }));
        expect(await commit(store)).toBeUndefined(); // urgent: sent now, with the held one
        expect(held.answered).toBe(true);
        expect(await held.done).toBeUndefined();
        expect((await control.hkeys('pace:retained')).sort()).toEqual(['r/1', 'r/2']);
      });
    });

    it('malformed stored entries are skipped with a warning naming them; the rest loads', async () => {
      await withStore({ url: redis.url, prefix: 'bad:' }, async (store) => {
        store.saveSession(session('good'));
        store.queueMessage('good', 1, delivery(message('q/1', [1]), 1));
        store.queueMessage('good', 2, delivery(message('q/2', [2]), 1));
        store.saveRetained(message('r/ok', [1], { retain: true }));
        expect(await commit(store)).toBeUndefined();
      });
      await control.hset('bad:clients', 'broken', '{"v":9}');
      await control.hset('bad:queue:{good}', '3', Buffer.from([1, 0, 0]));
      await control.hset('bad:queue:{good}', 'x', Buffer.from([1, 0, 0]));
      await control.hset('bad:inflight:{good}', '70000', Buffer.from([1]));
      await control.hset('bad:subs:{good}', 'f', 'not json');
      await control.sadd('bad:qos2in:{good}', '0', '12');
      await control.hset('bad:retained', 'r/bad', 'garbage');
      const logger = recordingLogger();
      await withStore({ url: redis.url, prefix: 'bad:', logger }, async (_store, state) => {
        expect(state.sessions.map((s) => s.clientId)).toEqual(['good']);
        expect(state.sessions[0]!.queue.map((d) => d.message.topic)).toEqual(['q/1', 'q/2']);
        expect(state.sessions[0]!.inboundQos2).toEqual([12]);
        expect(state.sessions[0]!.subscriptions).toEqual([]);
        expect(state.retained.map((m) => m.topic)).toEqual(['r/ok']);
      });
      const skipped = logger.lines.filter((l) => l.includes('is malformed and was skipped'));
      expect(skipped.map((l) => l.replace(/ \{.*$/, '')).sort()).toEqual([
        'Redis store: stored in-flight message "good 70000" is malformed and was skipped',
        'Redis store: stored inbound QoS 2 packet id "good 0" is malformed and was skipped',
        'Redis store: stored queued message "good 3" is malformed and was skipped',
        'Redis store: stored queued message "good x" is malformed and was skipped',
        'Redis store: stored retained message "r/bad" is malformed and was skipped',
        'Redis store: stored session "broken" is malformed and was skipped',
        'Redis store: stored subscription "good f" is malformed and was skipped',
      ]);
    });

    it('a batch over maxBatchBytes is dropped and its commit fails with BATCH_TOO_LARGE; the next one works', async () => {
      await withStore({ url: redis.url, prefix: 'big:', maxBatchBytes: 10_000 }, async (store) => {
        for (let seq = 0; seq < 10; seq++)
          store.queueMessage('x', seq, delivery(message('t', new Array(2000).fill(1)), 1));
        const error = await commit(store);
        expect(error).toMatchObject({ name: 'RedisStoreError', code: 'BATCH_TOO_LARGE' });
        expect(await control.exists('big:queue:{x}')).toBe(0);
        store.queueMessage('x', 11, delivery(message('t', [1]), 1));
        expect(await commit(store)).toBeUndefined();
        expect(await control.hkeys('big:queue:{x}')).toEqual(['11']);
      });
    });

    it('a commit Redis does not answer within commitTimeout fails, and later commits still run in order', async () => {
      await withStore({ url: redis.url, prefix: 'slow:', commitTimeout: 200 }, async (store) => {
        await control.call('CLIENT', 'PAUSE', '600', 'WRITE');
        store.saveInboundQos2('x', 1);
        const calls: string[] = [];
        const slow = new Promise<Error | undefined>((resolve) =>
          store.commit((error) => {
            calls.push('slow');
            resolve(error);
          }),
        );
        const empty = new Promise<Error | undefined>((resolve) =>
          store.commit((error) => {
            calls.push('empty');
            resolve(error);
          }),
        );
        expect(await slow).toMatchObject({
          code: 'WRITE_FAILED',
          message: expect.stringMatching(/within 200 ms/),
        });
        expect(await empty).toBeUndefined();
        expect(calls).toEqual(['slow', 'empty']);
        await new Promise((r) => setTimeout(r, 600));
        store.saveInboundQos2('x', 2);
        expect(await commit(store)).toBeUndefined();
      });
    });

    it('refuses a format newer than it reads, and keys of the older hook-based store, with a clear error', async () => {
      await control.set('newer:format', '3');
      await expect(new RedisStore({ url: redis.url, prefix: 'newer:' }).open()).rejects.toMatchObject({
        code: 'UNKNOWN_FORMAT',
        message: expect.stringMatching(
          /holds format "3" under "newer:format"; this RedisStore reads format 2/,
        ),
      });
      await control.hset('v1:clients', 'c', '{"v":5,"e":60,"d":1,"o":0}');
      await expect(new RedisStore({ url: redis.url, prefix: 'v1:' }).open()).rejects.toMatchObject({
        code: 'UNKNOWN_FORMAT',
        message: expect.stringMatching(/without a format version/),
      });
    });

    it('ACL user and password and the database number come from the URL', async () => {
      await control.call('ACL', 'SETUSER', 'mqtt', 'on', '>s3cr@t', '~*', '+@all');
      const url = `${redis.url.replace('redis://', 'redis://mqtt:s3cr%40t@')}/3`;
      await withStore({ url, prefix: 'acl:' }, async (store) => {
        store.saveRetained(message('r', [1], { retain: true }));
        expect(await commit(store)).toBeUndefined();
      });
      const db3 = new Redis(`${redis.url}/3`);
      expect(await db3.hkeys('acl:retained')).toEqual(['r']);
      db3.disconnect();
      expect(await control.exists('acl:retained')).toBe(0);
      const wrong = new RedisStore({
        url: redis.url.replace('redis://', 'redis://mqtt:nope@'),
        connectTimeout: 500,
      });
      await expect(wrong.open()).rejects.toMatchObject({
        code: 'CONNECT_FAILED',
        message: expect.stringMatching(
          /redis:\/\/\*\*\*@127\.0\.0\.1:\d+ not ready within 500 ms: WRONGPASS/,
        ),
      });
    });

    it('open() fails after connectTimeout when nothing listens', async () => {
      const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeout: 300 });
      await expect(store.open()).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
      expect(store.writable).toBe(false);
    });
  },
);

describe.skipIf(redisServer.skip)('RedisStore while Redis goes away and comes back', () => {
  it('Redis killed: writable turns false and commits fail at once; restarted: writes resume, nothing stale is written', async () => {
    let redis = await startRedisWith(['--appendonly', 'yes', '--appendfsync', 'always']);
    const logger = recordingLogger();
    const store = new RedisStore({ url: redis.url, prefix: 'kill:', logger, reconnectMax: 100 });
    try {
      await store.open();
      store.saveSession(session('s'));
      store.queueMessage('s', 1, delivery(message('t/1', [1]), 1));
      expect(await commit(store)).toBeUndefined();

      // A commit in flight when Redis dies gets an error, not silence.
      store.queueMessage('s', 2, delivery(message('t/2', [2]), 1));
      const inFlight = commit(store);
      redis.process.kill('SIGKILL');
      await new Promise((r) => redis.process.once('exit', r));
      const lost = await inFlight;
      // Redis may have applied it just before dying; if it did not answer, the commit must fail.
      if (lost !== undefined) expect(lost).toMatchObject({ code: 'WRITE_FAILED' });
      await waitFor(() => !store.writable);

      store.queueMessage('s', 3, delivery(message('t/3', [3]), 1)); // not recorded: Redis is gone
      const down = await commit(store);
      expect(down).toMatchObject({ name: 'RedisStoreError', code: 'UNAVAILABLE' });

      redis = await redis.restart();
      await waitFor(() => store.writable, 10_000);
      store.queueMessage('s', 4, delivery(message('t/4', [4]), 1));
      expect(await commit(store)).toBeUndefined();
      const check = new Redis(redis.url);
      const seqs = (await check.hkeys('kill:queue:{s}')).sort();
      check.disconnect();
      // 3 was never recorded and nothing was re-sent after the reconnection.
      expect(seqs.filter((s) => s !== '2')).toEqual(['1', '4']);
      expect(logger.lines.some((l) => l.startsWith('Redis store: connection ready again'))).toBe(true);
      expect(logger.lines.some((l) => l.includes('lost the stored state'))).toBe(false);
    } finally {
      await store.close();
      await redis.dispose();
    }
  });

  it('session changes of failed commits are written once Redis is back: records, subscriptions, deletes, in order', async () => {
    let redis = await startRedisWith(['--appendonly', 'yes', '--appendfsync', 'always']);
    const store = new RedisStore({ url: redis.url, prefix: 'retry:', reconnectMax: 100 });
    const sub = (topicFilter: string) => ({
      topicFilter,
      qos: 1 as const,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0 as const,
      subscriptionIdentifier: undefined,
    });
    try {
      await store.open();
      store.saveSession(session('s'));
      store.saveSubscription('s', sub('a/#'));
      store.saveSession(session('gone'));
      expect(await commit(store)).toBeUndefined();

      await redis.stop();
      await waitFor(() => !store.writable);
      // The broker records these once (a disconnection, a SUBSCRIBE, an UNSUBSCRIBE, a session
      // ending) and never again: the commit fails, the changes must not be lost.
      // Disconnection times recent enough not to be purged as expired when read back.
      const earlier = Date.now();
      store.saveSession(session('s', { disconnectedAt: earlier }));
      store.saveSubscription('s', sub('b/#'));
      store.deleteSubscription('s', 'a/#');
      store.deleteSession('gone');
      store.saveSession(session('new'));
      expect(await commit(store)).toMatchObject({ code: 'UNAVAILABLE' });
      // A later failed commit's change to the same session wins over the earlier one.
      store.saveSession(session('s', { disconnectedAt: earlier + 1 }));
      expect(await commit(store)).toMatchObject({ code: 'UNAVAILABLE' });

      redis = await redis.restart();
      await waitFor(() => store.writable, 10_000);
      // No further change from the broker: the store writes them on its own once Redis is back.
      const check = new Redis(redis.url);
      try {
        const deadline = Date.now() + 10_000;
        while ((await check.hget('retry:clients', 'new')) === null) {
          if (Date.now() > deadline) throw new Error('the unsaved session changes were not written');
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        check.disconnect();
      }
      await store.close();

      const reader = new RedisStore({ url: redis.url, prefix: 'retry:' });
      const state = await reader.open();
      await reader.close();
      const byId = new Map(state.sessions.map((s) => [s.clientId, s]));
      expect([...byId.keys()].sort()).toEqual(['new', 's']);
      expect(byId.get('s')!.disconnectedAt).toBe(earlier + 1);
      expect(byId.get('s')!.subscriptions.map((x) => x.topicFilter)).toEqual(['b/#']);
    } finally {
      await store.close();
      await redis.dispose();
    }
  });

  it('a Redis restarted without its data is reported', async () => {
    let redis = await startRedisWith();
    const logger = recordingLogger();
    const store = new RedisStore({ url: redis.url, prefix: 'amnesia:', logger, reconnectMax: 100 });
    try {
      await store.open();
      await redis.stop();
      await waitFor(() => !store.writable);
      redis = await redis.restart();
      await waitFor(() => logger.lines.some((l) => l.includes('lost the stored state')), 10_000);
    } finally {
      await store.close();
      await redis.dispose();
    }
  });
});

describe.skipIf(redisServer.skip)('RedisStore over TLS (rediss://)', () => {
  let redis: TestRedis;
  let certs: { ca: string; cert: string; key: string };

  beforeAll(async () => {
    // The certificates go into the server's own directory (made by a first, plain start).
    const plain = await startRedisWith();
    await plain.stop();
    certs = await makeCertificates(plain.dir);
    redis = await startRedisWith(
      [
        '--tls-port',
        '0',
        '--tls-cert-file',
        certs.cert,
        '--tls-key-file',
        certs.key,
        '--tls-ca-cert-file',
        certs.ca,
        '--tls-auth-clients',
        'no',
      ],
      { dir: plain.dir },
    );
  });

  afterAll(async () => {
    await redis?.dispose();
  });

  it('does the round trip over rediss:// with the CA given in `tls`', async () => {
    expect(redis.url).toMatch(/^rediss:\/\//);
    const tls = { ca: readFileSync(certs.ca) };
    await withStore({ url: redis.url, prefix: 'tls:', tls }, writeEveryChange);
    await withStore({ url: redis.url, prefix: 'tls:', tls }, async (_store, state) =>
      expectEveryChange(state),
    );
  });

  it('refuses a server certificate it cannot verify', async () => {
    const store = new RedisStore({ url: redis.url, connectTimeout: 1000 });
    await expect(store.open()).rejects.toMatchObject({
      code: 'CONNECT_FAILED',
      message: expect.stringMatching(/self.signed|unable to (get|verify)/i),
    });
  });
});

describe.skipIf(redisServer.skip)('RedisStore on a Redis Cluster of three masters', () => {
  let cluster: RunningRedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('does the round trip, each session in its own slot, with one transaction per session', async () => {
    await withStore({ url: cluster.url, prefix: 'c:', cluster: true }, writeEveryChange);
    await withStore({ url: cluster.url, prefix: 'c:', cluster: true }, async (_store, state) =>
      expectEveryChange(state),
    );
    // The keys really are spread over the nodes: the shared hashes and the sessions' keys.
    const perNode = await Promise.all(
      cluster.nodes.map(async (n) => {
        const r = new Redis(n.url);
        const keys = await r.keys('c:*');
        r.disconnect();
        return keys.length;
      }),
    );
    expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(perNode.reduce((a, b) => a + b)).toBe(9);
  });

  it('refuses a database number other than 0', () => {
    expect(() => new RedisStore({ url: `${cluster.url}/2`, cluster: true })).toThrow(/database 0 only/);
  });
});

describe.skipIf(redisServer.skip)('RedisStore through Redis Sentinel', () => {
  it('asks the sentinel for the master of `name` and does the round trip there', async () => {
    const master = await startRedisWith();
    const sentinel = await startSentinel(master);
    try {
      // The URL's host is not used with sentinels: only its credentials and database.
      const options = {
        url: 'redis://unused.invalid/4',
        sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
        name: 'mymaster',
        prefix: 'sentinel:',
      };
      await withStore(options, writeEveryChange);
      await withStore(options, async (_store, state) => expectEveryChange(state));
      const direct = new Redis(`${master.url}/4`);
      expect(await direct.get('sentinel:format')).toBe('2');
      direct.disconnect();
    } finally {
      await sentinel.dispose();
      await master.dispose();
    }
  });
});

async function waitFor(check: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
