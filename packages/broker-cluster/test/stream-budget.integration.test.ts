import { type RunningRedis, requireServer, startRedis, until } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Node, startNode as startNodeWith } from './nodes.js';

const redisServer = requireServer('redis-server');
const BUDGET = 4096;
const startNode = (redis: string, id: string) =>
  startNodeWith(redis, 'sb:', id, 3000, { env: { CLUSTER_TEST_MAX_STREAM_BYTES: String(BUDGET) } });

describe.skipIf(redisServer.skip)('the byte budget of a dead node’s stream', () => {
  let redis: RunningRedis;
  let live: Node;
  let dead: Node;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    [live, dead] = await Promise.all([startNode(redis.url, 'sb-live'), startNode(redis.url, 'sb-dead')]);
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await Promise.all([live?.server.stop(), dead?.server.stop()]);
    await redis?.stop();
  });

  it('refuses QoS 1 with 0x97 once the stream holds maxStreamBytes, and delivers every acknowledged message after adoption', async () => {
    const session: IClientOptions = {
      clientId: 'far',
      clean: false,
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 300 },
    };
    const sub = await mqtt.connectAsync(dead.url, session);
    sub.on('error', () => {});
    clients.push(sub);
    let probed = false;
    sub.on('message', (t) => {
      if (t === 'far/probe') probed = true;
    });
    await sub.subscribeAsync('far/#', { qos: 1 });
    const pub = await mqtt.connectAsync(live.url, { protocolVersion: 5, reconnectPeriod: 0 });
    pub.on('error', () => {});
    clients.push(pub);
    const deadline = Date.now() + 15_000;
    while (!probed) {
      if (Date.now() > deadline) throw new Error('the subscription never became known');
      pub.publish('far/probe', 'probe', { qos: 0 });
      await new Promise((r) => setTimeout(r, 50));
    }

    dead.server.process.kill('SIGKILL');
    await new Promise((r) => dead.server.process.once('exit', r));
    // 100-byte payloads: the budget holds a few dozen of them, then the publishing node refuses.
    const acked: string[] = [];
    let refused: number | undefined;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const payload = `${i}`.padEnd(100, '.');
      await pub.publishAsync('far/x', payload, { qos: 1 }).then(
        () => void acked.push(payload),
        (e: Error & { code?: number }) => {
          refused = e.code;
        },
      );
    }
    expect(refused).toBe(0x97); // [MQTT-3.4.2-1] Quota exceeded: not acknowledged as kept
    expect(acked.length).toBeGreaterThan(10);
    expect(acked.length * 100).toBeLessThan(BUDGET);

    // The session comes back on the live node, which adopts the dead one: every acknowledged
    // message arrives, and the stream takes messages again.
    const got: string[] = [];
    const back = mqtt.connect(live.url, session);
    back.on('error', () => {});
    clients.push(back);
    back.on('message', (t, p) => t === 'far/x' && got.push(String(p)));
    await new Promise((resolve) => back.once('connect', resolve));
    await until(() => acked.every((m) => got.includes(m)), 20_000, 'every acknowledged message');
    await pub.publishAsync('far/x', 'after', { qos: 1 });
    await until(() => got.includes('after'), 10_000, 'a message after the adoption');
  }, 60_000);
});
