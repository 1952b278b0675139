import { AllowAllHook, Broker, type BrokerOptions, type Logger, TcpListener } from '@x/broker';
import { RawClient, requireServer, sleep, startRedis, until } from '@x/test-helpers';
import { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RedisStore, type RedisStoreOptions } from '../src/index.js';
import { startRedisWith } from './redis-servers.js';

const redisServer = requireServer('redis-server');

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (fields: object, message: string) => {
    lines.push(`${message} ${JSON.stringify(fields)}`);
  };
  return { lines, debug: () => {}, info: keep, warn: keep, error: keep };
}

interface Running {
  broker: Broker;
  store: RedisStore;
  port: number;
  url: string;
  /** Resolves once everything the broker recorded so far was committed. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** A broker on a free port with a RedisStore (a new one per broker: a store is opened once). */
async function startWithStore(
  options: RedisStoreOptions,
  brokerOptions: BrokerOptions = {},
): Promise<Running> {
  const logger = brokerOptions.logger ?? recordingLogger();
  const store = new RedisStore(options);
  const broker = new Broker({ sysInterval: 0, ...brokerOptions, logger, store });
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return {
    broker,
    store,
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    settled: async () => {
      // The broker commits on the next turn; a commit of ours after it completes after it.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => store.commit(r));
    },
    close: () => broker.close(),
  };
}

/**
 * A broker "crash": the store's connection goes first, so the broker's close writes nothing more
 * (its commits fail), as if the process had died.
 */
async function crash(running: Running): Promise<void> {
  running.store.redis.disconnect();
  await running.broker.close();
}

interface Received {
  topic: string;
  payload: Buffer;
  packet: mqtt.IPublishPacket;
}

type Connected = MqttClient & { got: Received[]; sessionPresent: boolean };

function connectMqtt(url: string, options: IClientOptions): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }) as Connected;
    c.got = [];
    c.on('message', (topic, payload, packet) => c.got.push({ topic, payload, packet }));
    c.once('connect', (connack) => {
      c.sessionPresent = connack.sessionPresent;
      resolve(c);
    });
    c.once('error', reject);
  });
}

const payloadOf = (i: number) => Buffer.from([i, 0, 13, 10, 255, 0x24, i]);

describe.skipIf(redisServer.skip)(
  `a broker on RedisStore, restarted${redisServer.reason ? ` (skipped: ${redisServer.reason})` : ''}`,
  () => {
    let redis: Awaited<ReturnType<typeof startRedis>>;
    let control: Redis;

    beforeAll(async () => {
      redis = await startRedis();
      control = new Redis(redis.url);
    });

    afterAll(async () => {
      control?.disconnect();
      await redis?.stop();
    });

    it('a persistent session, its subscriptions, queued and retained messages survive a broker restart (v5 and 3.1.1)', async () => {
      const prefix = 'restart:';
      const first = await startWithStore({ url: redis.url, prefix }, { sysInterval: 50 });
      let second: Running | undefined;
      try {
        const v5 = await connectMqtt(first.url, {
          clientId: 'keeper-5',
          protocolVersion: 5,
          clean: true,
          properties: { sessionExpiryInterval: 3600 },
        });
        await v5.subscribeAsync({ 'p/#': { qos: 1 }, 'x/+': { qos: 2 } });
        await v5.endAsync();
        const v3 = await connectMqtt(first.url, { clientId: 'keeper-3', protocolVersion: 4, clean: false });
        await v3.subscribeAsync('p/#', { qos: 2 });
        await v3.endAsync();
        await until(() => first.broker.connectedCount === 0, 3000, 'both subscribers offline');

        const pub = await connectMqtt(first.url, { clientId: 'pub', protocolVersion: 5 });
        await pub.publishAsync('p/retained', Buffer.from('kept'), {
          qos: 1,
          retain: true,
          properties: { contentType: 'text/plain' },
        });
        for (let i = 1; i <= 3; i++) {
          await pub.publishAsync(`p/${i}`, payloadOf(i), {
            qos: i === 3 ? 2 : 1,
            properties: {
              userProperties: { n: String(i), order: ['a', 'b'] },
              correlationData: Buffer.from([i]),
            },
          });
        }
        await pub.publishAsync('p/zero', 'qos 0 is not kept for offline sessions', { qos: 0 });
        await pub.endAsync();
        await first.settled();

        // What Redis holds, read with an independent connection (PUBACK came after the commit).
        expect((await control.hkeys(`${prefix}clients`)).sort()).toEqual(['keeper-3', 'keeper-5']);
        expect(await control.hlen(`${prefix}queue:{keeper-5}`)).toBe(4); // retained + 3
        expect(await control.hkeys(`${prefix}retained`)).toEqual(['p/retained']); // no $SYS topics

        // close() writes the last $SYS counters (between commits they wait for sysSaveInterval).
        await first.close();
        const received = Number(await control.hget(`${prefix}sys`, 'messagesReceived'));
        expect(received).toBeGreaterThanOrEqual(5);

        second = await startWithStore({ url: redis.url, prefix });
        const broker = second.broker;
        expect(broker.stats.messagesReceived).toBeGreaterThanOrEqual(received);
        expect([...broker.sessions.values()].map((s) => s.clientId).sort()).toEqual(['keeper-3', 'keeper-5']);
        expect([...broker.sessions.get('keeper-5')!.subscriptions.values()]).toEqual([
          expect.objectContaining({ topicFilter: 'p/#', qos: 1 }),
          expect.objectContaining({ topicFilter: 'x/+', qos: 2 }),
        ]);

        const c5 = await connectMqtt(second.url, {
          clientId: 'keeper-5',
          protocolVersion: 5,
          clean: false,
          properties: { sessionExpiryInterval: 3600 },
        });
        expect(c5.sessionPresent).toBe(true);
        const got5 = c5.got;
        await until(() => got5.length >= 4, 3000, 'queued messages for keeper-5');
        expect(got5.map((m) => m.topic)).toEqual(['p/retained', 'p/1', 'p/2', 'p/3']);
        for (let i = 1; i <= 3; i++) {
          const m = got5[i]!;
          expect(m.payload.equals(payloadOf(i))).toBe(true);
          expect(m.packet.qos).toBe(1); // granted QoS of p/# is 1
          expect(m.packet.properties?.userProperties).toEqual({ n: String(i), order: ['a', 'b'] });
          expect(m.packet.properties?.correlationData).toEqual(Buffer.from([i]));
        }
        expect(got5[0]!.packet.properties?.contentType).toBe('text/plain');

        const c3 = await connectMqtt(second.url, { clientId: 'keeper-3', protocolVersion: 4, clean: false });
        expect(c3.sessionPresent).toBe(true);
        const got3 = c3.got;
        await until(() => got3.length >= 4, 3000, 'queued messages for keeper-3');
        expect(got3.map((m) => [m.topic, m.packet.qos])).toEqual([
          ['p/retained', 1],
          ['p/1', 1],
          ['p/2', 1],
          ['p/3', 2],
        ]);

        // The restored subscriptions route new messages.
        const pub2 = await connectMqtt(second.url, { clientId: 'pub2', protocolVersion: 5 });
        await pub2.publishAsync('x/live', 'after restart', { qos: 2 });
        await until(() => got5.some((m) => m.topic === 'x/live'), 3000, 'live message');
        expect(got3.some((m) => m.topic === 'x/live')).toBe(false);

        // The retained message is there for a new subscriber.
        const fresh = await connectMqtt(second.url, { clientId: 'fresh', protocolVersion: 5 });
        const gotFresh = fresh.got;
        await fresh.subscribeAsync('p/retained', { qos: 1 });
        await until(() => gotFresh.length === 1, 3000, 'retained message');
        expect([gotFresh[0]!.payload.toString(), gotFresh[0]!.packet.retain]).toEqual(['kept', true]);

        // Delivered queues are emptied in Redis too.
        await sleep(100);
        await second.settled();
        expect(await control.hlen(`${prefix}queue:{keeper-5}`)).toBe(0);
        expect(await control.hlen(`${prefix}queue:{keeper-3}`)).toBe(0);
        await Promise.all([c5.endAsync(), c3.endAsync(), pub2.endAsync(), fresh.endAsync()]);
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('in-flight QoS 1/2 flows resume after a restart: PUBLISH again with DUP and the same packet id, PUBREL as PUBREL', async () => {
      const prefix = 'inflight:';
      const first = await startWithStore({ url: redis.url, prefix });
      let second: Running | undefined;
      try {
        const raw = await RawClient.connect(first.port, {
          clientId: 'slow',
          clean: true,
          properties: { sessionExpiryInterval: 600 },
        });
        raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'f/#', qos: 2 }] });
        await raw.expect('suback');
        first.broker.publish('f/acked', 'a', { qos: 1 });
        const acked = await raw.expect('publish');
        raw.send({ type: 'puback', packetId: acked.packetId! });
        first.broker.publish('f/unacked', Buffer.from([0, 1, 2]), { qos: 1 });
        const unacked = await raw.expect('publish');
        first.broker.publish('f/released', 'two', { qos: 2 });
        const released = await raw.expect('publish');
        raw.send({ type: 'pubrec', packetId: released.packetId! });
        await raw.expect('pubrel'); // and no PUBCOMP: the QoS 2 flow stays open
        expect([unacked.topic, released.topic]).toEqual(['f/unacked', 'f/released']);
        await first.settled();
        expect(await control.hlen(`${prefix}inflight:{slow}`)).toBe(2);
        raw.close();
        await first.close();

        second = await startWithStore({ url: redis.url, prefix });
        const again = await RawClient.open(second.port, 5);
        again.send({
          type: 'connect',
          protocolVersion: 5,
          clientId: 'slow',
          clean: false,
          keepalive: 0,
          properties: { sessionExpiryInterval: 600 },
        });
        expect((await again.expect('connack')).sessionPresent).toBe(true);
        const redelivered = await again.expect('publish');
        expect({
          topic: redelivered.topic,
          payload: Buffer.from(redelivered.payload),
          dup: redelivered.dup,
          packetId: redelivered.packetId,
        }).toEqual({
          topic: 'f/unacked',
          payload: Buffer.from([0, 1, 2]),
          dup: true,
          packetId: unacked.packetId,
        });
        const pubrel = await again.expect('pubrel'); // [MQTT-4.4.0-1] not the PUBLISH again
        expect(pubrel.packetId).toBe(released.packetId);
        again.send({ type: 'puback', packetId: redelivered.packetId! });
        again.send({ type: 'pubcomp', packetId: pubrel.packetId });
        expect(await again.idle(200)).toEqual([]);
        await second.settled();
        expect(await control.hlen(`${prefix}inflight:{slow}`)).toBe(0);
        expect(await control.hlen(`${prefix}queue:{slow}`)).toBe(0);
        again.close();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('clean start, session end and expiry delete the stored session; a retained delete removes it', async () => {
      const prefix = 'lifecycle:';
      const b = await startWithStore({ url: redis.url, prefix }, { sweepInterval: 50 });
      const stored = async (id: string) => (await control.hexists(`${prefix}clients`, id)) === 1;
      try {
        const a = await connectMqtt(b.url, {
          clientId: 'short',
          protocolVersion: 5,
          properties: { sessionExpiryInterval: 1 },
        });
        await a.subscribeAsync('s/#', { qos: 1 });
        expect(await stored('short')).toBe(true); // the SUBACK came after the commit
        expect(await control.hlen(`${prefix}subs:{short}`)).toBe(1);
        await a.unsubscribeAsync('s/#');
        await b.settled();
        expect(await control.hlen(`${prefix}subs:{short}`)).toBe(0);
        await a.endAsync();
        await until(() => !b.broker.sessions.has('short'), 3000, 'session expiry');
        await b.settled();
        expect(await stored('short')).toBe(false);

        const v3 = await connectMqtt(b.url, { clientId: 'kept', protocolVersion: 4, clean: false });
        await v3.subscribeAsync('k/#', { qos: 1 });
        await v3.endAsync();
        expect(await stored('kept')).toBe(true);
        const clean = await connectMqtt(b.url, { clientId: 'kept', protocolVersion: 4, clean: true });
        await b.settled();
        expect(await stored('kept')).toBe(false);
        expect(await control.exists(`${prefix}subs:{kept}`)).toBe(0);
        await clean.endAsync();

        // Clean sessions never reach Redis.
        const passer = await connectMqtt(b.url, { clientId: 'passer', protocolVersion: 5 });
        await passer.subscribeAsync('z', { qos: 1 });
        await b.settled();
        expect(await stored('passer')).toBe(false);
        await passer.endAsync();

        b.broker.publish('r/t', 'v', { retain: true });
        await b.settled();
        expect(await control.hexists(`${prefix}retained`, 'r/t')).toBe(1);
        b.broker.publish('r/t', '', { retain: true }); // [MQTT-3.3.1-6] empty payload deletes
        await b.settled();
        expect(await control.hexists(`${prefix}retained`, 'r/t')).toBe(0);
      } finally {
        await b.close();
      }
    });

    it('after a crash the sessions that were online come back with their subscriptions', async () => {
      const prefix = 'crash:';
      const first = await startWithStore({ url: redis.url, prefix });
      let second: Running | undefined;
      try {
        const online = await connectMqtt(first.url, {
          clientId: 'online',
          protocolVersion: 5,
          properties: { sessionExpiryInterval: 30 },
        });
        await online.subscribeAsync({ 'c/#': { qos: 1 }, '$share/g/c/s': { qos: 1 } });
        await crash(first);
        online.end(true);

        second = await startWithStore({ url: redis.url, prefix });
        const session = second.broker.sessions.get('online');
        expect([...(session?.subscriptions.keys() ?? [])].sort()).toEqual(['$share/g/c/s', 'c/#']);
        const again = await connectMqtt(second.url, {
          clientId: 'online',
          protocolVersion: 5,
          clean: false,
          properties: { sessionExpiryInterval: 30 },
        });
        expect(again.sessionPresent).toBe(true);
        second.broker.publish('c/s', 'shared', { qos: 1 });
        second.broker.publish('c/x', 'direct', { qos: 1 });
        await until(() => again.got.length === 3, 3000, 'deliveries');
        expect(again.got.map((m) => m.topic).sort()).toEqual(['c/s', 'c/s', 'c/x']);
        await again.endAsync();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('MQTT-3.3.4-3 a queued message keeps its Subscription Identifiers across a restart', async () => {
      const prefix = 'sid:';
      const first = await startWithStore({ url: redis.url, prefix });
      let second: Running | undefined;
      const opts = {
        clientId: 'sid',
        protocolVersion: 5 as const,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      };
      try {
        const c = await connectMqtt(first.url, opts);
        await c.subscribeAsync('sid/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
        await c.subscribeAsync('sid/+', { qos: 1, properties: { subscriptionIdentifier: 7 } });
        await c.endAsync();
        first.broker.publish('sid/x', 'kept', { qos: 1 });
        await first.close();
        second = await startWithStore({ url: redis.url, prefix });
        const again = await connectMqtt(second.url, opts);
        await until(() => again.got.length === 1, 3000, 'the queued message');
        const ids = again.got[0]!.packet.properties?.subscriptionIdentifier;
        expect((Array.isArray(ids) ? ids : [ids]).sort((a, b) => Number(a) - Number(b))).toEqual([7, 42]);
        await again.endAsync();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it("MQTT-3.1.3-9 wills survive a crash: a delayed one waiting, an online client's own; a return cancels one", async () => {
      const prefix = 'wills:';
      const first = await startWithStore({ url: redis.url, prefix });
      let second: Running | undefined;
      const session = {
        protocolVersion: 5 as const,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      };
      const will = (topic: string, willDelayInterval: number) => ({
        topic,
        payload: Buffer.from(`will of ${topic}`),
        qos: 1 as const,
        retain: false,
        properties: { willDelayInterval },
      });
      const storedRecord = async (id: string) =>
        JSON.parse((await control.hget(`${prefix}clients`, id)) ?? '{}');
      try {
        const watcher = await connectMqtt(first.url, { clientId: 'watcher', ...session });
        await watcher.subscribeAsync('wills/#', { qos: 1 });
        await watcher.endAsync();
        // Dropped without DISCONNECT: their wills wait for their delay.
        const delayed = await connectMqtt(first.url, {
          clientId: 'delayed',
          ...session,
          will: will('wills/delayed', 2),
        });
        const back = await connectMqtt(first.url, {
          clientId: 'back',
          ...session,
          will: will('wills/back', 30),
        });
        delayed.end(true);
        back.end(true);
        // Online when the broker crashes: its will is owed too.
        const online = await connectMqtt(first.url, {
          clientId: 'online',
          ...session,
          will: will('wills/online', 0),
        });
        for (const id of ['back', 'delayed']) {
          const deadline = Date.now() + 3000;
          while ((await storedRecord(id)).p === undefined) {
            if (Date.now() > deadline) throw new Error(`no pending will stored for ${id}`);
            await sleep(20);
          }
        }
        expect((await storedRecord('online')).w).toBeDefined();
        await crash(first);
        online.end(true);

        second = await startWithStore({ url: redis.url, prefix }, { sweepInterval: 100 });
        // "back" returns before its delay: its will is cancelled.
        const returned = await connectMqtt(second.url, { clientId: 'back', ...session });
        expect(returned.sessionPresent).toBe(true);
        const again = await connectMqtt(second.url, { clientId: 'watcher', ...session });
        await until(() => again.got.length >= 2, 5000, 'the owed wills');
        await sleep(300);
        expect(again.got.map((m) => m.payload.toString()).sort()).toEqual([
          'will of wills/delayed',
          'will of wills/online',
        ]);
        await second.settled();
        expect(await storedRecord('back')).not.toHaveProperty('p');
        await Promise.all([again.endAsync(), returned.endAsync()]);
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('after a crash, a QoS 2 flow that reached PUBREL resumes with PUBREL, not the PUBLISH', async () => {
      const prefix = 'crash-pubrel:';
      const first = await startWithStore({ url: redis.url, prefix });
      let second: Running | undefined;
      try {
        const raw = await RawClient.connect(first.port, {
          clientId: 'q2',
          clean: true,
          properties: { sessionExpiryInterval: 600 },
        });
        raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'p/#', qos: 2 }] });
        await raw.expect('suback');
        first.broker.publish('p/x', 'exactly once', { qos: 2 });
        const publish = await raw.expect('publish');
        await first.settled(); // stored in its PUBLISH state first
        raw.send({ type: 'pubrec', packetId: publish.packetId! });
        await raw.expect('pubrel');
        await first.settled();
        await crash(first);
        raw.close();

        second = await startWithStore({ url: redis.url, prefix });
        const again = await RawClient.open(second.port, 5);
        again.send({
          type: 'connect',
          protocolVersion: 5,
          clientId: 'q2',
          clean: false,
          keepalive: 0,
          properties: { sessionExpiryInterval: 600 },
        });
        expect((await again.expect('connack')).sessionPresent).toBe(true);
        const pubrel = await again.expect('pubrel'); // [MQTT-4.4.0-1] the PUBLISH is not sent again
        expect(pubrel.packetId).toBe(publish.packetId);
        again.send({ type: 'pubcomp', packetId: pubrel.packetId });
        expect(await again.idle(200)).toEqual([]);
        await second.settled();
        expect(await control.hlen(`${prefix}inflight:{q2}`)).toBe(0);
        again.close();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('start fails with a clear error when Redis cannot be reached', async () => {
      const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeout: 300 });
      const broker = new Broker({ logger: recordingLogger(), store });
      await expect(broker.start()).rejects.toThrow(
        /Redis at redis:\/\/127\.0\.0\.1:1 not ready within 300 ms/,
      );
    });
  },
);

describe.skipIf(redisServer.skip)('a broker on RedisStore while Redis is away', () => {
  it('refuses QoS 1 publishes and is not ready while Redis is down; takes them again once it is back', async () => {
    let own = await startRedisWith();
    const b = await startWithStore({ url: own.url, prefix: 'outage:', reconnectMax: 100 });
    try {
      const pub = await connectMqtt(b.url, { clientId: 'pub', protocolVersion: 5, reconnectPeriod: 0 });
      await pub.publishAsync('o/1', 'before', { qos: 1 });
      expect(b.broker.ready).toBe(true);
      await own.stop();
      await until(() => !b.store.writable, 5000, 'store not writable');
      expect(b.broker.ready).toBe(false);
      // Not acknowledged as a success: v5 gets a failure reason code (or the flow is refused).
      const refused = await pub.publishAsync('o/2', 'during', { qos: 1 }).then(
        () => 'acked',
        (error: { code?: number }) => `refused ${error.code}`,
      );
      expect(refused).toMatch(/^refused/);
      own = await own.restart();
      await until(() => b.store.writable, 10_000, 'store writable again');
      const again = pub.connected
        ? pub
        : await connectMqtt(b.url, { clientId: 'pub2', protocolVersion: 5, reconnectPeriod: 0 });
      await again.publishAsync('o/3', 'after', { qos: 1, retain: true });
      // Ready again once a commit went through (the broker clears its last commit error then).
      expect(b.broker.ready).toBe(true);
      const check = new Redis(own.url);
      expect(await check.hkeys('outage:retained')).toEqual(['o/3']);
      check.disconnect();
      await again.endAsync();
      if (again !== pub) pub.end(true);
    } finally {
      await b.close();
      await own.dispose();
    }
  });
});
