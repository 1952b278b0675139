import { freePort, type RunningBroker, startBroker } from '@x/test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';

const fast = { initialDelay: 30, maxDelay: 150 } as const;

/** `servers`: two real brokers (our broker, twice), one of them stopped. */
describe('servers failover against two brokers', () => {
  const running: RunningBroker[] = [];
  const start = async (port?: number) => {
    const broker = await startBroker(port === undefined ? {} : { port });
    running.push(broker);
    return broker;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((b) => b.close()));
  });

  it('connects to the second server when the first is down', async () => {
    const down = `mqtt://127.0.0.1:${await freePort()}`;
    const up = await start();
    const client = await connect(down, { servers: [up.url], reconnect: fast });
    expect(client.url).toBe(up.url);
    const echo = new Promise<string>((resolve) => client.on('message', (m) => resolve(m.text())));
    await client.subscribe('failover/a', { qos: 1 });
    await client.publish('failover/a', 'via the second', { qos: 1 });
    expect(await echo).toBe('via the second');
    await client.end();
  });

  it("takes MQTT.js's { host, port } form without a URL", async () => {
    const downPort = await freePort();
    const up = await start();
    const client = await connect({
      servers: [
        { host: '127.0.0.1', port: downPort },
        { host: '127.0.0.1', port: up.port },
      ],
    });
    expect(client.url).toBe(`mqtt://127.0.0.1:${up.port}`);
    await client.end();
  });

  it('fails over to the other server when its broker stops, and publishes reach it', async () => {
    const a = await start();
    const b = await start();
    const watcher = await connect(b.url);
    const seen: string[] = [];
    watcher.on('message', (m) => seen.push(m.text()));
    await watcher.subscribe('failover/b', { qos: 1 });

    const client = await connect(a.url, { servers: [b.url], reconnect: fast, protocolVersion: 5 });
    expect(client.url).toBe(a.url);
    const rounds: number[] = [];
    client.on('reconnect', ({ attempt }) => rounds.push(attempt));
    const moved = new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await a.close();
    running.splice(running.indexOf(a), 1);
    // Published while the client is between servers: queued, then sent to the one it reaches.
    const published = client.publish('failover/b', 'after the failover', { qos: 1 });
    await moved;
    expect(client.url).toBe(b.url);
    expect(rounds.length).toBeGreaterThan(0);
    await published;
    await expect.poll(() => seen).toEqual(['after the failover']);
    await client.end();
    await watcher.end();
  });

  it('retried rounds reach a second server that comes up later, and wrap around to the first', async () => {
    const portA = await freePort();
    const portB = await freePort();
    const urlA = `mqtt://127.0.0.1:${portA}`;
    const pending = connect(urlA, {
      servers: [`mqtt://127.0.0.1:${portB}`],
      retryFirstConnect: true,
      reconnect: fast,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const b = await start(portB);
    const client = await pending;
    expect(client.url).toBe(b.url);
    // B goes away and A comes up: the next rounds start at B, fail there, and go on to A.
    await start(portA);
    const back = new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await b.close();
    running.splice(running.indexOf(b), 1);
    await back;
    expect(client.url).toBe(urlA);
    await client.end();
  });
});
