import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowAllHook, Broker, type Store, silentLogger, TcpListener } from '@x/broker';
import type { Packet } from '@x/packets';
import { describeBrokerRestart, RawClient, until } from '@x/test-helpers';
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

describeBrokerRestart('SqliteStore file', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqlite-broker-'));
  return {
    store: () => new SqliteStore({ dataDir }),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
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
