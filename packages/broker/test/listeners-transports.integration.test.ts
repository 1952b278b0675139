import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, type Packet } from '@x/packets';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import {
  AllowAllHook,
  Broker,
  type BrokerOptions,
  ConnectionGate,
  type Hook,
  type Listener,
  NetServerListener,
  silentLogger,
  TlsListener,
  UnixListener,
  WebSocketListener,
} from '../src/index.js';
import { warnLog } from './helpers.js';
import { makeCertificates, type TestCertificates } from './listeners-fixtures.js';

/**
 * MQTT.js over a WebSocket opened here. Under vitest's module runner MQTT.js's own `require('ws')`
 * gets ws's ESM wrapper, whose default export lacks `createWebSocketStream`, so its WebSocket
 * transport cannot start; the MQTT side is still all MQTT.js.
 */
function connectWs(url: string, options: IClientOptions & { ca?: string } = {}): Promise<MqttClient> {
  const client = new MqttClient(
    () => createWebSocketStream(new WebSocket(url, ['mqtt'], options.ca ? { ca: options.ca } : {})),
    { reconnectPeriod: 0, ...options },
  );
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

/** The reason code of the DISCONNECT that ends `bytes` (a v5 byte stream from the broker). */
function finalDisconnect(bytes: Buffer): number | undefined {
  const packets: Packet[] = new Decoder({ protocolVersion: 5 }).push(bytes);
  const last = packets[packets.length - 1];
  return last?.type === 'disconnect' ? last.reasonCode : undefined;
}

async function startBroker(
  listener: Listener,
  hooks: Hook[] = [new AllowAllHook()],
  options: BrokerOptions = {},
): Promise<Broker> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, ...options });
  for (const hook of hooks) broker.addHook(hook);
  await broker.addListener(listener);
  await broker.start();
  return broker;
}

/** Subscribes, publishes to itself and returns what came back. */
async function roundTrip(client: MqttClient, topic: string): Promise<string> {
  await client.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<string>((resolve) =>
    client.once('message', (_t, payload) => resolve(String(payload))),
  );
  await client.publishAsync(topic, `hello ${topic}`, { qos: 1 });
  return received;
}

/** Resolves when the socket is closed by the server; rejects if it stays open for `ms`. */
function closedByServer(port: number, bytes?: Uint8Array, ms = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the connection open'));
    }, ms);
    socket.on('connect', () => bytes && socket.write(bytes));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A v5 CONNECT (clean start, client id `id`, no properties). */
function connectV5(id: string): Buffer {
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 0]);
  const payload = Buffer.concat([Buffer.from([0, id.length]), Buffer.from(id)]);
  return Buffer.concat([Buffer.from([0x10, variable.length + payload.length]), variable, payload]);
}

/** A v5 QoS 0 PUBLISH of `size` payload bytes. */
function publishV5(topic: string, size: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, topic.length]),
    Buffer.from(topic),
    Buffer.from([0]),
    Buffer.alloc(size),
  ]);
  const length = body.length < 128 ? [body.length] : [(body.length & 0x7f) | 0x80, body.length >> 7];
  return Buffer.concat([Buffer.from([0x30, ...length]), body]);
}

/** A CONNECT (v3.1.1, clean session, client id `id`). */
function connectBytes(id: string): Buffer {
  const payload = Buffer.concat([Buffer.from([0, id.length]), Buffer.from(id)]);
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60]);
  return Buffer.concat([Buffer.from([0x10, variable.length + payload.length]), variable, payload]);
}

describe('TLS listener', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeCertificates('device-42');
  });
  afterAll(() => certs.cleanup());

  it('serves MQTT over TLS with a certificate from files', async () => {
    const listener = new TlsListener({
      port: 0,
      certFile: certs.files.serverCert,
      keyFile: certs.files.serverKey,
    });
    const broker = await startBroker(listener);
    try {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${listener.port}`, {
        ca: certs.caCert,
        protocolVersion: 5,
      });
      expect(await roundTrip(client, 'tls/a')).toBe('hello tls/a');
      await client.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('uses the client certificate CN as user name and refuses clients without a certificate', async () => {
    const listener = new TlsListener({
      port: 0,
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.caCert,
      requestCert: true,
      cnAsUsername: true,
    });
    // The user name the hooks see is the certificate's CN: only device-42 may connect, and only
    // under its own topics.
    const certificateGate: Hook = {
      onConnectAuthenticate: (client) => client.username === 'device-42',
      onAclCheck: (client, topic) => topic.startsWith(`devices/${client.username}/`),
    };
    const broker = await startBroker(listener, [certificateGate]);
    try {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${listener.port}`, {
        ca: certs.caCert,
        cert: certs.clientCert,
        key: certs.clientKey,
        username: 'someone-else', // replaced by the certificate's CN
        protocolVersion: 5,
      });
      expect(broker.client(client.options.clientId!)?.username).toBe('device-42');
      expect(await roundTrip(client, 'devices/device-42/temp')).toBe('hello devices/device-42/temp');
      await expect(client.subscribeAsync('devices/other/#')).rejects.toThrow(/Not authorized/);
      await client.endAsync();

      const anonymous = mqtt.connect(`mqtts://127.0.0.1:${listener.port}`, {
        ca: certs.caCert,
        reconnectPeriod: 0,
        connectTimeout: 2000,
      });
      const outcome = await new Promise<string>((resolve) => {
        anonymous.once('connect', () => resolve('connected'));
        anonymous.once('error', (error) => resolve(`error: ${error.message}`));
        anonymous.once('close', () => resolve('closed'));
        setTimeout(() => resolve('no answer'), 5000);
      });
      anonymous.end(true);
      expect(outcome).toMatch(/^(closed|error)/);
    } finally {
      await broker.close();
    }
  });
});

describe('WebSocket listener', () => {
  it('serves MQTT on /mqtt with the mqtt subprotocol, v3.1.1 and v5', async () => {
    const listener = new WebSocketListener({ port: 0 });
    const broker = await startBroker(listener);
    try {
      for (const protocolVersion of [4, 5] as const) {
        const client = await connectWs(`ws://127.0.0.1:${listener.port}/mqtt`, { protocolVersion });
        expect(await roundTrip(client, `ws/${protocolVersion}`)).toBe(`hello ws/${protocolVersion}`);
        await client.endAsync();
      }
      const raw = new WebSocket(`ws://127.0.0.1:${listener.port}/mqtt`, ['mqtt']);
      await new Promise((resolve, reject) => {
        raw.once('open', resolve);
        raw.once('error', reject);
      });
      expect(raw.protocol).toBe('mqtt');
      raw.close();
      const wrongPath = new WebSocket(`ws://127.0.0.1:${listener.port}/other`, ['mqtt']);
      const status = await new Promise<number>((resolve) => {
        wrongPath.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        wrongPath.once('error', () => resolve(-1));
      });
      expect(status).toBe(404);
    } finally {
      await broker.close();
    }
  });

  it('takes the client address from X-Forwarded-For only when told to trust the proxy', async () => {
    const addresses: string[] = [];
    for (const trustProxy of [false, true]) {
      const listener = new WebSocketListener({ port: 0, trustProxy });
      const broker = await startBroker(listener);
      try {
        const socket = new WebSocket(`ws://127.0.0.1:${listener.port}/mqtt`, ['mqtt'], {
          headers: { 'x-forwarded-for': '10.1.2.3, 192.168.0.1' },
        });
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(connectV5(`proxied-${trustProxy}`));
        await new Promise((resolve) => socket.once('message', resolve));
        addresses.push(broker.client(`proxied-${trustProxy}`)?.remoteAddress ?? '');
        socket.close();
      } finally {
        await broker.close();
      }
    }
    expect(addresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(addresses[1]).toBe('10.1.2.3:0');
  });

  it('serves connections that arrive together before its WebSocket server exists (made by the first request)', async () => {
    const listener = new WebSocketListener({ port: 0 });
    const broker = await startBroker(listener);
    try {
      const sockets = Array.from(
        { length: 5 },
        () => new WebSocket(`ws://127.0.0.1:${listener.port}/mqtt`, ['mqtt']),
      );
      await Promise.all(
        sockets.map(
          (socket, i) =>
            new Promise((resolve, reject) => {
              socket.once('open', () => socket.send(connectV5(`together-${i}`)));
              socket.once('message', resolve);
              socket.once('error', reject);
            }),
        ),
      );
      for (let i = 0; i < sockets.length; i++) expect(broker.client(`together-${i}`)).toBeDefined();
      for (const socket of sockets) socket.close();
    } finally {
      await broker.close();
    }
  });

  it('refuses (503) a request whose WebSocket server was still loading when the listener closed', async () => {
    const listener = new WebSocketListener({ port: 0 });
    let accepted = 0;
    await listener.listen((stream) => {
      accepted++;
      stream.destroy();
    });
    // Close at the moment the request is admitted, before ws (loaded by the first request) is there.
    const admit = listener.gate.admit.bind(listener.gate);
    let closed: Promise<void> | undefined;
    listener.gate.admit = (socket) => {
      const refusal = admit(socket);
      closed = listener.close();
      return refusal;
    };
    const socket = new WebSocket(`ws://127.0.0.1:${listener.port}/mqtt`, ['mqtt']);
    const status = await new Promise<number>((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('open', () => reject(new Error('the WebSocket opened after close')));
      socket.once('error', reject);
    });
    expect(status).toBe(503);
    expect(accepted).toBe(0);
    await closed;
  });

  it('serves any path when configured so', async () => {
    const listener = new WebSocketListener({ port: 0, path: null });
    const broker = await startBroker(listener);
    try {
      const client = await connectWs(`ws://127.0.0.1:${listener.port}/anything/here`);
      expect(await roundTrip(client, 'ws/any')).toBe('hello ws/any');
      await client.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('serves secure WebSocket', async () => {
    const certs = makeCertificates();
    const listener = new WebSocketListener({
      port: 0,
      tls: { certFile: certs.files.serverCert, keyFile: certs.files.serverKey },
    });
    const broker = await startBroker(listener);
    try {
      expect(listener.address()).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/);
      const client = await connectWs(`wss://127.0.0.1:${listener.port}/mqtt`, {
        ca: certs.caCert,
        protocolVersion: 5,
      });
      expect(await roundTrip(client, 'wss/a')).toBe('hello wss/a');
      await client.endAsync();
    } finally {
      await broker.close();
      certs.cleanup();
    }
  });
});

describe('Unix socket listener', () => {
  it('serves MQTT on a socket file and removes it on close', async () => {
    const path = join(tmpdir(), `mqtt-${process.pid}-${Date.now()}.sock`);
    const listener = new UnixListener({ path });
    const broker = await startBroker(listener);
    try {
      const client = await mqtt.connectAsync({ protocol: 'mqtt', path, unixSocket: true } as IClientOptions);
      expect(await roundTrip(client, 'unix/a')).toBe('hello unix/a');
      await client.endAsync();
    } finally {
      await broker.close();
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });
});

describe('an existing net.Server', () => {
  it('takes the sockets of a server the host application owns', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const listener = new NetServerListener({ server });
    const broker = await startBroker(listener);
    try {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
      expect(await roundTrip(client, 'net/a')).toBe('hello net/a');
      await client.endAsync();
    } finally {
      await broker.close();
    }
    expect(server.listening).toBe(true); // the host app's server is its own to close
    await new Promise((resolve) => server.close(resolve));
  });

  it('can start the server itself and then closes it', async () => {
    const server = createServer();
    const listener = new NetServerListener({ server, listen: { port: 0, host: '127.0.0.1' } });
    const broker = await startBroker(listener);
    const port = (server.address() as { port: number }).port;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
    await client.endAsync();
    await broker.close();
    expect(server.listening).toBe(false);
  });
});

describe('per-listener limits', () => {
  it('closes connections beyond maxConnections, counts them and logs the first, then a summary', async () => {
    const server = createServer();
    const listener = new NetServerListener({
      id: 'limited',
      server,
      listen: { port: 0, host: '127.0.0.1' },
      maxConnections: 1,
    });
    const log = warnLog();
    const broker = await startBroker(listener, undefined, { logger: log });
    const port = (server.address() as { port: number }).port;
    try {
      const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      for (let i = 0; i < 4; i++) await closedByServer(port, connectBytes(`refused-${i}`));
      expect(listener.gate.refused).toBe(4);
      expect(broker.stats.connectionsRefused).toBe(4);
      // One line for the first refusal; the three after it wait for the window's summary.
      expect(log.lines.map((l) => l.message)).toEqual(['connection refused: maxConnections (1) reached']);
      expect(log.lines[0]!.fields).toMatchObject({
        listener: 'limited',
        reason: 'maxConnections (1) reached',
      });
      await first.endAsync();
      await new Promise((r) => setTimeout(r, 50));
      const third = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      await third.endAsync();
    } finally {
      await broker.close();
    }
    // Closing writes the summary still counted.
    expect(log.lines.map((l) => l.message)).toEqual([
      'connection refused: maxConnections (1) reached',
      '3 more connections refused in the last 10 s',
    ]);
    expect(log.lines[1]!.fields).toEqual({ refused: 3, reasons: { 'maxConnections (1) reached': 3 } });
  });

  it("counts and logs connections over the broker's own maxConnections", async () => {
    const server = createServer();
    const listener = new NetServerListener({ server, listen: { port: 0, host: '127.0.0.1' } });
    const log = warnLog();
    const broker = await startBroker(listener, undefined, { logger: log, maxConnections: 1 });
    const port = (server.address() as { port: number }).port;
    try {
      const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      await closedByServer(port, connectBytes('second'));
      expect(listener.gate.refused).toBe(0);
      expect(broker.stats.connectionsRefused).toBe(1);
      expect(log.lines.map((l) => l.message)).toEqual([
        "connection refused: the broker's maxConnections (1) reached",
      ]);
      await first.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('has no connection limit of its own unless given one (the broker-wide maxConnections applies)', () => {
    const gate = new ConnectionGate();
    let refused = 0;
    for (let i = 0; i < 200_000; i++) if (gate.take() !== undefined) refused++;
    expect(refused).toBe(0);
    expect(gate.open).toBe(200_000);
    expect(new ConnectionGate({ maxConnections: 2 }).take()).toBeUndefined();
  });

  it('closes connections beyond the connection rate', async () => {
    const listener = new WebSocketListener({ port: 0, connectionRate: 2 });
    const broker = await startBroker(listener);
    try {
      const opened: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${listener.port}/mqtt`, ['mqtt']);
        opened.push(
          await new Promise<boolean>((resolve) => {
            ws.once('open', () => {
              ws.close();
              resolve(true);
            });
            ws.once('unexpected-response', () => resolve(false));
            ws.once('error', () => resolve(false));
          }),
        );
      }
      expect(opened).toEqual([true, true, false]);
      expect(listener.gate.refused).toBe(1);
      expect(broker.stats.connectionsRefused).toBe(1);
    } finally {
      await broker.close();
    }
  });

  it('keeps packets over the listener limit from the broker: v5 DISCONNECT 0x95, limit announced in CONNACK', async () => {
    const server = createServer();
    const listener = new NetServerListener({
      server,
      listen: { port: 0, host: '127.0.0.1' },
      maxPacketSize: 200,
    });
    const broker = await startBroker(listener, [new AllowAllHook()]);
    const port = (server.address() as { port: number }).port;
    try {
      const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
      const connack = (
        watcher as unknown as { connackPacket: { properties?: { maximumPacketSize?: number } } }
      ).connackPacket;
      expect(connack.properties?.maximumPacketSize).toBe(200);
      await watcher.subscribeAsync('limit/#');
      const seen: string[] = [];
      watcher.on('message', (topic) => seen.push(topic));

      const raw = netConnect(port, '127.0.0.1');
      const received: Buffer[] = [];
      raw.on('data', (chunk) => received.push(chunk));
      const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
      await new Promise((resolve) => raw.once('connect', resolve));
      raw.write(connectV5('raw'));
      await new Promise((r) => setTimeout(r, 100));
      // A small PUBLISH and an oversized one in the same write: the first is delivered, the second never.
      raw.write(Buffer.concat([publishV5('limit/small', 10), publishV5('limit/big', 500)]));
      await closed;
      const bytes = Buffer.concat(received);
      expect(bytes[0]).toBe(0x20); // CONNACK
      expect(finalDisconnect(bytes)).toBe(0x95);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual(['limit/small']);
      await watcher.endAsync();
    } finally {
      await broker.close();
    }
  });

  it('guards TLS and WebSocket listeners too', async () => {
    const certs = makeCertificates();
    const tls = new TlsListener({
      port: 0,
      cert: certs.serverCert,
      key: certs.serverKey,
      maxPacketSize: 200,
    });
    const ws = new WebSocketListener({ port: 0, maxPacketSize: 200 });
    const broker = await startBroker(tls);
    await broker.addListener(ws);
    try {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${tls.port}`, {
        ca: certs.caCert,
        reconnectPeriod: 0,
      });
      expect(await roundTrip(client, 'small')).toBe('hello small');
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish('big', Buffer.alloc(500));
      await closed;
      client.end(true);

      const socket = new WebSocket(`ws://127.0.0.1:${ws.port}/mqtt`, ['mqtt']);
      const frames: Buffer[] = [];
      socket.on('message', (data) => frames.push(data as Buffer));
      const wsClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(connectV5('over-ws'));
      await new Promise((r) => setTimeout(r, 100));
      socket.send(publishV5('big', 500));
      await wsClosed;
      expect(frames[0]?.[0]).toBe(0x20); // CONNACK
      expect(finalDisconnect(Buffer.concat(frames))).toBe(0x95);
      expect(broker.connectedCount).toBe(0);
    } finally {
      await broker.close();
      certs.cleanup();
    }
  });
});
