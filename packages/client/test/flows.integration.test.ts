import { requireServer, startBroker, startMosquitto } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, ConnackError, connect, type Message } from '../src/index.js';

interface Server {
  url: string;
  stop(): Promise<void>;
}

const mosquitto = requireServer('mosquitto');

describe.skipIf(mosquitto.skip)(`against Mosquitto ${mosquitto.reason}`, () => {
  // Mosquitto 2.0.11 stalls QoS 2 delivery to a 3.1.1 subscriber once its in-flight window (20)
  // has been full (MQTT.js subscribers stall the same way); no window avoids that broker bug.
  flows(() => startMosquitto({ config: ['max_inflight_messages 0'] }));

  it('rejects a refused connection with the CONNACK reason code', async () => {
    const strict = await startMosquitto({ config: ['allow_anonymous false'] });
    try {
      const error = await connect(strict.url, { protocolVersion: 5, reconnect: false }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConnackError);
      expect((error as ConnackError).reasonCode).toBe(0x87);
      const v4 = await connect(strict.url, { protocolVersion: 4 }).catch((e: unknown) => e);
      expect((v4 as ConnackError).reasonCode).toBe(5);
    } finally {
      await strict.stop();
    }
  });
});

describe('against our broker', () => {
  flows(async () => {
    const running = await startBroker();
    return { url: running.url, stop: () => running.close() };
  });
});

function flows(start: () => Promise<Server>): void {
  let broker: Server;
  beforeAll(async () => {
    broker = await start();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  for (const protocolVersion of [4, 5] as const) {
    describe(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, () => {
      it('connects and reports the CONNACK', async () => {
        const client = await connect(broker.url, { protocolVersion });
        expect(client.connected).toBe(true);
        expect(client.connack?.sessionPresent).toBe(false);
        await client.end();
        expect(client.state).toBe('closed');
      });

      for (const qos of [0, 1, 2] as const) {
        it(`publishes and receives at QoS ${qos} both ways`, async () => {
          const sub = await connect(broker.url, { protocolVersion });
          const pub = await connect(broker.url, { protocolVersion });
          const topic = `t/${protocolVersion}/${qos}/${Math.random()}`;
          const granted = await sub.subscribe(topic, { qos });
          expect(granted).toEqual([{ topicFilter: topic, reasonCode: qos, qos }]);
          const received: Message[] = [];
          const all = new Promise<void>((resolve) => {
            sub.on('message', (m) => {
              received.push(m);
              if (received.length === 50) resolve();
            });
          });
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              pub.publish(topic, `m${i}`, {
                qos,
                properties: protocolVersion === 5 ? { userProperties: [['i', String(i)]] } : undefined,
              }),
            ),
          );
          for (const r of results) expect(r.reasonCode).toBe(0);
          await all;
          expect(received.map((m) => m.text())).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
          expect(received.every((m) => m.qos === qos && m.topic === topic)).toBe(true);
          if (protocolVersion === 5) expect(received[7]?.properties?.userProperties).toEqual([['i', '7']]);
          expect(pub.inflight).toBe(0);
          expect(sub.inflight).toBe(0);
          await Promise.all([sub.end(), pub.end()]);
        });
      }

      it('delivers a message that comes with the CONNACK to a handler attached after connect', async () => {
        const topic = `queued/${protocolVersion}/${Math.random()}`;
        // A persistent session with a queued message: it arrives in the same read as the CONNACK.
        const clientId = `late-${protocolVersion}-${Math.random().toString(16).slice(2, 10)}`;
        const options = { protocolVersion, clientId, clean: false, sessionExpiryInterval: 300 };
        const first = await connect(broker.url, options);
        await first.subscribe(topic, { qos: 1 });
        await first.end();
        const other = await connect(broker.url, { protocolVersion });
        await other.publish(topic, 'queued', { qos: 1 });
        await other.end();
        const second = await connect(broker.url, options);
        expect(second.connack?.sessionPresent).toBe(true);
        const got = await new Promise<Message>((resolve) => second.on('message', resolve));
        expect(got.text()).toBe('queued');
        await second.end({ properties: protocolVersion === 5 ? { sessionExpiryInterval: 0 } : undefined });
      });

      it('delivers retained messages that come with the SUBACK to a handler attached after subscribe', async () => {
        const topic = `retained/${protocolVersion}/${Math.random()}`;
        const publisher = await connect(broker.url, { protocolVersion });
        await publisher.publish(topic, 'kept', { qos: 1, retain: true });
        await publisher.end();
        const client = await connect(broker.url, { protocolVersion });
        await client.subscribe(topic, { qos: 1 });
        const got = await new Promise<Message>((resolve) => client.on('message', resolve));
        expect(got.text()).toBe('kept');
        expect(got.retain).toBe(true);
        await client.publish(topic, '', { qos: 1, retain: true });
        await client.end();
      });

      it('iterates messages per filter', async () => {
        const client = await connect(broker.url, { protocolVersion });
        const base = `it/${protocolVersion}/${Math.random()}`;
        await client.subscribe(`${base}/#`, { qos: 1 });
        const onlyA = client.messages(`${base}/a/+`);
        const all = client.messages();
        await client.publish(`${base}/b/1`, 'b1', { qos: 1 });
        await client.publish(`${base}/a/1`, 'a1', { qos: 1 });
        await client.publish(`${base}/a/2`, 'a2', { qos: 1 });
        const seenA: string[] = [];
        for await (const m of onlyA) {
          seenA.push(m.text());
          if (seenA.length === 2) break;
        }
        expect(seenA).toEqual(['a1', 'a2']);
        const seenAll: string[] = [];
        for await (const m of all) {
          seenAll.push(m.text());
          if (seenAll.length === 3) break;
        }
        expect(seenAll).toEqual(['b1', 'a1', 'a2']);
        await client.end();
      });

      it('unsubscribes', async () => {
        const client = await connect(broker.url, { protocolVersion });
        await client.subscribe('u/1');
        const result = await client.unsubscribe(['u/1']);
        expect(result).toEqual([{ topicFilter: 'u/1', reasonCode: 0 }]);
        await client.end();
      });
    });
  }

  it('rejects with TRANSPORT_ERROR when nothing listens', async () => {
    const error = await connect('mqtt://127.0.0.1:1', {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TRANSPORT_ERROR' });
  });

  it('every pending promise settles on end()', async () => {
    const client: Client = await connect(broker.url, { protocolVersion: 5 });
    const pending = Array.from({ length: 20 }, (_, i) => client.publish('p/x', String(i), { qos: 2 }));
    await client.end();
    const settled = await Promise.allSettled(pending);
    expect(settled.every((s) => s.status === 'fulfilled' || s.status === 'rejected')).toBe(true);
  });
}
