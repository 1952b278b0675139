import { type RunningRedis, requireServer, startRedis, until } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient as client,
  clients,
  type Node,
  routed,
  startNodes,
  startNode as startNodeWith,
  stopAll,
} from './nodes.js';

const redisServer = requireServer('redis-server');
const PREFIX = 'ho:';
const LEASE_MS = 1500;
const startNode = (redis: string, id: string, env: Record<string, string> = {}) =>
  startNodeWith(redis, PREFIX, id, LEASE_MS, { env });

describe.skipIf(redisServer.skip)('sessions moving between nodes, and a node dying mid-batch', () => {
  let redis: RunningRedis;
  let a: Node;
  let b: Node;
  let c: Node;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b, c] = await startNodes(redis.url, PREFIX, ['ho-a', 'ho-b', 'ho-c'], LEASE_MS);
  }, 90_000);

  afterAll(async () => {
    if (process.env.CLUSTER_TEST_DUMP === '1') for (const n of [a, b, c]) console.log(n?.server.output());
    await stopAll([a, b, c], redis);
  });

  it('loses no acknowledged QoS 1 message while a session moves between nodes under a stream of publishes', async () => {
    const session: IClientOptions = {
      clientId: 'hand',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const received = new Set<string>();
    const listen = (m: MqttClient) => m.on('message', (t, p) => t === 'hand/n' && received.add(String(p)));
    let current = await client(a.url, { ...session, clean: true });
    listen(current);
    await current.subscribeAsync('hand/#', { qos: 1 });
    // Publishers on the three nodes: the old node's own publisher is a case of its own.
    const pubs = [await client(a.url), await client(b.url), await client(c.url)];
    let probes = 0;
    current.on('message', (t) => t === 'hand/probe' && probes++);
    for (const p of pubs) {
      probes = 0;
      await routed(p, () => probes > 0, 'hand/probe');
    }
    const acked = new Set<string>();
    let stop = false;
    const pump = async (p: MqttClient, name: string) => {
      for (let i = 0; !stop; i++) {
        const window: Promise<void>[] = [];
        for (let j = 0; j < 10; j++) {
          const payload = `${name}${i}.${j}`;
          window.push(
            p.publishAsync('hand/n', payload, { qos: 1 }).then(
              () => void acked.add(payload),
              () => {},
            ),
          );
        }
        await Promise.all(window);
      }
    };
    const pumping = pubs.map((p, i) => pump(p, 'abc'[i]!));
    // A → B → C → A, each move while messages flow.
    for (const node of [b, c, a]) {
      await new Promise((r) => setTimeout(r, 400));
      const next = mqtt.connect(node.url, { ...session, protocolVersion: 5, reconnectPeriod: 0 });
      next.on('error', () => {});
      clients.push(next);
      listen(next);
      await new Promise((resolve) => next.once('connect', resolve));
      current = next;
    }
    await new Promise((r) => setTimeout(r, 400));
    stop = true;
    await Promise.all(pumping);
    expect(acked.size).toBeGreaterThan(100);
    await until(() => [...acked].every((m) => received.has(m)), 20_000, 'every acknowledged message').catch(
      () => {
        const missing = [...acked].filter((m) => !received.has(m));
        throw new Error(
          `${missing.length} of ${acked.size} acknowledged messages lost: ${missing.slice(0, 10)}`,
        );
      },
    );
  }, 60_000);

  it('delivers a QoS 2 message once when its node is killed after routing it and before XACK', async () => {
    const k = await startNode(redis.url, 'ho-k', { CLUSTER_TEST_KILL_AT_XACK: '1' });
    const session: IClientOptions = {
      clientId: 'twice',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const got: string[] = [];
    const onMessage = (t: string, p: Buffer) => t === 'once/x' && got.push(String(p));
    const sub = await client(k.url, session);
    sub.on('message', onMessage);
    await sub.subscribeAsync('once/#', { qos: 2 });
    let probed = false;
    sub.on('message', (t) => {
      if (t === 'once/probe') probed = true;
    });
    const pub = await client(a.url, { clientId: 'once-pub' });
    await routed(pub, () => probed, 'once/probe');
    // Acknowledged (PUBCOMP) once it is in K's stream; K routes it, commits, and dies at XACK.
    await pub.publishAsync('once/x', 'only-once', { qos: 2 });
    await new Promise((resolve) => {
      if (k.server.process.exitCode !== null || k.server.process.signalCode !== null) resolve(undefined);
      else k.server.process.once('exit', resolve);
    });
    // The session comes back on B, which adopts K (its session and its stream, the entry included).
    const back = mqtt.connect(b.url, { ...session, protocolVersion: 5, reconnectPeriod: 0 });
    back.on('error', () => {});
    clients.push(back);
    back.on('message', onMessage);
    await new Promise((resolve) => back.once('connect', resolve));
    await until(() => got.length > 0, 15_000, 'the QoS 2 message');
    await new Promise((r) => setTimeout(r, 1500)); // a second copy, if any, would arrive now
    expect(got).toEqual(['only-once']); // [MQTT-4.3.3] exactly once
  }, 60_000);
});
