import { connect as connectX, type Message as XMessage } from '@x/client';
import { type RunningRedis, requireServer, startRedis, until } from '@x/test-helpers';
import mqtt, { type IClientOptions, type IPublishPacket } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient as client,
  clients,
  moveSession,
  type Node,
  routed,
  startNodes,
  stopAll,
  takeOver,
} from './nodes.js';

const redisServer = requireServer('redis-server');
const PREFIX = 'ct:';
const LEASE_MS = 1500;

describe.skipIf(redisServer.skip)('a cluster of three broker processes on one Redis', () => {
  let redis: RunningRedis;
  let a: Node;
  let b: Node;
  let c: Node;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b, c] = await startNodes(redis.url, PREFIX, ['node-a', 'node-b', 'node-c'], LEASE_MS);
  }, 60_000);

  afterAll(() => stopAll([a, b, c], redis));

  it('delivers QoS 0, 1 and 2 across nodes, each message exactly once, with QoS downgrade and subscription identifiers', async () => {
    const N = 200;
    // MQTT.js on B (subscription identifier 7), our client on C, a local v3.1.1 subscriber on A.
    const onB = await client(b.url, { clientId: 'cross-b' });
    const onA = await client(a.url, { clientId: 'cross-a', protocolVersion: 4 });
    const onC = await connectX(c.url, { protocolVersion: 5, clientId: 'cross-c' });
    const got = { b: [] as IPublishPacket[], a: [] as IPublishPacket[], c: [] as XMessage[] };
    onB.on('message', (_t, _p, packet) => got.b.push(packet));
    onA.on('message', (_t, _p, packet) => got.a.push(packet));
    onC.on('message', (m) => got.c.push(m));
    await onB.subscribeAsync('cross/#', { qos: 2, properties: { subscriptionIdentifier: 7 } });
    await onA.subscribeAsync('cross/#', { qos: 2 });
    await onC.subscribe('cross/#', { qos: 1 });
    const pub = await client(a.url, { clientId: 'cross-pub' });
    const real = (p: { topic: string }) => p.topic !== 'cross/probe';
    await routed(pub, () => got.b.some((p) => !real(p)) && got.c.some((m) => !real(m)), 'cross/probe');

    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      for (const qos of [0, 1, 2] as const) sends.push(pub.publishAsync(`cross/q${qos}`, `${i}`, { qos }));
    }
    await Promise.all(sends);
    const count = (list: Array<{ topic: string }>, topic: string) =>
      list.filter((p) => p.topic === topic).length;
    await until(
      () =>
        (['a', 'b', 'c'] as const).every((k) =>
          [0, 1, 2].every((q) => count(got[k].filter(real), `cross/q${q}`) >= N),
        ),
      20_000,
      'every message on every node',
    );
    await new Promise((r) => setTimeout(r, 300)); // duplicates, if any, would arrive now
    for (const k of ['a', 'b', 'c'] as const) {
      for (const q of [0, 1, 2]) {
        const payloads = got[k]
          .filter((p) => p.topic === `cross/q${q}`)
          .map((p) => String(Buffer.from(p.payload as Uint8Array)));
        expect(payloads, `${k} q${q}`).toHaveLength(N);
        // Per publisher and QoS, in order [MQTT-4.6.0-5]
        expect(payloads).toEqual(Array.from({ length: N }, (_, i) => `${i}`));
      }
    }
    expect(got.b.filter(real).every((p) => p.properties?.subscriptionIdentifier === 7)).toBe(true);
    expect(got.b.filter((p) => p.topic === 'cross/q2').every((p) => p.qos === 2)).toBe(true);
    // Granted QoS 1 on C: QoS 2 messages arrive at QoS 1 [MQTT-3.8.4-8]
    expect(got.c.filter((m) => m.topic === 'cross/q2').every((m) => m.qos === 1)).toBe(true);
    await onC.end();
  });

  it('keeps retained messages cluster-wide, with Retain As Published per subscription', async () => {
    const pub = await client(a.url, { clientId: 'ret-pub' });
    await pub.publishAsync('ret/x', 'kept', { qos: 1, retain: true });
    // A subscriber on C that arrives later gets it (the change reaches every node's memory).
    let retained: IPublishPacket | undefined;
    const deadline = Date.now() + 10_000;
    while (retained === undefined && Date.now() < deadline) {
      const late = await client(c.url, { clientId: `ret-late-${Date.now()}` });
      late.on('message', (_t, _p, packet) => {
        retained = packet;
      });
      await late.subscribeAsync('ret/#', { qos: 1 });
      await new Promise((r) => setTimeout(r, 200));
      late.end(true);
    }
    expect(retained?.retain).toBe(true);
    expect(String(retained?.payload)).toBe('kept');

    const rap = await client(b.url, { clientId: 'rap-b' });
    const plain = await client(c.url, { clientId: 'rap-c' });
    const flags: Record<string, boolean[]> = { rap: [], plain: [] };
    rap.on('message', (t, _p, packet) => t === 'rap/x' && flags.rap!.push(packet.retain));
    plain.on('message', (t, _p, packet) => t === 'rap/x' && flags.plain!.push(packet.retain));
    const probes = { rap: false, plain: false };
    rap.on('message', (t) => {
      if (t === 'rap/probe') probes.rap = true;
    });
    plain.on('message', (t) => {
      if (t === 'rap/probe') probes.plain = true;
    });
    await rap.subscribeAsync('rap/#', { qos: 1, rap: true });
    await plain.subscribeAsync('rap/#', { qos: 1, rap: false });
    await routed(pub, () => probes.rap && probes.plain, 'rap/probe');
    await pub.publishAsync('rap/x', 'live', { qos: 1, retain: true });
    await until(() => flags.rap!.length === 1 && flags.plain!.length === 1, 10_000, 'both deliveries');
    // [MQTT-3.3.1-12] [MQTT-3.3.1-13]
    expect(flags).toEqual({ rap: [true], plain: [false] });
  });

  it('resumes a session on another node with what was queued for it, and routes to its new node', async () => {
    const { sessionPresent, got } = await moveSession('mover', 'move', 50, { home: a, via: b, to: c });
    expect(sessionPresent).toBe(true);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `move/${i}`));

    // Now C holds it: a message published on A reaches it there.
    const fromA = await client(a.url, { clientId: 'move-pub-a' });
    await fromA.publishAsync('move/late', 'late', { qos: 1 });
    await until(() => got.includes('move/late'), 10_000, 'the message published after the move');
    expect(got.filter((t) => t === 'move/late')).toHaveLength(1);
  });

  it('takes a session over across nodes: the older connection gets DISCONNECT 0x8E within a second', async () => {
    const takeover = await takeOver('twin', 'twin', { older: a, newer: b, via: c });
    expect(takeover.code).toBe(0x8e); // [MQTT-3.1.4-3]
    expect(takeover.elapsedMs).toBeLessThan(1000);
    expect(takeover.sessionPresent).toBe(true);
    // The subscription came along.
    await takeover.delivered();
  });

  it('balances a shared subscription across nodes: each message reaches exactly one member', async () => {
    const N = 40;
    const members = [
      await client(a.url, { clientId: 'share-a' }),
      await client(b.url, { clientId: 'share-b' }),
    ];
    const got: string[][] = [[], []];
    const probed = [false, false];
    for (const [i, m] of members.entries()) {
      m.on('message', (t, p) => {
        if (t === 'sh/x') got[i]!.push(String(p));
        else probed[i] = true;
      });
    }
    for (const m of members) await m.subscribeAsync('$share/g/sh/#', { qos: 1 });
    const pub = await client(c.url, { clientId: 'share-pub' });
    // Round robin over the nodes: probes reach both members once both nodes are known.
    await routed(pub, () => probed[0]! && probed[1]!, 'sh/probe');
    for (let i = 0; i < N; i++) await pub.publishAsync('sh/x', String(i), { qos: 1 });
    await until(() => got[0]!.length + got[1]!.length >= N, 10_000, 'every shared message');
    await new Promise((r) => setTimeout(r, 300)); // a second copy, if any, would arrive now
    const all = [...got[0]!, ...got[1]!].map(Number).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: N }, (_, i) => i)); // [MQTT-4.8.2] one member each
    expect(got[0]!.length).toBeGreaterThanOrEqual(N / 4);
    expect(got[1]!.length).toBeGreaterThanOrEqual(N / 4);
  });

  it('loses no acknowledged QoS 1 message when the subscriber’s node is killed mid-stream, and publishes its clients’ wills', async () => {
    const TOTAL = 1500;
    const sinkOptions: IClientOptions = {
      clientId: 'sink',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const sink = await client(c.url, sinkOptions);
    const received = new Set<number>();
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic === 'kill/n') received.add(Number(String(payload)));
    };
    sink.on('message', onMessage);
    await sink.subscribeAsync('kill/#', { qos: 1 });
    const mortal = await client(c.url, {
      clientId: 'mortal',
      will: { topic: 'will/mortal', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    void mortal;
    const watcher = await client(a.url, { clientId: 'watcher' });
    const wills: string[] = [];
    watcher.on('message', (t, p) => t === 'will/mortal' && wills.push(String(p)));
    await watcher.subscribeAsync('will/#', { qos: 1 });

    const pub = await client(a.url, { clientId: 'kill-pub', protocolVersion: 4 });
    let probed = false;
    sink.on('message', (t) => {
      if (t === 'kill/probe') probed = true;
    });
    await routed(pub, () => probed, 'kill/probe');
    // Up to 20 unacknowledged at a time, numbers recorded when acknowledged.
    const acked = new Set<number>();
    let next = 0;
    const pump = async () => {
      const window = new Set<Promise<void>>();
      while (next < TOTAL) {
        const n = next++;
        const p = pub.publishAsync('kill/n', String(n), { qos: 1 }).then(
          () => {
            acked.add(n);
          },
          () => {},
        );
        const tracked = p.finally(() => window.delete(tracked));
        window.add(tracked);
        if (window.size >= 20) await Promise.race(window);
      }
      await Promise.all(window);
    };
    const pumping = pump();
    await until(() => acked.size >= 300, 20_000, '300 acknowledged');
    c.server.process.kill('SIGKILL');
    await new Promise((r) => c.server.process.once('exit', r));
    await pumping;
    expect(acked.size).toBe(TOTAL);

    // The sink comes back on B: its session (and C's unread stream) is adopted once C's lease ends.
    sink.removeAllListeners('message');
    const back = mqtt.connect(b.url, { ...sinkOptions, protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(back);
    back.on('message', onMessage);
    back.on('error', () => {});
    await new Promise((resolve) => back.once('connect', resolve));
    await until(() => [...acked].every((n) => received.has(n)), 20_000, 'every acknowledged message');
    await until(() => wills.length > 0, 10_000, "the will of the dead node's client");
    await new Promise((r) => setTimeout(r, 200)); // a second copy, if any, would arrive now
    expect(wills).toEqual(['gone']);
  }, 60_000);
});
