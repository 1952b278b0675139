import { get } from 'node:http';
import {
  findExecutable,
  freePort,
  requireServer,
  type SpawnedServer,
  spawnServer,
  until,
} from '@x/test-helpers';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Node, startNodes } from './nodes.js';

const redisServer = requireServer('redis-server');
const REJOINED = 'cluster: Redis reachable again, node listed again';

/** A Redis without persistence: restarted, it has forgotten every key (the harder case). */
function redisOn(port: number): Promise<SpawnedServer> {
  return spawnServer({
    command: findExecutable('redis-server')!,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    port,
  });
}

/** The node's `/readyz`: true for 200, false for 503. */
function readyz(node: Node): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (node.health === undefined) throw new Error(`${node.id} was started without a health port`);
    get({ host: '127.0.0.1', port: node.health, path: '/readyz' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', reject);
  });
}

describe.skipIf(redisServer.skip)('a cluster of three nodes that loses Redis', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  let redisPort: number;
  let redis: SpawnedServer;
  let nodes: Node[];
  let pub: MqttClient;
  const got: Record<string, string[]> = { n1: [], n2: [] };

  const count = (seen: string[], payload: string) => seen.filter((p) => p === payload).length;
  /** Publishes `payload` on out/probe at QoS 0 until both subscribers (on n1 and n2) have it. */
  const probeBoth = (payload: string, what: string) =>
    until(
      () => {
        pub.publish('out/probe', payload, { qos: 0 });
        return got.n1!.includes(payload) && got.n2!.includes(payload);
      },
      10_000,
      what,
    );

  beforeAll(async () => {
    redisPort = await freePort();
    redis = await redisOn(redisPort);
    const url = `redis://127.0.0.1:${redisPort}`;
    nodes = await startNodes(url, 'out:', ['n0', 'n1', 'n2'], 1500, {
      env: { CLUSTER_TEST_LOG: '1' },
      health: true,
    });
    for (const node of nodes) cleanup.push(() => node.server.stop());
    pub = await mqtt.connectAsync(nodes[0]!.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: 'out-pub',
    });
    pub.on('error', () => {});
    cleanup.push(() => pub.end(true));
    for (const id of ['n1', 'n2'] as const) {
      const node = nodes[Number(id[1])]!;
      const sub = mqtt.connect(node.url, {
        protocolVersion: 5,
        reconnectPeriod: 200,
        clientId: `out-sub-${id}`,
      });
      sub.on('error', () => {});
      cleanup.push(() => sub.end(true));
      sub.on('message', (t, p) => t.startsWith('out/') && got[id]!.push(String(p)));
      await new Promise((r) => sub.once('connect', r));
      await sub.subscribeAsync('out/#', { qos: 1 });
    }
    await probeBoth('probe', 'the subscriptions known on the publisher’s node');
  }, 90_000);

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
    await redis?.stop();
  });

  it('refuses QoS 1 work and new connections, and reports not ready, while Redis is down', async () => {
    redis.process.kill('SIGKILL');
    await new Promise((r) => redis.process.once('exit', r));
    // [MQTT-4.3.2] a QoS 1 message the broker cannot keep is refused (v5 0x97), not acknowledged
    const refused = await pub.publishAsync('out/x', 'during', { qos: 1 }).then(
      () => 'acknowledged',
      (e: Error & { code?: number }) => e.code,
    );
    expect(refused).toBe(0x97);
    const late = await mqtt
      .connectAsync(nodes[0]!.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 })
      .then((c: MqttClient) => {
        c.end(true);
        return 'connected';
      })
      .catch((e: Error & { code?: number }) => e.code ?? e.message);
    expect(late).toBe(0x88); // Server unavailable: the session cannot be claimed
    const ready = await Promise.all(nodes.map(readyz));
    expect(ready).toEqual([false, false, false]);
  }, 30_000);

  it('rejoins on every node once Redis is back, and routes QoS 1 across nodes again, each message once', async () => {
    // Down for longer than a lease, so the nodes' reconnection back-off has grown.
    await new Promise((r) => setTimeout(r, 2000));
    const before = nodes.map((n) => n.server.output().split(REJOINED).length - 1);
    redis = await redisOn(redisPort);
    const started = Date.now();
    await until(
      () => nodes.every((n, i) => n.server.output().split(REJOINED).length - 1 > before[i]!),
      15_000,
      'a rejoin logged by every node',
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}\n${nodes.map((n) => n.server.output().slice(-3000)).join('\n----\n')}`,
      );
    });
    const deadline = Date.now() + 10_000;
    while (!(await Promise.all(nodes.map(readyz))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error('a node stays not ready after Redis returned');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Routing again: the subscribers' nodes announced their summaries anew (Redis forgot them).
    await probeBoth('probe-again', 'routing across nodes again');
    const rejoinMs = Date.now() - started;
    const N = 100;
    for (let i = 0; i < N; i++) await pub.publishAsync('out/x', `m${i}`, { qos: 1 });
    await until(
      () =>
        [got.n1!, got.n2!].every((seen) =>
          Array.from({ length: N }, (_, i) => count(seen, `m${i}`) > 0).every(Boolean),
        ),
      10_000,
      'every QoS 1 message on both nodes',
    );
    await new Promise((r) => setTimeout(r, 300)); // a second copy, if any, would arrive now
    for (const seen of [got.n1!, got.n2!]) {
      const real = seen.filter((p) => /^m\d+$/.test(p));
      expect(real).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
      expect(seen).not.toContain('during'); // the refused message was not kept
    }
    expect(rejoinMs).toBeLessThan(20_000);
  }, 60_000);
});
