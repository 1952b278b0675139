import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type RunningRedis,
  requireServer,
  type SpawnedServer,
  startRedis,
  until,
} from '@x/test-helpers';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNodeBody } from '../src/cluster-api.js';
import { startBinary } from './binary.js';

const redisServer = requireServer('redis-server');
const TOKEN = 'cluster-sekret';

interface BinaryNode {
  id: string;
  mqtt: string;
  http: string;
  server: SpawnedServer;
}

/** GET/POST/DELETE on a node's management API, with the token unless told otherwise. */
async function api<T = { error: { code: string } }>(
  node: BinaryNode,
  path: string,
  init: { method?: string; token?: string | null } = {},
): Promise<{ status: number; body: T }> {
  const token = init.token === undefined ? TOKEN : init.token;
  const response = await fetch(`${node.http}/api/v1/${path}`, {
    method: init.method ?? 'GET',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as T };
}

/**
 * Reads until `done` holds (at most 10 s) and returns the last reading: each node reports its load
 * with its lease renewal, so cluster-wide figures catch up within one. The assertions that follow
 * say what is wrong if it never held.
 */
async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(redisServer.skip)('mqtt-broker --cluster: the management API and $SYS across nodes', () => {
  let redis: RunningRedis;
  let dir: string;
  let n1: BinaryNode;
  let n2: BinaryNode;
  const clients: MqttClient[] = [];
  const connect = async (node: BinaryNode, clientId: string) => {
    const c = await mqtt.connectAsync(node.mqtt, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  async function startNode(id: string): Promise<BinaryNode> {
    const [port, http] = [await freePort(), await freePort()];
    const config = join(dir, `${id}.yaml`);
    writeFileSync(
      config,
      [
        'listeners:',
        '  - type: tcp',
        '    host: 127.0.0.1',
        `    port: ${port}`,
        'http:',
        '  host: 127.0.0.1',
        `  port: ${http}`,
        `  token: ${TOKEN}`,
        '  dashboard: false',
        'broker:',
        '  sysInterval: 300',
        'cluster:',
        `  url: ${redis.url}`,
        `  nodeId: ${id}`,
        '  leaseMs: 1500',
        'log:',
        '  level: warn',
        '',
      ].join('\n'),
    );
    const server = await startBinary(['--config', config], port);
    return { id, mqtt: `mqtt://127.0.0.1:${port}`, http: `http://127.0.0.1:${http}`, server };
  }

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'mqtt-broker-cluster-'));
    [n1, n2] = await Promise.all([startNode('n1'), startNode('n2')]);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await Promise.all([n1, n2].map((n) => n?.server.stop()));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the nodes with their health and load, behind the token', async () => {
    expect((await api(n1, 'cluster/nodes', { token: null })).status).toBe(401);
    const nodes = await poll<{ nodeId: string; items: ClusterNodeBody[] }>(
      async () => (await api<{ nodeId: string; items: ClusterNodeBody[] }>(n1, 'cluster/nodes')).body,
      (body) =>
        body.items.length === 2 &&
        body.items.every((n: ClusterNodeBody) => n.load?.ready === true && n.lastRenewal !== null),
    );
    expect(nodes.nodeId).toBe('n1');
    expect(nodes.items.map((n: ClusterNodeBody) => [n.nodeId, n.self, n.alive, n.load?.ready])).toEqual([
      ['n1', true, true, true],
      ['n2', false, true, true],
    ]);
    for (const node of nodes.items) {
      // A renewal every third of the lease (1.5 s), on a shared machine: within a few seconds.
      expect(Date.now() - Date.parse(node.lastRenewal ?? '')).toBeLessThan(5_000);
      expect(node.load).toMatchObject({
        clientsConnected: expect.any(Number),
        messagesSent: expect.any(Number),
      });
    }
    expect((await api(n1, 'cluster/nowhere')).status).toBe(404);
  });

  it('counts, finds and kicks a client across nodes', async () => {
    const far = await connect(n2, 'far-away');
    await far.subscribeAsync('far/#', { qos: 1 });
    await connect(n1, 'near-by');
    const count = await poll<{ online: number }>(
      async () => (await api<{ online: number }>(n1, 'cluster/clients/count')).body,
      (body) => body.online === 2,
    );
    expect(count).toEqual({ online: 2, sessions: 2, nodes: 2 });

    const found = await api(n1, 'cluster/clients/far-away');
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({
      clientId: 'far-away',
      nodeId: 'n2',
      nodeAlive: true,
      session: { online: true, protocolVersion: 5, subscriptions: [{ topicFilter: 'far/#', qos: 1 }] },
    });
    expect((await api(n1, 'cluster/clients/nobody')).body.error.code).toBe('CLIENT_NOT_FOUND');

    const disconnected = new Promise<number | undefined>((resolve) =>
      far.once('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    const kicked = await api(n1, 'cluster/clients/far-away/kick?reasonCode=152', { method: 'POST' });
    expect(kicked).toEqual({ status: 200, body: { kicked: 'far-away', nodeId: 'n2' } });
    expect(await disconnected).toBe(0x98); // the owning node sent DISCONNECT 0x98
    const again = await api(n1, 'cluster/clients/far-away', { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('CLIENT_NOT_CONNECTED');
    expect((await api(n1, 'cluster/clients/x/kick?reasonCode=7', { method: 'POST' })).status).toBe(400);
  });

  it('publishes $SYS/cluster totals on every node, besides its own $SYS/broker figures', async () => {
    const watcher = await connect(n2, 'sys-watcher');
    const sys = new Map<string, string>();
    watcher.on('message', (topic, payload) => sys.set(topic, String(payload)));
    await watcher.subscribeAsync(['$SYS/cluster/#', '$SYS/broker/clients/connected'], { qos: 0 });
    const other = await connect(n1, 'sys-other');
    await other.publishAsync('sys/x', 'counted', { qos: 1 });
    // near-by and sys-other on n1, sys-watcher on n2: 3 online in all, 1 on n2 itself.
    await until(
      () =>
        sys.get('$SYS/cluster/nodes/alive') === '2' &&
        sys.get('$SYS/cluster/clients/connected') === '3' &&
        sys.get('$SYS/broker/clients/connected') === '1' &&
        Number(sys.get('$SYS/cluster/messages/received')) > 0,
      10_000,
      '$SYS/cluster totals',
    );
    const stats = (await api(n2, 'cluster/stats')).body;
    expect(stats).toMatchObject({ nodes: 2, alive: 2, clientsConnected: 3 });
  });
});
