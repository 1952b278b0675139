import { createServer, connect as netConnect, type Server } from 'node:net';
import { type RunningBroker, startBroker } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario } from '../src/options.js';

/** A TCP relay in front of the broker that records the source address of every client it relays. */
interface Relay {
  url: string;
  sources: string[];
  server: Server;
}

async function relay(target: { host: string; port: number }): Promise<Relay> {
  const sources: string[] = [];
  const server = createServer((client) => {
    sources.push(client.remoteAddress ?? '');
    const upstream = netConnect(target);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `tcp://127.0.0.1:${port}`, sources, server };
}

describe('spreading clients over brokers and source addresses', () => {
  let broker: RunningBroker;
  let publishers: Relay;
  let subscribers: Relay;
  beforeAll(async () => {
    broker = await startBroker();
    const port = Number(new URL(broker.url).port);
    publishers = await relay({ host: '127.0.0.1', port });
    subscribers = await relay({ host: '127.0.0.1', port });
  });
  afterAll(async () => {
    publishers?.server.close();
    subscribers?.server.close();
    await broker?.close();
  });

  it('connects publishers and subscribers to their own addresses, from the source addresses in turn', async () => {
    const r = await runScenario(
      resolveScenario('pub', {
        broker: broker.url,
        publisherBrokers: [publishers.url],
        subscriberBrokers: [subscribers.url],
        sourceAddresses: 2,
        publishers: 3,
        subscribers: 3,
        topics: 3,
        numMessages: 100,
        qos: 1,
        globalTimeoutMs: 20_000,
      }),
    );
    expect(r.problems).toEqual([]);
    expect(r.messages.received).toBe(300);
    expect(publishers.sources).toHaveLength(3);
    expect(subscribers.sources).toHaveLength(3);
    // 127.0.0.2 is a loopback address of its own on Linux: each has its own ephemeral ports.
    expect(
      new Set([...publishers.sources, ...subscribers.sources].map((a) => a.replace(/^::ffff:/, ''))),
    ).toEqual(new Set(['127.0.0.1', '127.0.0.2']));
  });
});
