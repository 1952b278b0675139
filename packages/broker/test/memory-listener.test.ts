import { Decoder, encode, type Packet } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { AllowAllHook, Broker, MemoryListener, silentLogger } from '../src/index.js';

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
    await new Promise((r) => setTimeout(r, 20));
    broker.publish('m/x', 'hi', { qos: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(got.map((p) => p.type)).toEqual(['connack', 'suback', 'publish']);
    const publish = got[2] as Extract<Packet, { type: 'publish' }>;
    expect(Buffer.from(publish.payload).toString()).toBe('hi');
    await broker.close();
    await new Promise((r) => setTimeout(r, 20));
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
});
