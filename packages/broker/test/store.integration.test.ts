import type { Packet } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import { describeBrokerRestart } from '../../test-helpers/src/broker-restart.js';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import {
  AllowAllHook,
  Broker,
  MemoryStore,
  type Store,
  type StoredState,
  silentLogger,
  TcpListener,
} from '../src/index.js';
import { sleep, until } from './helpers.js';

/** A broker on a free port with the given store. */
async function brokerWith(store: Store): Promise<{ broker: Broker; port: number }> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, store });
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return { broker, port: listener.port };
}

/** A MemoryStore whose commits wait until `release()`, or fail, or that refuses writes. */
class GatedStore extends MemoryStore {
  #waiting: Array<(error: Error | undefined) => void> = [];
  /** Whether its commits cover only the recorded changes (a delivered PUBACK may go before them). */
  readonly commitsOnlyRecordedChanges: boolean;
  gated = false;
  failWith: Error | undefined;
  writableFlag = true;
  commits = 0;
  /** Each commit's `urgent` flag, in order. */
  urgency: boolean[] = [];

  constructor(commitsOnlyRecordedChanges = false) {
    super();
    this.commitsOnlyRecordedChanges = commitsOnlyRecordedChanges;
    gates.push(this);
  }

  get writable(): boolean {
    return this.writableFlag;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  override commit(done: (error: Error | undefined) => void, urgent = true): void {
    this.commits++;
    this.urgency.push(urgent);
    if (this.failWith) done(this.failWith);
    else if (this.gated) this.#waiting.push(done);
    else done(undefined);
  }

  release(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const done of waiting) done(undefined);
  }
}

const open: Array<RawClient | Broker> = [];
/** Gated stores of the running test: opened again before the brokers close, should the test fail. */
const gates: GatedStore[] = [];
afterEach(async () => {
  for (const store of gates.splice(0)) {
    store.gated = false;
    store.release();
  }
  for (const x of open.splice(0)) {
    if (x instanceof Broker) await x.close();
    else x.close();
  }
});

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

// The end-to-end restart scenario every store runs (also the SQLite and Redis stores' tests).
describeBrokerRestart('MemoryStore', () => {
  const store = new MemoryStore();
  return { store: () => store };
});

describe('the Store seam: what is read and written at start and end', () => {
  it('sessions expired while the broker was down are purged at start, not restored', async () => {
    const store = new MemoryStore();
    store.saveSession({
      clientId: 'long-gone',
      protocolVersion: 4,
      expiryInterval: 1,
      disconnectedAt: Date.now() - 10_000,
      will: undefined,
      pendingWill: undefined,
    });
    store.saveSession({
      clientId: 'recent',
      protocolVersion: 5,
      expiryInterval: 3600,
      disconnectedAt: Date.now() - 10_000,
      will: undefined,
      pendingWill: undefined,
    });
    const b = await brokerWith(store);
    open.push(b.broker);
    expect([...b.broker.sessions.values()].map((s) => s.clientId)).toEqual(['recent']);
    await until(() => true);
    expect((await store.open()).sessions.map((s) => s.clientId)).toEqual(['recent']);
  });

  it('a session that ends is forgotten by the store; clean sessions are never written', async () => {
    const store = new MemoryStore();
    const b = await brokerWith(store);
    open.push(b.broker);
    const { c } = await connect(b.port, 'short');
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 's/#', qos: 1 }] });
    await c.expect('suback');
    const clean = await RawClient.open(b.port, 4);
    open.push(clean);
    clean.send({ type: 'connect', protocolVersion: 4, clientId: 'clean', clean: true, keepalive: 0 });
    await clean.expect('connack');
    const state: StoredState = await store.open();
    expect(state.sessions.map((s) => s.clientId)).toEqual(['short']);
    expect(state.sessions[0]!.subscriptions.map((s) => s.topicFilter)).toEqual(['s/#']);
    expect(state.sessions[0]!.disconnectedAt).toBe(0); // online
    // DISCONNECT with Session Expiry Interval 0 ends it.
    c.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await until(() => !b.broker.sessions.has('short'));
    await sleep(5);
    expect((await store.open()).sessions).toEqual([]);
  });
});

/** A broker on `store` with a persistent subscriber ('sub-1', e/# at QoS 1) and a clean publisher. */
async function subscribedAndPublisher(store: Store) {
  const b = await brokerWith(store);
  open.push(b.broker);
  const sub = await connect(b.port, 'sub-1');
  sub.c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'e/#', qos: 1 }] });
  await sub.c.expect('suback');
  const pub = await connect(b.port, 'pub', 5, true);
  return { b, sub, pub };
}

describe('acknowledged durability', () => {
  it('PUBACK, PUBREC, SUBACK and the CONNACK of a persistent session wait for the commit', async () => {
    const store = new GatedStore();
    const b = await brokerWith(store);
    open.push(b.broker);
    store.gated = true;
    const c = await RawClient.open(b.port, 5);
    open.push(c);
    c.send({
      type: 'connect',
      protocolVersion: 5,
      clientId: 'durable',
      clean: true,
      keepalive: 0,
      properties: { sessionExpiryInterval: 60 },
    });
    expect((await c.idle(100)).map((p) => p.type)).toEqual([]);
    store.release();
    await c.expect('connack');
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'd/#', qos: 1 }] });
    c.send({
      type: 'publish',
      topic: 'x/1',
      payload: Buffer.from('1'),
      qos: 1,
      packetId: 5,
      retain: false,
      dup: false,
    });
    c.send({
      type: 'publish',
      topic: 'x/2',
      payload: Buffer.from('2'),
      qos: 2,
      packetId: 6,
      retain: false,
      dup: false,
    });
    expect((await c.idle(100)).map((p) => p.type)).toEqual([]);
    store.release();
    expect((await c.expect('suback')).reasonCodes).toEqual([1]);
    expect((await c.expect('puback')).packetId).toBe(5);
    expect((await c.expect('pubrec')).packetId).toBe(6);
    store.gated = false; // close() commits what is left
  });

  it('a QoS 1 PUBACK goes before its commit when no persistent session holds the message (none took it, or each acknowledged it), in order; retained and unacknowledged ones wait', async () => {
    const store = new GatedStore(true);
    const { b, sub, pub } = await subscribedAndPublisher(store);
    const publish = (packetId: number, topic: string, retain = false) =>
      pub.c.send({
        type: 'publish',
        topic,
        payload: Buffer.from(topic),
        qos: 1,
        packetId,
        retain,
        dup: false,
      });
    const delivered = async (topic: string) => {
      const p = await sub.c.expect('publish');
      expect(p.topic).toBe(topic);
      return p.packetId!;
    };
    const pubacks = async () =>
      (await pub.c.idle(150)).filter((p) => p.type === 'puback').map((p) => p.packetId);
    store.gated = true;

    // Taken by no persistent session: nothing to keep, acknowledged at once.
    publish(9, 'other/1');
    expect((await pub.c.expect('puback')).packetId).toBe(9);

    // Delivered and acknowledged: the PUBACK goes while the commit still waits.
    publish(1, 'e/1');
    const id1 = await delivered('e/1');
    expect(await pubacks()).toEqual([]);
    sub.c.send({ type: 'puback', packetId: id1 });
    expect((await pub.c.expect('puback')).packetId).toBe(1);
    expect(store.waiting).toBeGreaterThan(0);

    // A retained message is kept only by a commit, and the PUBACKs after it keep their place.
    publish(2, 'e/2', true);
    publish(3, 'e/3');
    const ids = [await delivered('e/2'), await delivered('e/3')];
    for (const packetId of ids) sub.c.send({ type: 'puback', packetId });
    expect(await pubacks()).toEqual([]);

    // Not acknowledged by its subscriber yet: it waits too.
    publish(4, 'e/4');
    await delivered('e/4');
    expect(await pubacks()).toEqual([]);
    store.release();
    for (const packetId of [2, 3, 4]) expect((await pub.c.expect('puback')).packetId).toBe(packetId);

    // With two stored sessions, it goes once both have acknowledged it.
    store.gated = false;
    const sub2 = await connect(b.port, 'sub-2');
    sub2.c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'e/#', qos: 1 }] });
    await sub2.c.expect('suback');
    const retained = await sub2.c.expect('publish');
    expect(retained.topic).toBe('e/2');
    sub2.c.send({ type: 'puback', packetId: retained.packetId! });
    store.gated = true;
    publish(5, 'e/5');
    sub.c.send({ type: 'puback', packetId: await delivered('e/5') });
    const second = await sub2.c.expect('publish');
    expect(second.topic).toBe('e/5');
    expect(await pubacks()).toEqual([]);
    sub2.c.send({ type: 'puback', packetId: second.packetId! });
    expect((await pub.c.expect('puback')).packetId).toBe(5);
    expect(store.waiting).toBeGreaterThan(0);
    store.release();
    store.gated = false;
  });

  it('a commit is urgent when what waits for it can go with nothing else (PUBREC, a retained PUBACK), not when each PUBACK may also go when its subscribers acknowledge', async () => {
    const store = new GatedStore(true);
    const { pub } = await subscribedAndPublisher(store);
    const publishAndWait = async (qos: 1 | 2, retain: boolean) => {
      store.urgency = [];
      pub.c.send({
        type: 'publish',
        topic: 'e/1',
        payload: Buffer.from('1'),
        qos,
        packetId: 1,
        retain,
        dup: false,
      });
      await pub.c.expect(qos === 1 ? 'puback' : 'pubrec');
      return store.urgency;
    };
    // Queued for the persistent subscriber: its PUBACK also goes once the subscriber acknowledges.
    const counted = await publishAndWait(1, false);
    expect(counted).toContain(false);
    expect(counted).not.toContain(true);
    expect(await publishAndWait(1, true)).toContain(true);
    expect(await publishAndWait(2, false)).toContain(true);
  });

  it('with a store whose commit covers more than the recorded changes, every QoS 1 PUBACK waits for it', async () => {
    const store = new GatedStore(false);
    const { sub, pub } = await subscribedAndPublisher(store);
    store.gated = true;
    pub.c.send({
      type: 'publish',
      topic: 'e/1',
      payload: Buffer.from('1'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
    });
    pub.c.send({
      type: 'publish',
      topic: 'other/1',
      payload: Buffer.from('2'),
      qos: 1,
      packetId: 2,
      retain: false,
      dup: false,
    });
    sub.c.send({ type: 'puback', packetId: (await sub.c.expect('publish')).packetId! });
    expect((await pub.c.idle(150)).map((p) => p.type)).toEqual([]);
    store.release();
    expect((await pub.c.expect('puback')).packetId).toBe(1);
    expect((await pub.c.expect('puback')).packetId).toBe(2);
    store.gated = false;
  });

  it("a clean session's SUBACK waits for no commit when the store commits only recorded changes, unless an acknowledgement waits before it; a persistent session's and a cluster-like store's wait", async () => {
    const subscribe = (c: RawClient, packetId: number) =>
      c.send({ type: 'subscribe', packetId, subscriptions: [{ topicFilter: `s/${packetId}`, qos: 1 }] });
    const recorded = new GatedStore(true);
    const b = await brokerWith(recorded);
    open.push(b.broker);
    const clean = await connect(b.port, 'clean', 4, true);
    const kept = await connect(b.port, 'kept', 5, false);
    recorded.gated = true;
    const commits = recorded.commits;
    subscribe(clean.c, 1);
    expect((await clean.c.expect('suback')).packetId).toBe(1);
    expect(recorded.commits).toBe(commits);
    subscribe(kept.c, 2);
    expect((await kept.c.idle(100)).map((p) => p.type)).toEqual([]);
    // Behind a retained PUBACK that waits for its commit, the clean session's SUBACK waits too.
    clean.c.send({
      type: 'publish',
      topic: 'r/1',
      payload: Buffer.from('r'),
      qos: 1,
      packetId: 3,
      retain: true,
      dup: false,
    });
    subscribe(clean.c, 4);
    expect((await clean.c.idle(100)).map((p) => p.type)).toEqual([]);
    recorded.release();
    expect((await kept.c.expect('suback')).packetId).toBe(2);
    expect((await clean.c.expect('puback')).packetId).toBe(3);
    expect((await clean.c.expect('suback')).packetId).toBe(4);
    recorded.gated = false;

    // A store whose commits carry more than what was recorded (a cluster's): every SUBACK waits.
    const carrying = new GatedStore(false);
    const b2 = await brokerWith(carrying);
    open.push(b2.broker);
    const other = await connect(b2.port, 'clean', 4, true);
    carrying.gated = true;
    subscribe(other.c, 5);
    expect((await other.c.idle(100)).map((p) => p.type)).toEqual([]);
    carrying.release();
    expect((await other.c.expect('suback')).packetId).toBe(5);
    carrying.gated = false;
  });

  it('a failed commit is not acknowledged as a success: v5 gets 0x97, a v3 client is disconnected without PUBACK', async () => {
    const store = new GatedStore();
    const b = await brokerWith(store);
    open.push(b.broker);
    const v5 = await connect(b.port, 'five', 5, true);
    const v3 = await connect(b.port, 'three', 4, true);
    store.failWith = new Error('disk full');
    v5.c.send({
      type: 'publish',
      topic: 'f/1',
      payload: Buffer.from('1'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
    });
    expect((await v5.c.expect('puback')).reasonCode).toBe(0x97);
    v3.c.send({
      type: 'publish',
      topic: 'f/2',
      payload: Buffer.from('2'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
    });
    await v3.c.waitClosed();
    store.failWith = undefined;
    v5.c.send({
      type: 'publish',
      topic: 'f/3',
      payload: Buffer.from('3'),
      qos: 1,
      packetId: 2,
      retain: false,
      dup: false,
    });
    expect((await v5.c.expect('puback')).reasonCode ?? 0).toBe(0);
    expect(b.broker.ready).toBe(true);
  });

  it('while the store cannot write, QoS 1/2 publishes are refused before routing and the broker is not ready', async () => {
    const store = new GatedStore();
    const b = await brokerWith(store);
    open.push(b.broker);
    const watcher = await connect(b.port, 'watcher', 5, true);
    watcher.c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'w/#', qos: 1 }] });
    await watcher.c.expect('suback');
    const v5 = await connect(b.port, 'pub5', 5, true);
    store.writableFlag = false;
    expect(b.broker.ready).toBe(false);
    v5.c.send({
      type: 'publish',
      topic: 'w/1',
      payload: Buffer.from('1'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
    });
    expect((await v5.c.expect('puback')).reasonCode).toBe(0x97);
    v5.c.send({
      type: 'publish',
      topic: 'w/0',
      payload: Buffer.from('0'),
      qos: 0,
      retain: false,
      dup: false,
    });
    const got = await watcher.c.expect('publish');
    expect(got.topic).toBe('w/0'); // QoS 0 promises nothing and still flows; w/1 was never routed
  });
});
