import { encode, type PublishPacket } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { startTestBroker, until } from './helpers.js';

// Issue 19: `mqtt-bench latency --qos 1` lost 2–4 % of the deliveries. A publisher whose window is
// wider than its subscriber's (the bench: 100 against the broker's 32) fills the subscriber's queue
// whenever it catches up after a stall; the broker then dropped what the full queue refused and
// acknowledged it anyway, silently for a v3.1.1 publisher, which has no negative acknowledgement.
// An online subscriber's full queue must hold the publisher's PUBACK instead (issue 15).

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function client(port: number, clientId: string): Promise<RawClient> {
  const c = await RawClient.connect(port, { clientId }, 4);
  cleanup.push(() => c.close());
  return c;
}

describe('a v3.1.1 QoS 1 subscriber behind a publisher with a wider window (issue 19)', () => {
  it('gets every message once and in order when it catches up; nothing is dropped, PUBACKs are held', async () => {
    const b = await startTestBroker({
      maxInflight: 4,
      maxQueuedMessages: 20,
      stalledConsumerTimeout: 60_000,
    });
    cleanup.push(() => b.close());
    const sub = await client(b.port, 'i19-sub');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'i19/t', qos: 1 }] });
    await sub.expect('suback');

    // One burst, as a load generator catching up sends it: far more than the subscriber's window
    // (4) and queue (20) hold, and the subscriber acknowledges nothing yet.
    const pub = await client(b.port, 'i19-pub');
    const count = 200;
    pub.sendBytes(
      Buffer.concat(
        Array.from({ length: count }, (_, i) =>
          encodePublish({ topic: 'i19/t', payload: Buffer.from(String(i)), packetId: i + 1 }),
        ),
      ),
    );
    // Before the subscriber moves, only what its window (4) and queue (20) took is acknowledged.
    const pubacks = () => pub.received.filter((p) => p.type === 'puback').length;
    await until(() => pubacks() >= 4 + 20, 10_000, 'the PUBACKs of what the subscriber took');
    await pub.idle(200);
    expect(pubacks()).toBe(4 + 20);

    // The subscriber catches up: it acknowledges everything it is sent.
    const payloads: string[] = [];
    const acknowledge = () => {
      for (const p of sub.received.splice(0)) {
        if (p.type !== 'publish') continue;
        payloads.push(p.payload.toString());
        sub.send({ type: 'puback', packetId: p.packetId! });
      }
      return payloads.length >= count;
    };
    await until(acknowledge, 20_000, `the subscriber to receive ${count} messages`);
    expect(payloads).toEqual(Array.from({ length: count }, (_, i) => String(i)));
    expect(await sub.idle(100)).toEqual([]); // nothing twice

    // The publisher gets every PUBACK, in order [MQTT-4.6.0-2].
    await until(() => pubacks() === count, 10_000, `the publisher to get ${count} PUBACKs`);
    const acks = pub.received.filter((p) => p.type === 'puback').map((p) => p.packetId);
    expect(acks).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const stats = b.broker.stats;
    expect(stats.publishDropped).toBe(0);
    expect(stats.acksHeld).toBe(count - 4 - 20);
    expect(stats.heldBytes).toBe(0);
  }, 60_000);
});

function encodePublish(fields: Pick<PublishPacket, 'topic' | 'payload' | 'packetId'>): Uint8Array {
  return encode({ type: 'publish', qos: 1, retain: false, dup: false, ...fields }, 4);
}
