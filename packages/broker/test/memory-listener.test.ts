import { Decoder, encode, type Packet } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { AllowAllHook, Broker, duplexPair, MemoryListener, silentLogger } from '../src/index.js';
import { until } from './helpers.js';

describe('MemoryListener', () => {
  it('serves MQTT over an in-memory duplex pair', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    broker.addHook(new AllowAllHook());
    const listener = new MemoryListener();
    await broker.addListener(listener);
    await broker.start();
    const stream = listener.connect();
    const decoder = new Decoder({ protocolVersion: 5 });
    const got: Packet[] = [];
    stream.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
    stream.write(
      encode({ type: 'connect', protocolVersion: 5, clientId: 'mem', clean: true, keepalive: 0 }, 5),
    );
    stream.write(
      encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'm/#', qos: 1 }] }, 5),
    );
    await until(() => got.length >= 2, 5000, 'CONNACK and SUBACK');
    broker.publish('m/x', 'hi', { qos: 1 });
    await until(() => got.length >= 3, 5000, 'the PUBLISH');
    expect(got.map((p) => p.type)).toEqual(['connack', 'suback', 'publish']);
    const publish = got[2] as Extract<Packet, { type: 'publish' }>;
    expect(Buffer.from(publish.payload).toString()).toBe('hi');
    await broker.close();
    await until(() => got.at(-1)?.type === 'disconnect', 5000, 'DISCONNECT');
    expect(got.at(-1)).toMatchObject({ type: 'disconnect', reasonCode: 0x8b });
  });
});

describe('start()', () => {
  it('fails cleanly when a listener cannot listen (port in use)', async () => {
    const { createServer } = await import('node:net');
    const { TcpListener } = await import('../src/index.js');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    await broker.addListener(new TcpListener({ port }));
    await expect(broker.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await broker.close();
    blocker.close();
  });

  it('closes its opened store when a listener cannot listen (no connection left holding the process)', async () => {
    const { createServer } = await import('node:net');
    const { MemoryStore, TcpListener } = await import('../src/index.js');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const store = new MemoryStore();
    let closed = 0;
    const close = store.close.bind(store);
    store.close = () => {
      closed++;
      return close();
    };
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, store });
    await broker.addListener(new TcpListener({ port }));
    await expect(broker.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(closed).toBe(1);
    blocker.close();
  });
});

describe('ConnectionInfo from a listener', () => {
  it('maxPacketSize is enforced by the decoder and announced in CONNACK; username replaces the CONNECT user name', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, maxPacketSize: 4096 });
    let seenUsername: string | undefined;
    broker.addHook({
      onConnectAuthenticate: (client) => {
        seenUsername = client.username;
        return true;
      },
    });
    broker.addHook(new AllowAllHook());
    await broker.start();
    const [server, peer] = duplexPair();
    broker.accept(server, {
      remoteAddress: 'memory:1',
      listener: 'custom',
      maxPacketSize: 100,
      username: 'cert-cn',
    });
    const decoder = new Decoder({ protocolVersion: 5 });
    const got: Packet[] = [];
    peer.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk)));
    peer.write(
      encode(
        {
          type: 'connect',
          protocolVersion: 5,
          clientId: 'info',
          clean: true,
          keepalive: 0,
          username: 'claimed',
        },
        5,
      ),
    );
    await until(() => got.length >= 1, 5000, 'CONNACK');
    expect(seenUsername).toBe('cert-cn');
    expect(broker.client('info')?.username).toBe('cert-cn');
    expect(got[0]).toMatchObject({ type: 'connack', reasonCode: 0, properties: { maximumPacketSize: 100 } });
    // 101 bytes: over the listener's limit though far below the broker's.
    const publish = encode(
      {
        type: 'publish',
        topic: 't',
        payload: Buffer.alloc(101 - 2 - 3 - 1),
        qos: 0,
        retain: false,
        dup: false,
      },
      5,
    );
    expect(publish.length).toBe(101);
    peer.write(publish);
    for (let i = 0; i < 100 && got.at(-1)?.type !== 'disconnect'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(got.at(-1)).toMatchObject({ type: 'disconnect', reasonCode: 0x95 });
    expect(broker.connectionCount).toBe(0);
    await broker.close();
  });
});
