/**
 * What a commit costs: the work a broker gives its store for a stream of QoS 1 messages to
 * persistent sessions, replayed against `RedisStore` and a real redis-server started here (memory
 * only, so Redis' own disk is not what is measured), next to `MemoryStore` as the floor.
 *
 *   online:  per message, saveInflight then (one turn later) deleteInflight: the subscriber's PUBACK.
 *   offline: per message, queueMessage into one of SESSIONS queues; then all of them dequeued.
 *
 * Changes are committed every BATCH messages, as a broker's group commit would at that load, with
 * up to WINDOW commits in flight. Reports messages per second, commit latency (p50/p99) and the
 * Redis commands per message (INFO's total_commands_processed).
 *
 * Then the whole broker: 10 publishers → 10 persistent QoS 1 subscribers (5 000 messages each,
 * raw-socket clients, at most 100 unacknowledged per publisher), online and then into offline
 * queues, with no store, MemoryStore and RedisStore (PUBACK waits for the commit with a store).
 * Run: npx -y pnpm@10 --filter @x/broker-store-redis bench
 */
import { connect, type Socket } from 'node:net';
import {
  AllowAllHook,
  Broker,
  type Delivery,
  MemoryStore,
  type Message,
  type Store,
  silentLogger,
  TcpListener,
} from '@x/broker';
import { Decoder, encode, type Packet } from '@x/packets';
import { startRedis } from '@x/test-helpers';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/index.js';

const SESSIONS = 10;
const MESSAGES = 50_000;
const BATCH = 100;
const WINDOW = 4;

function delivery(i: number): Delivery {
  const message: Message = {
    topic: `bench/${i % SESSIONS}`,
    payload: Buffer.alloc(64, i & 0xff),
    qos: 1,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    origin: 'pub',
    owned: true,
  };
  return { message, qos: 1, retain: false, subscriptionIds: undefined };
}

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
}

/** Applies `step(i)` for every message, committing every BATCH with at most WINDOW commits in flight. */
async function drive(store: Store, step: (i: number) => void): Promise<Result> {
  const latencies: number[] = [];
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) {
    step(i);
    if ((i + 1) % BATCH === 0 || i === MESSAGES - 1) {
      while (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r));
      inFlight++;
      const began = process.hrtime.bigint();
      store.commit((error) => {
        if (error) throw error;
        latencies.push(Number(process.hrtime.bigint() - began) / 1e6);
        inFlight--;
        wake?.();
      });
    }
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { perSecond: MESSAGES / seconds, p50: at(0.5), p99: at(0.99) };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

async function run(store: Store, control: Redis | undefined) {
  await store.open();
  const deliveries = Array.from({ length: MESSAGES }, (_, i) => delivery(i));
  for (let s = 0; s < SESSIONS; s++) {
    store.saveSession({
      clientId: `sub-${s}`,
      protocolVersion: 5,
      expiryInterval: 3600,
      disconnectedAt: 0,
      will: undefined,
      pendingWill: undefined,
    });
  }
  const c0 = control ? await commandsProcessed(control) : 0;
  const online = await drive(store, (i) => {
    const id = `sub-${i % SESSIONS}`;
    store.saveInflight(id, (i % 65_535) + 1, deliveries[i]!, false);
    // The PUBACK of the message sent BATCH/2 messages ago.
    const acked = i - BATCH / 2;
    if (acked >= 0) store.deleteInflight(`sub-${acked % SESSIONS}`, (acked % 65_535) + 1);
  });
  const c1 = control ? await commandsProcessed(control) : 0;
  const queued = await drive(store, (i) => store.queueMessage(`sub-${i % SESSIONS}`, i, deliveries[i]!));
  const drained = await drive(store, (i) => store.dequeueMessage(`sub-${i % SESSIONS}`, i));
  const c2 = control ? await commandsProcessed(control) : 0;
  await store.close();
  return {
    online,
    queued,
    drained,
    commands: control ? [(c1 - c0) / MESSAGES, (c2 - c1) / (2 * MESSAGES)] : undefined,
  };
}

const CLIENTS = 10;
const PER_CLIENT = 5_000;
const UNACKED = 100;

class RawMqtt {
  readonly socket: Socket;
  readonly #decoder = new Decoder({ protocolVersion: 4 });
  #waiters: Array<{ type: Packet['type']; resolve: (p: Packet) => void }> = [];
  received = 0;
  acked = 0;
  #onAck: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const p of this.#decoder.push(chunk)) this.#packet(p);
    });
    socket.on('error', () => {});
  }

  static async open(port: number, clientId: string, clean: boolean): Promise<RawMqtt> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawMqtt(socket);
    const connack = c.next('connack');
    socket.write(encode({ type: 'connect', protocolVersion: 4, clientId, clean, keepalive: 0 }, 4));
    await connack;
    return c;
  }

  next(type: Packet['type']): Promise<Packet> {
    return new Promise((resolve) => this.#waiters.push({ type, resolve }));
  }

  async subscribe(topicFilter: string): Promise<void> {
    const suback = this.next('suback');
    this.socket.write(
      encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos: 1 }] }, 4),
    );
    await suback;
  }

  /** Sends `count` QoS 1 PUBLISHes keeping at most UNACKED unacknowledged. */
  async publishMany(topic: string, count: number): Promise<void> {
    const payload = Buffer.alloc(64, 1);
    const base = this.acked;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const chunks: Buffer[] = [];
        while (sent < count && sent - (this.acked - base) < UNACKED) {
          const packetId = (sent % 65_000) + 1;
          chunks.push(
            encode({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId }, 4),
          );
          sent++;
        }
        if (chunks.length) this.socket.write(Buffer.concat(chunks));
        if (this.acked - base === count) resolve();
      };
      this.#onAck = pump;
      pump();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(encode({ type: 'disconnect' }, 4));
    });
  }

  #packet(p: Packet): void {
    if (p.type === 'publish') {
      this.received++;
      if (p.qos === 1) this.socket.write(encode({ type: 'puback', packetId: p.packetId! }, 4));
      return;
    }
    if (p.type === 'puback') {
      this.acked++;
      this.#onAck?.();
      return;
    }
    const i = this.#waiters.findIndex((w) => w.type === p.type);
    if (i !== -1) this.#waiters.splice(i, 1)[0]!.resolve(p);
  }
}

/** Broker throughput (messages per second), online then offline, with the given store. */
async function brokerRun(store: Store | undefined): Promise<{ online: number; offline: number }> {
  const broker = new Broker({
    logger: silentLogger,
    sysInterval: 0,
    maxQueuedMessages: PER_CLIENT * 2,
    ...(store ? { store } : {}),
  });
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  const port = listener.port;
  const subs = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => RawMqtt.open(port, `sub-${i}`, false)),
  );
  await Promise.all(subs.map((s, i) => s.subscribe(`bench/${i}`)));
  const pubs = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => RawMqtt.open(port, `pub-${i}`, true)),
  );
  let start = process.hrtime.bigint();
  await Promise.all(pubs.map((p, i) => p.publishMany(`bench/${i}`, PER_CLIENT)));
  while (subs.some((s) => s.received < PER_CLIENT)) await new Promise((r) => setTimeout(r, 1));
  const online = (CLIENTS * PER_CLIENT) / (Number(process.hrtime.bigint() - start) / 1e9);
  await Promise.all(subs.map((s) => s.close()));
  start = process.hrtime.bigint();
  await Promise.all(pubs.map((p, i) => p.publishMany(`bench/${i}`, PER_CLIENT)));
  const offline = (CLIENTS * PER_CLIENT) / (Number(process.hrtime.bigint() - start) / 1e9);
  await Promise.all(pubs.map((p) => p.close()));
  await broker.close();
  return { online, offline };
}

const redis = await startRedis();
const control = new Redis(redis.url);
try {
  const rows: Array<[string, Awaited<ReturnType<typeof run>>]> = [];
  for (let round = 0; round < 2; round++) {
    rows.push(['MemoryStore', await run(new MemoryStore(), undefined)]);
    rows.push([
      'RedisStore',
      await run(new RedisStore({ url: redis.url, prefix: `bench${round}:` }), control),
    ]);
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
  const ms = (r: Result) => `${r.p50.toFixed(2)}/${r.p99.toFixed(2)}`.padStart(11);
  console.log(
    `${SESSIONS} persistent sessions, ${MESSAGES} QoS 1 messages of 64 B, a commit every ${BATCH}, ${WINDOW} in flight\n`,
  );
  console.log(
    'store        online msg/s  p50/p99 ms   queue msg/s  p50/p99 ms   dequeue msg/s  Redis cmds/msg (online, queue)',
  );
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(12)} ${fmt(r.online.perSecond)}  ${ms(r.online)}   ${fmt(r.queued.perSecond)}  ${ms(r.queued)}   ${fmt(r.drained.perSecond)}      ${r.commands?.map((c) => c.toFixed(3)).join(', ') ?? '-'}`,
    );
  }
  console.log(
    `\nbroker: QoS 1, ${CLIENTS} publishers → ${CLIENTS} persistent subscribers, ${PER_CLIENT} messages each\n`,
  );
  console.log('store        online msg/s  offline msg/s');
  for (let round = 0; round < 2; round++) {
    const stores: Array<[string, Store | undefined]> = [
      ['none', undefined],
      ['MemoryStore', new MemoryStore()],
      ['RedisStore', new RedisStore({ url: redis.url, prefix: `broker${round}:` })],
    ];
    for (const [name, store] of stores) {
      const r = await brokerRun(store);
      console.log(`${name.padEnd(12)} ${fmt(r.online)}     ${fmt(r.offline)}`);
    }
  }
} finally {
  control.disconnect();
  await redis.stop();
}
