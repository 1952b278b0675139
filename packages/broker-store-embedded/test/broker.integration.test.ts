import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowAllHook, Broker, type Store, silentLogger, TcpListener } from '@x/broker';
import type { Packet } from '@x/packets';
import { RawClient, until } from '@x/test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
// Imported by path, as the Redis store's tests do: the broker's raw test client sends exact packets.

import { SqliteStore } from '../src/index.js';

/** A broker on a free port with the given store. */
async function brokerWith(store: Store): Promise<{ broker: Broker; port: number }> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, store });
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return { broker, port: listener.port };
}

const open: Array<RawClient | Broker> = [];
let cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const x of open.splice(0)) {
    if (x instanceof Broker) await x.close();
    else x.close();
  }
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-broker-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function connect(port: number, clientId: string, version: 4 | 5 = 5, clean = false) {
  const c = await RawClient.open(port, version);
  open.push(c);
  c.send({
    type: 'connect',
    protocolVersion: version,
    clientId,
    clean,
    keepalive: 0,
    ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  } as Packet);
  return { c, connack: await c.expect('connack') };
}

describe('a broker restarted on the same SqliteStore file resumes everything', () => {
  it('sessions, subscriptions, queued, in-flight (QoS 1 and QoS 2 at PUBREL), inbound QoS 2 ids and retained messages', async () => {
    const dataDir = tempDir();
    const first = await brokerWith(new SqliteStore({ dataDir }));
    // A persistent subscriber with three kinds of pending work.
    const { c: sub } = await connect(first.port, 'keeper');
    sub.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: 'k/#', qos: 2 }],
      properties: { subscriptionIdentifier: 7 },
    });
    await sub.expect('suback');
    const { c: pub } = await connect(first.port, 'writer');
    pub.send({
      type: 'publish',
      topic: 'k/inflight1',
      payload: Buffer.from('a'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
    });
    pub.send({
      type: 'publish',
      topic: 'k/inflight2',
      payload: Buffer.from('b'),
      qos: 2,
      packetId: 2,
      retain: false,
      dup: false,
    });
    await pub.expect('puback');
    await pub.expect('pubrec'); // no PUBREL: the writer's id 2 stays pending in its session
    const p1 = await sub.expect('publish');
    const p2 = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: p2.packetId! }); // QoS 2 flow reaches PUBREL, never completes
    await sub.expect('pubrel');
    sub.close();
    await until(() => first.broker.client('keeper') === undefined);
    pub.send({
      type: 'publish',
      topic: 'k/queued',
      payload: Buffer.from('c'),
      qos: 1,
      packetId: 3,
      retain: false,
      dup: false,
    });
    pub.send({
      type: 'publish',
      topic: 'r/kept',
      payload: Buffer.from('d'),
      qos: 0,
      retain: true,
      dup: false,
    });
    await pub.expect('puback');
    // The retained QoS 0 PUBLISH came after the QoS 1 one, whose PUBACK waited for the writer thread.
    await until(() => first.broker.retained.get('r/kept') !== undefined);
    pub.close();
    await first.broker.close();

    const second = await brokerWith(new SqliteStore({ dataDir }));
    open.push(second.broker);
    expect(second.broker.retained.get('r/kept')?.payload.toString()).toBe('d');
    const again = await connect(second.port, 'keeper');
    expect(again.connack.sessionPresent).toBe(true);
    // In flight first, in order: the QoS 1 PUBLISH again with DUP and the same id, then PUBREL
    // for the QoS 2 flow [MQTT-4.4.0-1]; then the queued message with the subscription identifier.
    const resent = await again.c.expect('publish');
    expect([resent.topic, resent.dup, resent.packetId]).toEqual(['k/inflight1', true, p1.packetId]);
    expect((await again.c.expect('pubrel')).packetId).toBe(p2.packetId);
    const queued = await again.c.expect('publish');
    expect(queued.topic).toBe('k/queued');
    expect(queued.properties?.subscriptionIdentifiers).toEqual([7]);
    // The writer's QoS 2 id 2 still awaits PUBREL: releasing it completes without 0x92.
    const writer = await connect(second.port, 'writer');
    expect(writer.connack.sessionPresent).toBe(true);
    writer.c.send({ type: 'pubrel', packetId: 2 });
    expect((await writer.c.expect('pubcomp')).reasonCode ?? 0).toBe(0);
  });
});

describe('a broker whose SqliteStore disk is full', () => {
  it('refuses QoS 1 publishes (0x97) while the disk is full, and acknowledges them again once space is freed', async (ctx) => {
    const dataDir = tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dataDir], { stdio: 'pipe' });
    } catch (error) {
      const reason = `cannot mount a tmpfs here (${String((error as Error).message).split('\n')[0]})`;
      if (process.env.CI) throw new Error(`${reason}: CI must run these tests as root`);
      ctx.skip(reason);
    }
    cleanups.push(() => execFileSync('umount', ['-l', dataDir]));
    const store = new SqliteStore({ dataDir, retryMs: 50 });
    const { broker, port } = await brokerWith(store);
    open.push(broker);
    const { c: keeper } = await connect(port, 'keeper');
    keeper.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'k/#', qos: 1 }] });
    await keeper.expect('suback');
    keeper.close();
    await until(() => broker.client('keeper') === undefined);

    // Connected first: the CONNACK of a persistent session also waits for a commit.
    const { c: pub } = await connect(port, 'writer');
    const filler = join(dataDir, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096));
    } catch {
      // ENOSPC: full.
    } finally {
      closeSync(fd);
    }
    const publish = (packetId: number) =>
      pub.send({
        type: 'publish',
        topic: 'k/x',
        payload: Buffer.alloc(3000, packetId),
        qos: 1,
        packetId,
        retain: false,
        dup: false,
      });
    publish(1);
    expect((await pub.expect('puback')).reasonCode).toBe(0x97); // the commit failed: not acknowledged
    await until(() => !store.writable);

    unlinkSync(filler);
    await until(() => store.writable, 5000, 'the store to write again');
    publish(2);
    expect((await pub.expect('puback')).reasonCode ?? 0).toBe(0);
    const again = await connect(port, 'keeper');
    expect(again.connack.sessionPresent).toBe(true);
    // The acknowledged message reaches the offline subscriber. (The refused one was routed before
    // its commit failed, and is delivered too: at least once, as QoS 1 allows.)
    const payloads = () => again.c.received.flatMap((p) => (p.type === 'publish' ? [p.payload[0]] : []));
    await until(() => payloads().includes(2), 5000, 'the acknowledged message');
  });
});
