import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TlsListener, UnixListener, WebSocketListener } from '@x/broker';
import { type RunningBroker, requireServer, startBroker, startMosquitto } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, connect, type Message } from '../src/index.js';

const openssl = requireServer('openssl');
const mosquitto = requireServer('mosquitto');

async function roundTrip(client: Client, topic: string): Promise<string> {
  const got = new Promise<Message>((resolve) => client.on('message', resolve));
  await client.subscribe(topic, { qos: 1 });
  await client.publish(topic, `over ${topic}`, { qos: 1 });
  return (await got).text();
}

/** Every transport of the Node build, against listeners of our broker. */
describe('transports against our broker', () => {
  let broker: RunningBroker;
  let dir: string;
  let wsPort: number;
  let tlsPort = 0;
  let socketPath: string;
  let cert = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-transports-'));
    broker = await startBroker();
    const ws = new WebSocketListener({ host: '127.0.0.1', port: 0, path: '/mqtt' });
    await broker.broker.addListener(ws);
    wsPort = ws.port;
    socketPath = join(dir, 'mqtt.sock');
    await broker.broker.addListener(new UnixListener({ path: socketPath }));
    if (!openssl.skip) {
      execFileSync(
        openssl.path as string,
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const tls = new TlsListener({
        host: '127.0.0.1',
        port: 0,
        cert,
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      });
      await broker.broker.addListener(tls);
      tlsPort = tls.port;
    }
  });
  afterAll(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ws:// (the ws package, subprotocol mqtt)', async () => {
    const client = await connect(`ws://127.0.0.1:${wsPort}/mqtt`);
    expect(await roundTrip(client, 'via/ws')).toBe('over via/ws');
    await client.end();
  });

  it('a Unix socket path and unix:// URL', async () => {
    for (const url of [socketPath, `unix://${socketPath}`]) {
      const client = await connect(url, { protocolVersion: 4 });
      expect(await roundTrip(client, 'via/unix')).toBe('over via/unix');
      await client.end();
    }
  });

  it.skipIf(openssl.skip)(`mqtts:// with the server certificate as CA ${openssl.reason}`, async () => {
    const client = await connect(`mqtts://localhost:${tlsPort}`, { ca: cert });
    expect(await roundTrip(client, 'via/tls')).toBe('over via/tls');
    await client.end();
    const refused = await connect(`mqtts://localhost:${tlsPort}`, { reconnect: false }).catch(
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'TRANSPORT_ERROR' });
  });

  // Streams make the client pause reading for a moment after each read of 8+ messages
  // (gatherReads): every pause must resume, on each kind of socket, and nothing may be lost.
  it('a stream of 20 000 messages arrives whole and in order over TCP, Unix, WebSocket and TLS', async () => {
    const urls = [
      broker.url,
      socketPath,
      `ws://127.0.0.1:${wsPort}/mqtt`,
      ...(openssl.skip ? [] : [`mqtts://localhost:${tlsPort}`]),
    ];
    for (const url of urls) {
      const sub = await connect(url, { ca: cert || undefined });
      const pub = await connect(broker.url);
      const topic = `stream/${url.length}`;
      await sub.subscribe(topic);
      const count = 20_000;
      let next = 0;
      let disorder = 0;
      const all = new Promise<void>((resolve) =>
        sub.on('message', (m) => {
          if (new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0) !== next) disorder++;
          if (++next === count) resolve();
        }),
      );
      for (let i = 0; i < count; i++) {
        const payload = Buffer.alloc(16);
        payload.writeUInt32BE(i, 0);
        void pub.publish(topic, payload);
      }
      await all;
      expect(disorder).toBe(0);
      await Promise.all([sub.end(), pub.end()]);
    }
  });
});

describe.skipIf(mosquitto.skip)(
  `MQTT 3.1 and the will message, against Mosquitto ${mosquitto.reason}`,
  () => {
    it('speaks MQTT 3.1 (protocol level 3) on request', async () => {
      const broker = await startMosquitto();
      try {
        const client = await connect(broker.url, { protocolVersion: 3 });
        expect(await roundTrip(client, 'via/v3')).toBe('over via/v3');
        await client.end();
      } finally {
        await broker.stop();
      }
    });

    it('the server publishes the will when the connection dies without DISCONNECT', async () => {
      const broker = await startMosquitto();
      try {
        const watcher = await connect(broker.url);
        const will = new Promise<Message>((resolve) => watcher.on('message', resolve));
        await watcher.subscribe('wills/#', { qos: 1 });
        let socket: { destroy(): void } | undefined;
        const dying = await connect(broker.url, {
          will: { topic: 'wills/dying', payload: 'gone', qos: 1, properties: { contentType: 'text/plain' } },
          reconnect: false,
          transport: async (endpoint, options, handlers) => {
            const { openNodeTransport } = await import('../src/index.js');
            const transport = await openNodeTransport(endpoint, options, handlers);
            socket = transport;
            return transport;
          },
        });
        expect(dying.connected).toBe(true);
        socket?.destroy();
        const message = await will;
        expect([message.topic, message.text(), message.properties?.contentType]).toEqual([
          'wills/dying',
          'gone',
          'text/plain',
        ]);
        await watcher.end();
        await dying.end();
      } finally {
        await broker.stop();
      }
    });
  },
);
