import { fileURLToPath } from 'node:url';
import { freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

const child = fileURLToPath(new URL('./fixtures/node-child.ts', import.meta.url));

/** A cluster node process (fixtures/node-child.ts) listening on 127.0.0.1. */
export interface Node {
  id: string;
  url: string;
  server: SpawnedServer;
}

/**
 * Starts one node on `redis` with `prefix` and `leaseMs`; `env` adds variables the fixture reads
 * (`CLUSTER_TEST_REDIS_CLUSTER=1`, `CLUSTER_TEST_SYS_MS`).
 */
export async function startNode(
  redis: string,
  prefix: string,
  id: string,
  leaseMs: number,
  env: Record<string, string> = {},
): Promise<Node> {
  const port = await freePort();
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
    ],
    port,
    // Generous: several tsx processes starting at once on a loaded 2-core machine.
    readyTimeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { id, url: `mqtt://127.0.0.1:${port}`, server };
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
