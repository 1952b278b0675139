import { encode } from '@x/packets';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import type { DropReason } from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

describe('a slow or frozen subscriber never stalls the others (user-pain-points #3, #5)', () => {
  let b: TestBroker;
  const drops = new Map<string, number>();
  beforeAll(async () => {
    b = await startTestBroker({
      maxOutboundBytes: 64 * 1024,
      maxQueuedMessages: 100,
      stalledConsumerTimeout: 1000,
      sweepInterval: 100,
    });
    b.broker.addHook({
      onPublishDropped: (clientId: string, _m: unknown, reason: DropReason) => {
        const key = `${clientId}:${reason}`;
        drops.set(key, (drops.get(key) ?? 0) + 1);
      },
    });
  });
  afterAll(() => b.close());

  it('frozen QoS 0 and QoS 1 subscribers: bounded buffers and queues, QoS 0 drops counted, the stalled QoS 1 one disconnected, the fast one gets everything', async () => {
    const frozen0 = await RawClient.connect(b.port, { clientId: 'frozen-0' });
    frozen0.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'slow/t', qos: 0 }] });
    await frozen0.expect('suback');
    const frozen1 = await RawClient.connect(b.port, {
      clientId: 'frozen-1',
      properties: { receiveMaximum: 10 },
    });
    frozen1.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'slow/t', qos: 1 }] });
    await frozen1.expect('suback');
    // Stop reading: the kernel buffers fill, then the broker's side of these sockets backs up.
    frozen0.socket.pause();
    frozen1.socket.pause();

    const fast = await mqtt.connectAsync(b.url, { clientId: 'fast', protocolVersion: 5, reconnectPeriod: 0 });
    let received = 0;
    fast.on('message', () => received++);
    await fast.subscribeAsync('slow/t', { qos: 1 });

    const publisher = await mqtt.connectAsync(b.url, {
      clientId: 'pub',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const payload = Buffer.alloc(8 * 1024, 0x61);
    const count = 2500; // 20 MB through each subscriber: more than loopback socket buffers hold
    let maxBuffered0 = 0;
    let maxQueued1 = 0;
    for (let i = 0; i < count; i++) {
      await publisher.publishAsync('slow/t', payload, { qos: 1 });
      const c0 = b.broker.client('frozen-0');
      if (c0) maxBuffered0 = Math.max(maxBuffered0, c0.bufferedBytes);
      const s1 = b.broker.sessions.get('frozen-1');
      if (s1) maxQueued1 = Math.max(maxQueued1, s1.queuedCount);
    }
    await until(() => received === count, 10_000, 'the fast subscriber to get every message');

    // The frozen QoS 0 subscriber's socket buffer stays near the limit: extra messages were dropped.
    expect(maxBuffered0).toBeLessThanOrEqual(64 * 1024 + payload.length + 64);
    expect(drops.get('frozen-0:slow-client') ?? 0).toBeGreaterThan(0);
    // The frozen QoS 1 subscriber: a bounded queue; it held the publisher back (no QoS 1 message was
    // dropped for it while online) until it stalled past stalledConsumerTimeout and was disconnected.
    expect(maxQueued1).toBeLessThanOrEqual(100);
    expect(b.broker.stats.acksHeld).toBeGreaterThan(0);
    expect(b.broker.stats.stalledConsumers).toBe(1);
    expect(b.broker.client('frozen-1')).toBeUndefined();
    expect(drops.get('frozen-1:queue-full') ?? 0).toBe(0);
    expect(drops.get('fast:slow-client') ?? 0).toBe(0);
    expect(b.broker.stats.publishDropped).toBe(drops.get('frozen-0:slow-client'));

    frozen0.close();
    frozen1.close();
    await Promise.all([fast.endAsync(), publisher.endAsync()]);
  }, 60_000);
});

describe('fan-out backpressure on publishers', () => {
  it('stops reading from a publisher while a tick’s output is over maxBytesPerTick, and loses nothing', async () => {
    const b = await startTestBroker({ maxBytesPerTick: 8 * 1024 });
    try {
      const subscribers = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => mqtt.connectAsync(b.url, { clientId: `fan-${i}`, reconnectPeriod: 0 })),
      );
      const counts = subscribers.map(() => 0);
      for (const [i, s] of subscribers.entries()) {
        s.on('message', () => {
          counts[i]!++;
        });
      }
      for (const s of subscribers) await s.subscribeAsync('fan/t', { qos: 0 });
      const publisher = await RawClient.connect(b.port, { clientId: 'fan-pub' }, 4);
      const one = encode(
        { type: 'publish', topic: 'fan/t', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false },
        4,
      );
      // Many small writes, so the broker sees many chunks and must pause between them.
      for (let i = 0; i < 2000; i++) publisher.socket.write(one);
      await until(() => counts.every((n) => n === 2000), 20_000, 'every subscriber to get every message');
      expect(b.broker.stats.readPauses).toBeGreaterThan(0);
      expect(b.broker.stats.publishDropped).toBe(0);
      publisher.close();
      await Promise.all(subscribers.map((s) => s.endAsync()));
    } finally {
      await b.close();
    }
  }, 40_000);
});
