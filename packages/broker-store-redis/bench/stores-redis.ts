/**
 * What persistence costs: QoS 1 throughput of the broker without a store and with `RedisStore`
 * (a real redis-server started here), side by side in one run, with the same raw-socket clients.
 *
 *   online:  10 persistent subscribers (clean session 0) acknowledge as they receive, 10
 *            publishers each send 5 000 QoS 1 messages to their own subscriber's topic.
 *   offline: the same messages go into the queues of 10 offline persistent sessions.
 *
 * Also counts the Redis commands the store issued per message (INFO's total_commands_processed).
 * Run: pnpm --filter @x/broker exec node --conditions=@x/source --import tsx bench/stores-redis.ts
 */
import { connect, type Socket } from 'node:net';
import { AllowAllHook, Broker, silentLogger, TcpListener } from '@x/broker';
import { Decoder, encode, type Packet } from '@x/packets';
import { startRedis } from '../../test-helpers/src/redis.js';
import { RedisClient, RedisStore } from '../src/index.js';

const CLIENTS = 10;
const MESSAGES = 5_000;
const WINDOW = 100;

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

  /** Sends `count` QoS 1 PUBLISHes keeping at most WINDOW unacknowledged. */
  async publishMany(topic: string, count: number): Promise<void> {
    const payload = Buffer.alloc(64, 1);
    const base = this.acked;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const chunks: Buffer[] = [];
        while (sent < count && sent - (this.acked - base) < WINDOW) {
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

async function commandsProcessed(redis: RedisClient): Promise<number> {
  const info = String(await redis.command(['INFO', 'stats']));
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

interface Result {
  online: number;
  offline: number;
  /** Redis commands per message, online and offline phases. */
  commands: [number, number] | undefined;
}

async function run(
  redisUrl: string | undefined,
  control: RedisClient | undefined,
  round: number,
): Promise<Result> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, maxQueuedMessages: MESSAGES * 2 });
  const store = redisUrl ? new RedisStore(broker, { url: redisUrl, prefix: `bench${round}:` }) : undefined;
  if (store) broker.addHook(store);
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  const port = listener.port;
  const before = control ? await commandsProcessed(control) : 0;

  // Online: persistent subscribers acknowledging as they go.
  const subs = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => RawMqtt.open(port, `sub-${i}`, false)),
  );
  await Promise.all(subs.map((s, i) => s.subscribe(`bench/${i}`)));
  const pubs = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => RawMqtt.open(port, `pub-${i}`, true)),
  );
  let start = process.hrtime.bigint();
  await Promise.all(pubs.map((p, i) => p.publishMany(`bench/${i}`, MESSAGES)));
  while (subs.some((s) => s.received < MESSAGES)) await new Promise((r) => setTimeout(r, 1));
  const online = (CLIENTS * MESSAGES) / (Number(process.hrtime.bigint() - start) / 1e9);
  if (store) await store.flush(60_000);
  const middle = control ? await commandsProcessed(control) : 0;

  // Offline: the same load into the persistent sessions' queues.
  await Promise.all(subs.map((s) => s.close()));
  start = process.hrtime.bigint();
  await Promise.all(pubs.map((p, i) => p.publishMany(`bench/${i}`, MESSAGES)));
  const offline = (CLIENTS * MESSAGES) / (Number(process.hrtime.bigint() - start) / 1e9);

  if (store) await store.flush(60_000);
  const after = control ? await commandsProcessed(control) : 0;
  await Promise.all(pubs.map((p) => p.close()));
  await broker.close();
  await store?.close();
  return {
    online,
    offline,
    commands: control
      ? [(middle - before) / (CLIENTS * MESSAGES), (after - middle) / (CLIENTS * MESSAGES)]
      : undefined,
  };
}

const redis = await startRedis();
const control = new RedisClient({ url: redis.url });
await control.connect();
try {
  const rows: Array<[string, Result]> = [];
  for (let round = 0; round < 2; round++) {
    rows.push(['in memory', await run(undefined, undefined, round)]);
    rows.push(['RedisStore', await run(redis.url, control, round)]);
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
  console.log(
    `QoS 1, ${CLIENTS} publishers → ${CLIENTS} persistent subscribers, ${MESSAGES} messages each\n`,
  );
  console.log('store        online msg/s  offline msg/s  Redis commands/msg (online, offline)');
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(12)} ${fmt(r.online)}     ${fmt(r.offline)}      ${r.commands?.map((c) => c.toFixed(3)).join(', ') ?? '-'}`,
    );
  }
  const mean = (name: string, key: 'online' | 'offline') => {
    const xs = rows.filter(([n]) => n === name).map(([, r]) => r[key]);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  console.log(
    `\nRedisStore / in memory: online ${(mean('RedisStore', 'online') / mean('in memory', 'online')).toFixed(2)}, ` +
      `offline ${(mean('RedisStore', 'offline') / mean('in memory', 'offline')).toFixed(2)}`,
  );
} finally {
  await control.close();
  await redis.stop();
}
