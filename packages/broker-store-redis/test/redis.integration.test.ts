import { AllowAllHook, Broker, type Logger, type Session, TcpListener } from '@x/broker';
import { RawClient, sleep, until } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../../test-helpers/src/process.js';
// Imported by path: @x/test-helpers depends on @x/broker, so it cannot be a dependency of it.
import { type RunningRedis, startRedis } from '../../test-helpers/src/redis.js';
import { requireServer } from '../../test-helpers/src/servers.js';
import { RedisStore, type RedisStoreOptions } from '../src/redis.js';
import { RedisClient } from '../src/redis-client.js';

const redisServer = requireServer('redis-server');

/** A logger that keeps what it is given, to check what the store reported. */
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
  close(): Promise<void>;
}

async function startWithStore(
  options: RedisStoreOptions,
  brokerOptions: ConstructorParameters<typeof Broker>[0] = {},
): Promise<Running> {
  const logger = brokerOptions?.logger ?? recordingLogger();
  const broker = new Broker({ sysInterval: 0, ...brokerOptions, logger });
  const store = new RedisStore(broker, options);
  broker.addHook(store).addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return {
    broker,
    store,
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    close: async () => {
      await broker.close();
      await store.close();
    },
  };
}

interface Received {
  topic: string;
  payload: Buffer;
  packet: mqtt.IPublishPacket;
}

type Connected = MqttClient & { got: Received[]; sessionPresent: boolean };

/**
 * An MQTT.js client, connected. What it receives is collected from the start (messages sent right
 * after CONNACK arrive in the same tick as the 'connect' event).
 */
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
  `RedisStore against a real redis-server${redisServer.reason ? ` (skipped: ${redisServer.reason})` : ''}`,
  () => {
    let redis: RunningRedis;
    let control: RedisClient;

    beforeAll(async () => {
      redis = await startRedis();
      control = new RedisClient({ url: redis.url });
      await control.connect();
    });

    afterAll(async () => {
      await control?.close();
      await redis?.stop();
    });

    it('a persistent session, its subscriptions, queued and retained messages survive a broker restart (v5 and 3.1.1)', async () => {
      const prefix = 'restart:';
      const first = await startWithStore({ url: redis.url, prefix }, { sysInterval: 50 });
      let second: Running | undefined;
      try {
        // v5 session with an expiry, 3.1.1 persistent session.
        const v5 = await connectMqtt(first.url, {
          clientId: 'keeper-5',
          protocolVersion: 5,
          clean: true,
          properties: { sessionExpiryInterval: 3600 },
        });
        await v5.subscribeAsync({ 'p/#': { qos: 1 }, 'x/+': { qos: 2 } });
        v5.end();
        const v3 = await connectMqtt(first.url, { clientId: 'keeper-3', protocolVersion: 4, clean: false });
        await v3.subscribeAsync('p/#', { qos: 2 });
        await new Promise<void>((r) => v3.end(false, {}, () => r()));
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
        await sleep(120); // a $SYS tick and a queue sync
        await first.store.flush();

        // What Redis holds, read with an independent connection.
        const clients = (await control.command(['HKEYS', `${prefix}clients`])) as Buffer[];
        expect(clients.map(String).sort()).toEqual(['keeper-3', 'keeper-5']);
        expect(await control.command(['LLEN', `${prefix}queue:keeper-5`])).toBe(4); // retained + 3
        const retainedTopics = (await control.command(['HKEYS', `${prefix}retained`])) as Buffer[];
        expect(retainedTopics.map(String)).toEqual(['p/retained']); // no $SYS topics
        const received = Number(
          ((await control.command(['HGET', `${prefix}sys`, 'messagesReceived'])) as Buffer).toString(),
        );
        expect(received).toBeGreaterThanOrEqual(5);

        await first.close();

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
        await sleep(150);
        await second.store.flush();
        expect(await control.command(['LLEN', `${prefix}queue:keeper-5`])).toBe(0);
        expect(await control.command(['LLEN', `${prefix}queue:keeper-3`])).toBe(0);
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
        await first.store.flush();
        expect(await control.command(['HLEN', `${prefix}inflight:slow`])).toBe(2);
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
        await second.store.flush();
        expect(await control.command(['HLEN', `${prefix}inflight:slow`])).toBe(0);
        expect(await control.command(['LLEN', `${prefix}queue:slow`])).toBe(0);
        again.close();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('clean start, session end and expiry delete the stored session; a retained delete removes it', async () => {
      const prefix = 'lifecycle:';
      const b = await startWithStore({ url: redis.url, prefix }, { sweepInterval: 50 });
      const stored = async (id: string) => (await control.command(['HEXISTS', `${prefix}clients`, id])) === 1;
      try {
        const a = await connectMqtt(b.url, {
          clientId: 'short',
          protocolVersion: 5,
          properties: { sessionExpiryInterval: 1 },
        });
        await a.subscribeAsync('s/#', { qos: 1 });
        await b.store.flush();
        expect(await stored('short')).toBe(true);
        expect(await control.command(['HLEN', `${prefix}subs:short`])).toBe(1);
        await a.unsubscribeAsync('s/#');
        await b.store.flush();
        expect(await control.command(['HLEN', `${prefix}subs:short`])).toBe(0);
        await a.endAsync();
        await until(() => !b.broker.sessions.has('short'), 3000, 'session expiry');
        await b.store.flush();
        expect(await stored('short')).toBe(false);

        const v3 = await connectMqtt(b.url, { clientId: 'kept', protocolVersion: 4, clean: false });
        await v3.subscribeAsync('k/#', { qos: 1 });
        await v3.endAsync();
        await b.store.flush();
        expect(await stored('kept')).toBe(true);
        const clean = await connectMqtt(b.url, { clientId: 'kept', protocolVersion: 4, clean: true });
        await b.store.flush();
        expect(await stored('kept')).toBe(false);
        expect(await control.command(['EXISTS', `${prefix}subs:kept`])).toBe(0);
        await clean.endAsync();

        // Clean sessions never reach Redis.
        const passer = await connectMqtt(b.url, { clientId: 'passer', protocolVersion: 5 });
        await passer.subscribeAsync('z', { qos: 1 });
        await b.store.flush();
        expect(await stored('passer')).toBe(false);
        await passer.endAsync();

        b.broker.publish('r/t', 'v', { retain: true });
        await b.store.flush();
        expect(await control.command(['HEXISTS', `${prefix}retained`, 'r/t'])).toBe(1);
        b.broker.publish('r/t', '', { retain: true }); // [MQTT-3.3.1-6] empty payload deletes
        await b.store.flush();
        expect(await control.command(['HEXISTS', `${prefix}retained`, 'r/t'])).toBe(0);
      } finally {
        await b.close();
      }
    });

    it('Redis going away does not stop the broker; the state is written again when Redis is back', async () => {
      // A Redis of its own, restarted on the same port.
      const own = await startRedis();
      const port = own.port;
      const logger = recordingLogger();
      const b = await startWithStore({ url: own.url, prefix: 'outage:', reconnectMax: 100 }, { logger });
      let restarted: Awaited<ReturnType<typeof spawnServer>> | undefined;
      let reader: Running | undefined;
      try {
        b.broker.publish('before/outage', 'b', { retain: true });
        await b.store.flush();
        await own.stop();
        await until(() => !b.store.redis.ready, 3000, 'the store to notice');

        // The broker keeps serving: sessions, subscriptions, retained messages, delivery.
        const sub = await connectMqtt(b.url, {
          clientId: 'during',
          protocolVersion: 5,
          properties: { sessionExpiryInterval: 600 },
        });
        const got = sub.got;
        await sub.subscribeAsync('o/#', { qos: 1 });
        const pub = await connectMqtt(b.url, { clientId: 'pub-o', protocolVersion: 5 });
        await pub.publishAsync('o/retained', 'during outage', { qos: 1, retain: true });
        await until(() => got.length === 1, 3000, 'delivery during the outage');
        await sub.endAsync();
        for (let i = 0; i < 5; i++) await pub.publishAsync(`o/${i}`, `queued ${i}`, { qos: 1 });
        await pub.endAsync();
        await sleep(300); // reconnection attempts fail meanwhile
        expect(logger.lines.some((l) => l.includes('Redis connection') && l.includes('lost'))).toBe(true);

        restarted = await spawnServer({
          command: redisServer.path!,
          args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          port,
        });
        await until(() => b.store.redis.ready, 5000, 'reconnection');
        await sleep(200);
        await b.store.flush();
        await b.close();

        // A new broker on the restarted (empty until then) Redis gets what happened during the outage.
        reader = await startWithStore({ url: own.url, prefix: 'outage:' });
        expect(reader.broker.retained.get('o/retained')?.payload.toString()).toBe('during outage');
        expect(reader.broker.retained.get('before/outage')?.payload.toString()).toBe('b');
        const session = reader.broker.sessions.get('during') as Session | undefined;
        expect(session?.subscriptions.has('o/#')).toBe(true);
        expect([...session!.queue].map((d) => d.message.topic)).toEqual(['o/0', 'o/1', 'o/2', 'o/3', 'o/4']);
      } finally {
        await b.close();
        await reader?.close();
        await restarted?.stop();
        await own.stop();
      }
    });

    it('when Redis stalls, pending writes stay bounded and the rest follow once it answers', async () => {
      const b = await startWithStore({ url: redis.url, prefix: 'stall:', maxPending: 20 });
      try {
        await control.command(['CLIENT', 'PAUSE', '300', 'WRITE']);
        const pausedAt = Date.now();
        for (let i = 0; i < 200; i++) b.broker.publish(`stall/${i}`, `v${i}`, { retain: true });
        let most = 0;
        while (Date.now() - pausedAt < 250) {
          most = Math.max(most, b.store.redis.pending);
          await sleep(5);
        }
        expect(most).toBeGreaterThan(0); // writes were on their way and are waiting
        expect(most).toBeLessThanOrEqual(20);
        expect(await control.command(['HLEN', 'stall:retained'])).toBe(0); // reads are not paused
        await b.store.flush();
        expect(await control.command(['HLEN', 'stall:retained'])).toBe(200);
        const last = (await control.command(['HGET', 'stall:retained', 'stall/199'])) as Buffer;
        expect(last.includes(Buffer.from('v199'))).toBe(true);
      } finally {
        await control.command(['CLIENT', 'UNPAUSE']);
        await b.close();
      }
    });

    it('after a crash (no graceful close) the sessions that were online come back, expiring from the restart', async () => {
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
        await first.store.flush();
        // The crash: the store's connection goes before the broker can write anything more.
        await first.store.redis.close();
        await first.broker.close();
        online.end(true);

        const before = Date.now();
        second = await startWithStore({ url: redis.url, prefix });
        const session = second.broker.sessions.get('online') as Session | undefined;
        expect([...(session?.subscriptions.keys() ?? [])].sort()).toEqual(['$share/g/c/s', 'c/#']);
        expect(session!.expiresAt).toBeGreaterThanOrEqual(before + 30_000);
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
      try {
        // The watcher's session (subscription) is stored; it is away during the crash.
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
        await until(
          () => (first.broker.sessions.get('back') as Session | undefined)?.pendingWill !== undefined,
          3000,
          'pending wills',
        );
        await until(
          () => (first.broker.sessions.get('delayed') as Session | undefined)?.pendingWill !== undefined,
          3000,
          'pending wills',
        );
        await first.store.flush();
        await first.store.redis.close();
        await first.broker.close();
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
        await second.store.flush();
        const record = await control.command(['HGET', `${prefix}clients`, 'back']);
        expect(JSON.parse(String(record))).not.toHaveProperty('w');
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
        // Stored in its PUBLISH state first, so only the PUBREC notification can change the record.
        await first.store.flush();
        raw.send({ type: 'pubrec', packetId: publish.packetId! });
        await raw.expect('pubrel');
        await first.store.flush();
        // The crash: no graceful close writes anything more.
        await first.store.redis.close();
        await first.broker.close();
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
        await second.store.flush();
        expect(await control.command(['HLEN', `${prefix}inflight:q2`])).toBe(0);
        again.close();
      } finally {
        await first.close();
        await second?.close();
      }
    });

    it('malformed stored entries are skipped with a warning, the rest loads', async () => {
      const prefix = 'garbage:';
      const good = JSON.stringify({ v: 4, e: 0xffffffff, d: Date.now(), o: 0 });
      await control.command(['HSET', `${prefix}clients`, 'bad', 'not json', 'good', good]);
      await control.command(['HSET', `${prefix}subs:good`, 'ok/#', '{"q":1,"rh":0}', 'bad/#', '{"q":9}']);
      await control.command(['RPUSH', `${prefix}queue:good`, 'garbage']);
      await control.command(['HSET', `${prefix}retained`, 'r', Buffer.from([1, 2, 3])]);
      const logger = recordingLogger();
      const b = await startWithStore({ url: redis.url, prefix }, { logger });
      try {
        expect([...b.broker.sessions.values()].map((s) => s.clientId)).toEqual(['good']);
        expect([...b.broker.sessions.get('good')!.subscriptions.keys()]).toEqual(['ok/#']);
        expect(b.broker.retained.size).toBe(0);
        const skipped = logger.lines.filter((l) => l.includes('is malformed and was skipped'));
        expect(skipped).toHaveLength(4);
        // What the broker dropped is deleted from Redis after the start.
        await b.store.flush();
        expect(await control.command(['HEXISTS', `${prefix}clients`, 'bad'])).toBe(0);
        expect(await control.command(['HLEN', `${prefix}retained`])).toBe(0);
        expect(await control.command(['HKEYS', `${prefix}subs:good`])).toEqual([Buffer.from('ok/#')]);
      } finally {
        await b.close();
      }
    });

    it('loads more sessions than maxPending allows reads at once (reads go in slices)', async () => {
      const prefix = 'many:';
      const record = JSON.stringify({ v: 4, e: 0xffffffff, d: Date.now(), o: 0 });
      const args: string[] = [];
      for (let i = 0; i < 500; i++) args.push(`c${i}`, record);
      await control.command(['HSET', `${prefix}clients`, ...args]);
      await control.command(['HSET', `${prefix}subs:c499`, 'last/#', '{"q":1,"rh":0}']);
      const b = await startWithStore({ url: redis.url, prefix, maxPending: 30 });
      try {
        expect(b.broker.sessions.size).toBe(500);
        expect(b.broker.sessions.get('c499')?.subscriptions.has('last/#')).toBe(true);
        await b.store.flush(); // the start's rewrite of 500 sessions also fits through 30 pending
        expect(await control.command(['HLEN', `${prefix}clients`])).toBe(500);
        expect(await control.command(['HKEYS', `${prefix}subs:c499`])).toEqual([Buffer.from('last/#')]);
      } finally {
        await b.close();
      }
    });

    it('start fails with a clear error when Redis cannot be reached', async () => {
      const broker = new Broker({ logger: recordingLogger(), sysInterval: 0 });
      const store = new RedisStore(broker, { url: 'redis://127.0.0.1:1', connectTimeout: 300 });
      broker.addHook(store);
      await expect(broker.start()).rejects.toMatchObject({
        code: 'CONNECT_TIMEOUT',
        message: expect.stringMatching(/no Redis connection to 127\.0\.0\.1:1 within 300 ms/),
      });
      await store.close();
    });
  },
);
