import { fileURLToPath } from 'node:url';
import { freePort, requireServer, type SpawnedServer, spawnServer, startRedis } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';

const redisServer = requireServer('redis-server');
const child = fileURLToPath(new URL('./fixtures/broker-child.ts', import.meta.url));

function startBroker(url: string, port: number): Promise<SpawnedServer> {
  return spawnServer({
    command: process.execPath,
    args: ['--conditions=@x/source', '--import', 'tsx', child, url, 'crash:', String(port)],
    port,
    readyTimeout: 20_000,
  });
}

/**
 * A publisher that keeps what the broker acknowledged: PUBACK for QoS 1, PUBREC for QoS 2 (from
 * then on the broker owns the message [MQTT-4.3.3-4]). MQTT.js re-sends what is unacknowledged
 * after a reconnection (clean: false), with the same packet id.
 */
function publisher(url: string, clientId: string, qos: 1 | 2, total: number) {
  const acked = new Set<number>();
  const sent = new Map<number, number>();
  const c = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 100 });
  c.on('error', () => {});
  c.on('packetsend', (p) => {
    if (p.cmd === 'publish' && p.messageId !== undefined) sent.set(p.messageId, Number(String(p.payload)));
  });
  c.on('packetreceive', (p) => {
    if ((p.cmd === 'puback' || p.cmd === 'pubrec') && p.messageId !== undefined) {
      const n = sent.get(p.messageId);
      if (n !== undefined) acked.add(n);
    }
  });
  let next = 0;
  let finished = false;
  // Up to 20 messages unacknowledged, so that the kill finds some in every state.
  const pump = () => {
    while (next < total && next - acked.size < 20 && c.connected) {
      c.publish(`crash/${qos}`, String(next++), { qos }, () => {});
    }
    if (next >= total) finished = true;
  };
  c.on('packetreceive', pump);
  c.on('connect', pump);
  return { client: c, acked, done: () => finished && acked.size === total };
}

describe.skipIf(redisServer.skip)('RedisStore: a broker killed with SIGKILL under load', () => {
  it('every acknowledged message reaches the offline persistent subscriber after a restart, QoS 2 exactly once', async () => {
    const redis = await startRedis();
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    let broker = await startBroker(redis.url, port);
    const clients: MqttClient[] = [];
    try {
      const subOptions: IClientOptions = {
        clientId: 'sink',
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 3600 },
        reconnectPeriod: 0,
      };
      const sub = await mqtt.connectAsync(url, subOptions);
      await sub.subscribeAsync({ 'crash/1': { qos: 1 }, 'crash/2': { qos: 2 } });
      await sub.endAsync();

      const TOTAL = 3000;
      const p1 = publisher(url, 'pub-1', 1, TOTAL);
      const p2 = publisher(url, 'pub-2', 2, TOTAL);
      clients.push(p1.client, p2.client);
      // Kill at a random moment once the streams flow.
      while (p1.acked.size < 200 || p2.acked.size < 200) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      broker.process.kill('SIGKILL');
      await new Promise((r) => broker.process.once('exit', r));
      const ackedAtCrash = [p1.acked.size, p2.acked.size];
      // The kill came mid-stream for both publishers.
      expect(ackedAtCrash[0]).toBeLessThan(TOTAL);
      expect(ackedAtCrash[1]).toBeLessThan(TOTAL);

      broker = await startBroker(redis.url, port);
      const deadline = Date.now() + 60_000;
      while (!(p1.done() && p2.done())) {
        if (Date.now() > deadline) throw new Error(`publishers stuck at ${p1.acked.size}, ${p2.acked.size}`);
        await new Promise((r) => setTimeout(r, 20));
      }

      const got = new Map<string, number[]>([
        ['crash/1', []],
        ['crash/2', []],
      ]);
      const again = mqtt.connect(url, { ...subOptions });
      clients.push(again);
      again.on('message', (topic, payload) => got.get(topic)?.push(Number(String(payload))));
      await new Promise((resolve) => again.once('connect', resolve));
      const until = Date.now() + 60_000;
      while (new Set(got.get('crash/1')).size < TOTAL || got.get('crash/2')!.length < TOTAL) {
        if (Date.now() > until) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const q1 = new Set(got.get('crash/1'));
      const q2 = got.get('crash/2')!;
      const missing1 = [...p1.acked].filter((n) => !q1.has(n));
      const missing2 = [...p2.acked].filter((n) => !q2.includes(n));
      expect({ missing1: missing1.slice(0, 10), missing2: missing2.slice(0, 10) }).toEqual({
        missing1: [],
        missing2: [],
      });
      // Exactly once: no QoS 2 message twice, acknowledged before the crash or re-sent after it.
      expect(q2.length).toBe(new Set(q2).size);
      expect(q2.length).toBe(TOTAL);
    } finally {
      for (const c of clients) c.end(true);
      await broker.stop(2000);
      await redis.stop();
    }
  }, 120_000);
});
