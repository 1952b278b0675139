import type { PubackPacket } from '@x/packets';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

// Overload without silent loss (issue 15): publishers faster than their subscribers are slowed by
// held acknowledgements; only a subscriber that stays stalled is cut off, and nobody else waits.

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function broker(options: Parameters<typeof startTestBroker>[0]): Promise<TestBroker> {
  const b = await startTestBroker(options);
  cleanup.push(() => b.close());
  return b;
}

async function mqttClient(b: TestBroker, clientId: string, options: mqtt.IClientOptions = {}) {
  const c = await mqtt.connectAsync(b.url, { clientId, protocolVersion: 5, reconnectPeriod: 0, ...options });
  cleanup.push(() => c.endAsync(true));
  return c;
}

describe('publishers faster than their subscribers', () => {
  it('4 publishers → 2 QoS 1 subscribers with a small window and queue: nothing lost, acknowledgements held, held bytes bounded', async () => {
    const maxHeldBytes = 8 * 1024;
    const b = await broker({ maxQueuedMessages: 50, maxHeldBytes, stalledConsumerTimeout: 60_000 });
    const publishers = 4;
    const perPublisher = 250;
    const payloadSize = 512;

    const received = [new Map<string, number>(), new Map<string, number>()];
    const subscribers = await Promise.all(
      received.map((_, i) => mqttClient(b, `sub-${i}`, { properties: { receiveMaximum: 8 } })),
    );
    for (const [i, s] of subscribers.entries()) {
      s.on('message', (_topic, payload) => {
        const key = payload.subarray(0, payload.indexOf(0x20)).toString();
        received[i]!.set(key, (received[i]!.get(key) ?? 0) + 1);
      });
      await s.subscribeAsync('bench/#', { qos: 1 });
    }
    // The second subscriber acknowledges a turn of the event loop late: slower than the publishers.
    const slow = subscribers[1]!;
    const handle = slow.handleMessage.bind(slow);
    slow.handleMessage = (packet, done) => setImmediate(() => handle(packet, done));

    const clients = await Promise.all(
      Array.from({ length: publishers }, (_, p) => mqttClient(b, `pub-${p}`)),
    );
    await Promise.all(
      clients.map((c, p) => {
        const sends: Promise<unknown>[] = [];
        for (let n = 0; n < perPublisher; n++) {
          const payload = Buffer.alloc(payloadSize, 0x2e);
          payload.write(`${p}:${n} `);
          sends.push(c.publishAsync(`bench/${p}`, payload, { qos: 1 }));
        }
        return Promise.all(sends);
      }),
    );
    const total = publishers * perPublisher;
    await until(
      () => received.every((r) => r.size === total),
      30_000,
      'both subscribers to receive every message',
    );

    for (const r of received) {
      expect(r.size).toBe(total); // nothing lost
      expect([...r.values()].every((count) => count === 1)).toBe(true); // nothing twice
    }
    const stats = b.broker.stats;
    expect(stats.publishDropped).toBe(0);
    // The publishers were slowed: acknowledgements held while a subscriber's queue was full.
    expect(stats.acksHeld).toBeGreaterThan(0);
    // Memory: no publisher ever had more than maxHeldBytes waiting, and nothing is held now.
    expect(stats.heldBytesPeak).toBeGreaterThan(0);
    expect(stats.heldBytesPeak).toBeLessThanOrEqual(maxHeldBytes);
    expect(stats.heldBytes).toBe(0);
    expect(stats.stalledConsumers).toBe(0);
  }, 60_000);

  it('a stalled subscriber holds back only the publisher feeding it, is disconnected after stalledConsumerTimeout (0x97), and its persistent queue keeps what fits', async () => {
    const b = await broker({ maxQueuedMessages: 5, stalledConsumerTimeout: 8000, sweepInterval: 100 });

    // Never acknowledges: 2 in flight (its Receive Maximum), 5 queued, the rest in overflow.
    const staller = await RawClient.connect(b.port, {
      clientId: 'staller',
      clean: false,
      properties: { sessionExpiryInterval: 60, receiveMaximum: 2 },
    });
    cleanup.push(() => staller.close());
    staller.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'stall/#', qos: 1 }] });
    await staller.expect('suback');

    const held = await RawClient.connect(b.port, { clientId: 'held-pub' });
    cleanup.push(() => held.close());
    const count = 20;
    for (let id = 1; id <= count; id++) {
      held.send({
        type: 'publish',
        topic: 'stall/t',
        payload: Buffer.from(`m${id}`),
        qos: 1,
        retain: false,
        dup: false,
        packetId: id,
      });
    }
    const acks: PubackPacket[] = [];
    for (let i = 0; i < 7; i++) acks.push(await held.expect('puback'));
    expect(acks.map((a) => [a.packetId, a.reasonCode ?? 0])).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((id) => [id, 0]),
    );

    // Unrelated traffic flows while the staller holds 13 acknowledgements back.
    const otherSub = await mqttClient(b, 'other-sub');
    let otherReceived = 0;
    otherSub.on('message', () => otherReceived++);
    await otherSub.subscribeAsync('other/#', { qos: 1 });
    const otherPub = await mqttClient(b, 'other-pub');
    // One at a time: within the small queue limit, so nothing of this traffic waits in an overflow.
    for (let n = 0; n < 50; n++) await otherPub.publishAsync('other/t', `o${n}`, { qos: 1 });
    await until(() => otherReceived === 50, 10_000, 'the unrelated subscriber to get its 50 messages');
    expect(b.broker.stats.stalledConsumers).toBe(0);
    expect(held.received.filter((p) => p.type === 'puback')).toHaveLength(0);
    expect(b.broker.stats.acksHeld).toBe(13);

    // The staller is cut off; its overflow meets a full persistent queue: 13 counted drops, and
    // the held publisher is answered, in order, 0x97 for each.
    const disconnect = await staller.expect('disconnect', 20_000);
    expect(disconnect.reasonCode).toBe(0x97);
    await staller.waitClosed();
    for (let i = 0; i < 13; i++) acks.push(await held.expect('puback'));
    expect(acks.slice(7).map((a) => [a.packetId, a.reasonCode])).toEqual(
      Array.from({ length: 13 }, (_, i) => [i + 8, 0x97]),
    );
    const stats = b.broker.stats;
    expect(stats.stalledConsumers).toBe(1);
    expect(stats.publishDropped).toBe(13);
    expect(stats.heldBytes).toBe(0);
    const session = b.broker.sessions.get('staller')!;
    expect(session.droppedCount).toBe(13);
    expect(session.queuedCount).toBe(5);
    expect(session.inflightCount).toBe(2);

    // The persistent session gives the kept 7 to the next connection: the 2 in flight again, then 5.
    const back = await RawClient.connect(b.port, { clientId: 'staller', clean: false });
    cleanup.push(() => back.close());
    const payloads: string[] = [];
    for (let i = 0; i < 7; i++) {
      const p = await back.expect('publish');
      payloads.push(Buffer.from(p.payload).toString());
      back.send({ type: 'puback', packetId: p.packetId! });
    }
    expect(payloads).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
  }, 60_000);

  it('QoS 2: the PUBREC waits while the subscriber’s queue is full and comes once it has room; delivered once', async () => {
    const b = await broker({ maxQueuedMessages: 1 });
    const sub = await RawClient.connect(b.port, { clientId: 'q2-sub', properties: { receiveMaximum: 1 } });
    cleanup.push(() => sub.close());
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'q2/#', qos: 2 }] });
    await sub.expect('suback');
    const pub = await RawClient.connect(b.port, { clientId: 'q2-pub' });
    cleanup.push(() => pub.close());
    for (let id = 1; id <= 3; id++) {
      pub.send({
        type: 'publish',
        topic: 'q2/t',
        payload: Buffer.from(`m${id}`),
        qos: 2,
        retain: false,
        dup: false,
        packetId: id,
      });
    }
    // 1 in flight, 1 queued: the third is held, and its PUBREC with it.
    expect((await pub.expect('pubrec')).packetId).toBe(1);
    expect((await pub.expect('pubrec')).packetId).toBe(2);
    await until(() => b.broker.stats.acksHeld === 1, 5000, 'the third PUBREC to be held');
    expect(pub.received.filter((p) => p.type === 'pubrec')).toHaveLength(0);

    const payloads: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await sub.expect('publish');
      payloads.push(Buffer.from(p.payload).toString());
      sub.send({ type: 'pubrec', packetId: p.packetId! });
      await sub.expect('pubrel');
      sub.send({ type: 'pubcomp', packetId: p.packetId! });
    }
    const third = await pub.expect('pubrec');
    expect([third.packetId, third.reasonCode ?? 0]).toEqual([3, 0]);
    for (let id = 1; id <= 3; id++) pub.send({ type: 'pubrel', packetId: id });
    for (let id = 1; id <= 3; id++) expect((await pub.expect('pubcomp')).packetId).toBe(id);
    expect(payloads).toEqual(['m1', 'm2', 'm3']);
    expect(await sub.idle(200)).toHaveLength(0); // exactly once
    expect(b.broker.stats.publishDropped).toBe(0);
    expect(b.broker.stats.heldBytes).toBe(0);
  }, 30_000);
});
