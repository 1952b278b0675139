import { fileURLToPath } from 'node:url';
import { freePort, type SpawnedServer, spawnServer, until } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

const child = fileURLToPath(new URL('./fixtures/node-child.ts', import.meta.url));

/** A cluster node process (fixtures/node-child.ts) listening on 127.0.0.1. */
export interface Node {
  id: string;
  url: string;
  server: SpawnedServer;
  /** The port of its `GET /readyz` (only when started with `health: true`). */
  health?: number;
}

/** How {@link startNode} starts a node, beyond its Redis, prefix, id and lease. */
export interface NodeOptions {
  /**
   * Variables the fixture reads (`CLUSTER_TEST_REDIS_CLUSTER=1`, `CLUSTER_TEST_SYS_MS`,
   * `CLUSTER_TEST_LOG=1`, …). Default: none.
   */
  env?: Record<string, string>;
  /** Serve `GET /readyz` on a port of its own, given as `Node.health`. Default: false. */
  health?: boolean;
}

/** Starts one node on `redis` with `prefix` and `leaseMs`. */
export async function startNode(
  redis: string,
  prefix: string,
  id: string,
  leaseMs: number,
  { env = {}, health = false }: NodeOptions = {},
): Promise<Node> {
  const port = await freePort();
  const healthPort = health ? await freePort() : undefined;
  const server = await spawnServer({
    command: process.execPath,
    args: [
      '--conditions=@x/source',
      '--import',
      'tsx',
      child,
      redis,
      prefix,
      id,
      String(port),
      String(leaseMs),
      ...(healthPort === undefined ? [] : [String(healthPort)]),
    ],
    port,
    // Generous: several tsx processes starting at once on a loaded 2-core machine.
    readyTimeout: 60_000,
    env: { ...process.env, ...env },
  });
  return {
    id,
    url: `mqtt://127.0.0.1:${port}`,
    server,
    ...(healthPort === undefined ? {} : { health: healthPort }),
  };
}

/**
 * Starts a node for each of `ids` at once (see {@link startNode}). Should one fail, the others are
 * stopped before the error is thrown, so no process outlives the test file.
 */
export async function startNodes<const Ids extends readonly string[]>(
  redis: string,
  prefix: string,
  ids: Ids,
  leaseMs: number,
  options: NodeOptions = {},
): Promise<{ -readonly [K in keyof Ids]: Node }> {
  const started = await Promise.allSettled(ids.map((id) => startNode(redis, prefix, id, leaseMs, options)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.server.stop() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<Node>).value) as {
    -readonly [K in keyof Ids]: Node;
  };
}

/** Ends the clients in `clients`, then stops `nodes` and `redis` (any of them may be unset). */
export async function stopAll(
  nodes: ReadonlyArray<Node | undefined>,
  redis: { stop(): Promise<unknown> } | undefined,
): Promise<void> {
  for (const c of clients) c.end(true);
  await Promise.all(nodes.map((n) => n?.server.stop()));
  await redis?.stop();
}

/** MQTT.js clients made by {@link connectClient}, to end after the tests. */
export const clients: MqttClient[] = [];

/** An MQTT.js client (v5 unless told, no reconnection), kept in `clients`. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/**
 * Waits until a subscription made on one node is known where the publisher is: QoS 0 probes on
 * `probeTopic` until the subscriber has seen one (summaries travel asynchronously, by design).
 */
export async function routed(publisher: MqttClient, seen: () => boolean, probeTopic: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!seen()) {
    if (Date.now() > deadline) throw new Error(`no probe on ${probeTopic} arrived`);
    publisher.publish(probeTopic, 'probe', { qos: 0 });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A persistent session moving between nodes with work queued for it: `clientId` subscribes to
 * `<topic>/#` at QoS 1 on `home` and leaves; a publisher on `via` sends `count` QoS 1 messages
 * once the filter is known there; the client reconnects on `to`. Returns its CONNACK's Session
 * Present and the (still connected) client with the topics it has received, in order, once all
 * `count` arrived.
 */
export async function moveSession(
  clientId: string,
  topic: string,
  count: number,
  nodes: { home: Node; via: Node; to: Node },
): Promise<{ sessionPresent: boolean; client: MqttClient; got: string[] }> {
  const persistent: IClientOptions = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
  const first = await connectClient(nodes.home.url, { ...persistent, clean: true });
  await first.subscribeAsync(`${topic}/#`, { qos: 1 });
  await first.endAsync();
  const pub = await connectClient(nodes.via.url, { clientId: `${clientId}-pub` });
  // The offline session stays on its home node: that node's summary keeps the filter, so the
  // publisher's node forwards to the home node's stream.
  const probe = await connectClient(nodes.home.url, { clientId: `${clientId}-probe` });
  let probed = false;
  probe.on('message', () => {
    probed = true;
  });
  await probe.subscribeAsync(`${topic}/probe`, { qos: 0 });
  await routed(pub, () => probed, `${topic}/probe`);
  for (let i = 0; i < count; i++) await pub.publishAsync(`${topic}/${i}`, `${i}`, { qos: 1 });

  const got: string[] = [];
  const again = mqtt.connect(nodes.to.url, { ...persistent, protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(again);
  again.on('message', (t) => t !== `${topic}/probe` && got.push(t));
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    again.once('connect', resolve);
    again.once('error', reject);
  });
  await until(() => got.length >= count, 10_000, `the ${count} queued messages`);
  return { sessionPresent: connack.sessionPresent, client: again, got };
}

/**
 * A session taken over across nodes: `clientId` (persistent) subscribes to `<topic>/#` at QoS 1 on
 * `older`, then connects again on `newer`. Returns, once the older connection got its DISCONNECT,
 * that DISCONNECT's reason code, the milliseconds from the new CONNECT to it, the new CONNACK's
 * Session Present, and `delivered`: a publisher on `via` sends `<topic>/x` at QoS 1, resolving
 * once the newer connection has it (the subscription came along), rejecting after 10 s.
 */
export async function takeOver(
  clientId: string,
  topic: string,
  nodes: { older: Node; newer: Node; via: Node },
): Promise<{
  code: number | undefined;
  elapsedMs: number;
  sessionPresent: boolean;
  delivered: () => Promise<void>;
}> {
  const options: IClientOptions = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
  const older = await connectClient(nodes.older.url, options);
  await older.subscribeAsync(`${topic}/#`, { qos: 1 });
  const disconnected = new Promise<{ code: number | undefined; at: number }>((resolve) =>
    older.on('disconnect', (packet) => resolve({ code: packet.reasonCode, at: Date.now() })),
  );
  const started = Date.now();
  const newer = mqtt.connect(nodes.newer.url, { ...options, protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(newer);
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => newer.once('connect', resolve));
  const { code, at } = await disconnected;
  const delivered = async () => {
    const got: string[] = [];
    newer.on('message', (t) => got.push(t));
    const pub = await connectClient(nodes.via.url, { clientId: `${clientId}-pub` });
    await routed(pub, () => got.includes(`${topic}/probe`), `${topic}/probe`);
    await pub.publishAsync(`${topic}/x`, 'x', { qos: 1 });
    await until(() => got.includes(`${topic}/x`), 10_000, 'delivery to the newer connection');
  };
  return { code, elapsedMs: at - started, sessionPresent: connack.sessionPresent, delivered };
}
