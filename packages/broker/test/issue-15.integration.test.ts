import { encode, type Packet } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, Broker, type BrokerOptions, silentLogger, WebSocketListener } from '../src/index.js';
import { sleep, startTestBroker, type TestBroker, until } from './helpers.js';

// Regression tests for the hardening issue: every bound a client can push on holds, over real sockets.

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function broker(options: BrokerOptions = {}): Promise<TestBroker> {
  const b = await startTestBroker(options);
  cleanup.push(() => b.close());
  return b;
}

async function client(port: number, clientId: string, version: 3 | 4 | 5 = 5, extra: object = {}) {
  const c = await RawClient.open(port, version);
  cleanup.push(() => c.close());
  c.send({
    type: 'connect',
    protocolVersion: version,
    clientId,
    clean: true,
    keepalive: 0,
    ...extra,
  } as Packet);
  return c;
}

const publish = (topic: string, qos: 0 | 1 | 2, packetId?: number, extra: object = {}): Packet =>
  ({
    type: 'publish',
    topic,
    payload: Buffer.from('x'),
    qos,
    retain: false,
    dup: false,
    packetId,
    ...extra,
  }) as Packet;

describe('memory a client can grow is bounded in bytes', () => {
  it('topic aliases: past maxTopicAliasBytes the client is disconnected with 0x97', async () => {
    const b = await broker({ maxTopicAliasBytes: 1000 });
    const c = await client(b.port, 'aliases');
    expect((await c.expect('connack')).properties?.topicAliasMaximum).toBe(10);
    c.send(publish('a'.repeat(600), 0, undefined, { properties: { topicAlias: 1 } }));
    c.send(publish('b'.repeat(600), 0, undefined, { properties: { topicAlias: 2 } }));
    expect((await c.expect('disconnect')).reasonCode).toBe(0x97);
    await c.waitClosed();
  });

  it('an offline session queue is bounded by maxQueuedBytes as well as by count', async () => {
    const b = await broker({ maxQueuedBytes: 10_000 });
    const sub = await client(b.port, 'offline', 5, {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await sub.expect('connack');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'q/#', qos: 1 }] });
    await sub.expect('suback');
    sub.close();
    await until(() => b.broker.client('offline') === undefined);
    for (let i = 0; i < 10; i++) b.broker.publish('q/t', Buffer.alloc(3000), { qos: 1 });
    expect(b.broker.sessions.get('offline')?.queuedCount).toBe(3);
    expect(b.broker.stats.publishDropped).toBe(7);
  });

  it('a QoS 1 PUBLISH no recipient can queue is answered 0x97, not acknowledged; the drop is counted for the session', async () => {
    const b = await broker({ maxQueuedMessages: 2 });
    const sub = await client(b.port, 'full', 5, { clean: false, properties: { sessionExpiryInterval: 60 } });
    await sub.expect('connack');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'full/#', qos: 1 }] });
    await sub.expect('suback');
    sub.close();
    await until(() => b.broker.client('full') === undefined);
    const pub = await client(b.port, 'pub-full');
    await pub.expect('connack');
    const codes: number[] = [];
    for (let i = 1; i <= 3; i++) {
      pub.send(publish('full/t', 1, i));
      codes.push((await pub.expect('puback')).reasonCode ?? 0);
    }
    expect(codes).toEqual([0, 0, 0x97]);
    expect(b.broker.sessions.get('full')?.droppedCount).toBe(1);
  });

  it('retained messages are bounded by maxRetainedBytes', async () => {
    const b = await broker({ maxRetainedBytes: 5000 });
    for (let i = 0; i < 4; i++) b.broker.publish(`r/${i}`, Buffer.alloc(2000), { retain: true });
    expect(b.broker.retained.size).toBe(2);
    b.broker.publish('r/0', Buffer.alloc(10), { retain: true }); // shrinking one is always possible
    b.broker.publish('r/2', Buffer.alloc(2000), { retain: true });
    expect(b.broker.retained.size).toBe(3);
  });

  it('topic levels past maxTopicLevels are refused: PUBACK 0x90, SUBACK 0x8F', async () => {
    const b = await broker({ maxTopicLevels: 4 });
    const c = await client(b.port, 'levels');
    await c.expect('connack');
    c.send(publish('a/b/c/d/e', 1, 1));
    expect((await c.expect('puback')).reasonCode).toBe(0x90);
    c.send({ type: 'subscribe', packetId: 2, subscriptions: [{ topicFilter: 'a/b/c/d/#', qos: 0 }] });
    expect((await c.expect('suback')).reasonCodes).toEqual([0x8f]);
    c.send(publish('a/b/c/d', 1, 3));
    expect((await c.expect('puback')).reasonCode ?? 0).toBe(0);
  });

  it('sessions are bounded by maxSessions: the one too many gets CONNACK 0x97', async () => {
    const b = await broker({ maxSessions: 2 });
    for (const id of ['s1', 's2']) await (await client(b.port, id)).expect('connack');
    const third = await client(b.port, 's3');
    expect((await third.expect('connack')).reasonCode).toBe(0x97);
  });

  it('sessions that ask never to expire get neverExpireAfter (v5 told in CONNACK)', async () => {
    const b = await broker({ neverExpireAfter: 3600 });
    const c = await client(b.port, 'forever', 5, { properties: { sessionExpiryInterval: 0xffffffff } });
    expect((await c.expect('connack')).properties?.sessionExpiryInterval).toBe(3600);
  });
});

describe('WebSocket listener', () => {
  it('caps frames at the packet size and refuses pages from origins not allowed', async () => {
    const b = new Broker({ logger: silentLogger, sysInterval: 0, maxPacketSize: 4096 });
    b.addHook(new AllowAllHook());
    const ws = new WebSocketListener({
      port: 0,
      maxPacketSize: 4096,
      allowedOrigins: ['https://app.example'],
    });
    await b.addListener(ws);
    await b.start();
    cleanup.push(() => b.close());
    const url = `ws://127.0.0.1:${ws.port}/mqtt`;
    const status = (origin?: string) =>
      new Promise<string>((resolve) => {
        const s = new WebSocket(url, ['mqtt'], origin ? { origin } : {});
        s.on('open', () => {
          s.close();
          resolve('open');
        });
        s.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        s.on('error', () => resolve('error'));
      });
    expect(await status('https://evil.example')).toBe('403');
    expect(await status('https://app.example')).toBe('open');
    expect(await status()).toBe('open'); // not a browser: no Origin
    // A 100 KiB frame before CONNECT is refused by ws (1009) instead of being buffered.
    const code = await new Promise<number>((resolve) => {
      const s = new WebSocket(url, ['mqtt']);
      s.on('open', () => s.send(Buffer.alloc(100 * 1024)));
      s.on('close', (c) => resolve(c));
    });
    expect(code).toBe(1009);
  });
});

describe('no forged $SYS, no stolen sessions', () => {
  it('client publishes to $SYS/… are refused (0x87) and never retained', async () => {
    const b = await broker();
    const c = await client(b.port, 'forger');
    await c.expect('connack');
    c.send({ ...publish('$SYS/broker/clients/connected', 1, 1), retain: true } as Packet);
    expect((await c.expect('puback')).reasonCode).toBe(0x87);
    expect(b.broker.retained.get('$SYS/broker/clients/connected')).toBeUndefined();
  });

  it('bindClientIdToUsername: another user cannot take over a session', async () => {
    const b = await broker({ bindClientIdToUsername: true });
    const alice = await client(b.port, 'device', 5, { username: 'alice' });
    await alice.expect('connack');
    const mallory = await client(b.port, 'device', 5, { username: 'mallory' });
    expect((await mallory.expect('connack')).reasonCode).toBe(0x87);
    expect(alice.closed).toBe(false);
  });
});

describe('shutdown and conformance', () => {
  it('on close, the wills of connected clients reach a live subscriber before it is disconnected', async () => {
    const b = await startTestBroker();
    const watcher = await client(b.port, 'watcher');
    await watcher.expect('connack');
    watcher.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'will/#', qos: 0 }] });
    await watcher.expect('suback');
    for (let i = 0; i < 10; i++) {
      const c = await client(b.port, `w${i}`, 4, {
        will: { topic: `will/${i}`, payload: Buffer.from('gone'), qos: 0, retain: false },
      });
      await c.expect('connack');
    }
    await b.close();
    const wills = watcher.received.filter((p) => p.type === 'publish');
    expect(wills.length).toBe(10);
  });

  it('MQTT 3.1: an empty client id is refused with return code 2; CONNACK has no Session Present; PUBREL may carry DUP', async () => {
    const b = await broker();
    const empty = await client(b.port, '', 3);
    expect((await empty.expect('connack')).reasonCode).toBe(2);
    const first = await client(b.port, 'old31', 3, { clean: false });
    await first.expect('connack');
    first.close();
    await until(() => b.broker.client('old31') === undefined);
    const again = await RawClient.open(b.port, 3);
    cleanup.push(() => again.close());
    const bytes: number[] = [];
    again.socket.on('data', (chunk: Buffer) => bytes.push(...chunk));
    again.send({ type: 'connect', protocolVersion: 3, clientId: 'old31', clean: false, keepalive: 0 });
    await again.expect('connack');
    expect(bytes.slice(0, 4)).toEqual([0x20, 2, 0, 0]); // byte 3 reserved: no Session Present
    again.send(publish('q2/t', 2, 7));
    await again.expect('pubrec');
    const pubrel = Buffer.from(encode({ type: 'pubrel', packetId: 7 }, 3));
    pubrel[0] = pubrel[0]! | 0x08; // DUP, as a 3.1 client sets it on a re-sent PUBREL
    again.sendBytes(pubrel);
    expect((await again.expect('pubcomp')).packetId).toBe(7);
  });

  it('an acknowledgement of the wrong kind for a packet id is a protocol error (DISCONNECT 0x82)', async () => {
    const b = await broker();
    const c = await client(b.port, 'wrong-ack');
    await c.expect('connack');
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'k/#', qos: 2 }] });
    await c.expect('suback');
    b.broker.publish('k/1', 'x', { qos: 1 });
    const p = await c.expect('publish');
    c.send({ type: 'pubcomp', packetId: p.packetId! });
    expect((await c.expect('disconnect')).reasonCode).toBe(0x82);
    const d = await client(b.port, 'wrong-ack-2');
    await d.expect('connack');
    d.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'k2/#', qos: 2 }] });
    await d.expect('suback');
    b.broker.publish('k2/1', 'x', { qos: 2 });
    const q = await d.expect('publish');
    d.send({ type: 'puback', packetId: q.packetId! });
    expect((await d.expect('disconnect')).reasonCode).toBe(0x82);
  });

  it('protocol-violation warnings are rate-limited', async () => {
    const lines: string[] = [];
    const logger = { ...silentLogger, warn: (_o: object, msg: string) => void lines.push(msg) };
    const b = await broker({ logger } as BrokerOptions);
    for (let i = 0; i < 60; i++) {
      const c = await RawClient.open(b.port, 5);
      cleanup.push(() => c.close());
      c.sendBytes([0x30, 0x00]); // PUBLISH before CONNECT
    }
    await sleep(300);
    expect(lines.filter((l) => l.startsWith('protocol violation')).length).toBeLessThanOrEqual(40);
  });
});
