import { type RunningRedis, requireServer, startRedis, until } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient as client, clients, type Node, startNodes, stopAll } from './nodes.js';

const redisServer = requireServer('redis-server');
const LEASE_MS = 1500;

describe.skipIf(redisServer.skip)('wills of a node killed with kill -9, with Will Delay Interval', () => {
  let redis: RunningRedis;
  let a: Node;
  let b: Node;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await startNodes(redis.url, 'wd:', ['will-a', 'will-b'], LEASE_MS);
  }, 60_000);

  afterAll(() => stopAll([a, b], redis));

  it('are published by the surviving node once the lease ends: after their delay, at once when the session ends, never when the client came back', async () => {
    const will = (name: string, willDelayInterval: number) => ({
      topic: `wills/${name}`,
      payload: Buffer.from(name),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval },
    });
    const persistent = { clean: false, properties: { sessionExpiryInterval: 300 } };
    // Persistent session, 2 s delay: due 2 s after the survivor takes the session over.
    await client(b.url, { clientId: 'delayed', ...persistent, will: will('delayed', 2) });
    // Persistent session, 3 s delay, but the client is back (on A) before that: no will [MQTT-3.1.3-9].
    await client(b.url, { clientId: 'returner', ...persistent, will: will('returner', 3) });
    // Session Expiry 0: the session ends with the node, so the will goes at once despite its 30 s.
    await client(b.url, { clientId: 'ended', will: will('ended', 30) });

    const watcher = await client(a.url, { clientId: 'will-watcher' });
    const arrived = new Map<string, number[]>();
    watcher.on('message', (topic) => arrived.set(topic, [...(arrived.get(topic) ?? []), Date.now()]));
    await watcher.subscribeAsync('wills/#', { qos: 1 });

    b.server.process.kill('SIGKILL');
    await new Promise((r) => b.server.process.once('exit', r));
    const killedAt = Date.now();
    const back = mqtt.connect(a.url, {
      clientId: 'returner',
      ...persistent,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    clients.push(back);
    back.on('error', () => {});
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) =>
      back.once('connect', resolve),
    );
    expect(connack.sessionPresent).toBe(true);

    await until(
      () => arrived.has('wills/ended') && arrived.has('wills/delayed'),
      20_000,
      'the wills of the dead node',
    );
    const ended = arrived.get('wills/ended')![0]!;
    const delayed = arrived.get('wills/delayed')![0]!;
    expect(delayed - killedAt).toBeGreaterThanOrEqual(2000);
    // Both from the adoption: the delayed one its Will Delay Interval later (less scheduling slack).
    expect(delayed - ended).toBeGreaterThanOrEqual(1500);
    // Past the returner's 3 s, had it been kept: nothing more comes.
    await new Promise((r) => setTimeout(r, 2500));
    expect([...arrived.keys()].sort()).toEqual(['wills/delayed', 'wills/ended']);
    expect([...arrived.values()].map((times) => times.length)).toEqual([1, 1]);
  }, 60_000);
});
