/**
 * The hardening probes of issue 15 as functions, shared by the `probes` bench (ours beside
 * Mosquitto) and the memory regression tests: each probe attacks a broker process over real
 * sockets while {@link RssSampler} reads the process's resident memory from /proc and a
 * {@link GoodTraffic} pair checks that well-behaved clients lose nothing meanwhile.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { encode, type Packet } from '@x/packets';
import { RawClient } from '@x/test-helpers';

export interface ProbeTarget {
  /** MQTT over TCP on 127.0.0.1. */
  port: number;
  /** MQTT over WebSocket (path /mqtt) on 127.0.0.1, when the target has one. */
  wsPort?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident memory of a process in bytes (VmRSS of /proc/<pid>/status); 0 once it is gone. */
export function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `intervalMs` and keeps the peak. */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  peak: number;

  constructor(pid: number, intervalMs = 25) {
    this.#pid = pid;
    this.peak = rssOf(pid);
    this.#timer = setInterval(() => {
      this.peak = Math.max(this.peak, rssOf(this.#pid));
    }, intervalMs);
  }

  stop(): number {
    clearInterval(this.#timer);
    this.peak = Math.max(this.peak, rssOf(this.#pid));
    return this.peak;
  }
}

/**
 * RSS once it has settled after the clients left: the smallest of several readings over `ms`
 * (a collector or an allocator returns memory in steps).
 */
export async function settledRss(pid: number, ms = 3000): Promise<number> {
  let low = rssOf(pid);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await sleep(250);
    low = Math.min(low, rssOf(pid));
  }
  return low;
}

async function open(port: number, version: 4 | 5 = 5): Promise<RawClient> {
  return RawClient.open(port, version);
}

function connectPacket(clientId: string, extra: object = {}, version: 4 | 5 = 5): Packet {
  return {
    type: 'connect',
    protocolVersion: version,
    clientId,
    clean: true,
    keepalive: 0,
    ...extra,
  } as Packet;
}

/** Writes `bytes` and waits for the socket to take them (or to close). */
function write(socket: Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    if (socket.write(bytes)) return resolve();
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/**
 * A QoS 1 publisher and subscriber on their own topic, running beside a probe: `lost` counts the
 * messages whose PUBACK the publisher got that the subscriber never received.
 */
export class GoodTraffic {
  readonly #pub: RawClient;
  readonly #sub: RawClient;
  readonly #received = new Set<number>();
  readonly #acked = new Set<number>();
  #running = true;
  #loop: Promise<void> | undefined;

  private constructor(pub: RawClient, sub: RawClient) {
    this.#pub = pub;
    this.#sub = sub;
  }

  static async start(port: number, tag: string, ratePerSecond = 200): Promise<GoodTraffic> {
    const sub = await RawClient.connect(port, { clientId: `good-sub-${tag}` }, 5, 10_000);
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: `good/${tag}`, qos: 1 }] });
    await sub.expect('suback', 10_000);
    const pub = await RawClient.connect(port, { clientId: `good-pub-${tag}` }, 5, 10_000);
    const traffic = new GoodTraffic(pub, sub);
    traffic.#loop = traffic.#run(tag, ratePerSecond);
    return traffic;
  }

  async #run(tag: string, rate: number): Promise<void> {
    let seq = 0;
    const started = Date.now();
    while (this.#running && !this.#pub.closed) {
      this.#take();
      // Paced by the clock, not by the timer: a late tick sends what it owes, at most 20 at once.
      const owed = Math.min(Math.floor(((Date.now() - started) * rate) / 1000) - seq, 20);
      for (let i = 0; i < owed; i++) {
        seq++;
        this.#pub.send({
          type: 'publish',
          topic: `good/${tag}`,
          qos: 1,
          packetId: (seq % 65_535) + 1,
          retain: false,
          dup: false,
          payload: Buffer.from(String(seq)),
        });
      }
      await sleep(5);
    }
  }

  /** Takes what arrived: PUBACKs on the publisher, PUBLISHes on the subscriber (acknowledged). */
  #take(): void {
    for (const p of this.#pub.received.splice(0)) {
      if (p.type === 'puback' && (p.reasonCode ?? 0) < 0x80) this.#acked.add(p.packetId);
    }
    for (const p of this.#sub.received.splice(0)) {
      if (p.type !== 'publish') continue;
      this.#received.add(Number(Buffer.from(p.payload).toString()));
      if (p.packetId !== undefined) this.#sub.send({ type: 'puback', packetId: p.packetId, reasonCode: 0 });
    }
  }

  /** Stops publishing, waits up to `settleMs` for the last deliveries, and counts. */
  async stop(
    settleMs = 2000,
  ): Promise<{ acked: number; received: number; lost: number; disconnected: boolean }> {
    this.#running = false;
    await this.#loop;
    const deadline = Date.now() + settleMs;
    let acked = 0;
    do {
      await sleep(50);
      this.#take();
      acked = this.#ackedCount();
    } while (this.#received.size < acked && Date.now() < deadline);
    const disconnected = this.#pub.closed || this.#sub.closed;
    this.#pub.close();
    this.#sub.close();
    return {
      acked,
      received: this.#received.size,
      lost: Math.max(0, acked - this.#received.size),
      disconnected,
    };
  }

  /** Packet ids wrap at 65 535; runs here stay far below, so the set's size is the count. */
  #ackedCount(): number {
    return this.#acked.size;
  }
}

/** Topic alias flood: `connections` v5 clients each set `aliases` aliases to distinct topics of `topicBytes`. */
export async function aliasFlood(
  t: ProbeTarget,
  { connections = 2, aliases = 1000, topicBytes = 60_000 } = {},
): Promise<string> {
  let sent = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await open(t.port);
      client.send(connectPacket(`alias-${c}`));
      await client.expect('connack', 10_000).catch(() => undefined);
      for (let a = 1; a <= aliases && !client.closed; a++) {
        const topic = `${String(a).padStart(6, '0')}/${String.fromCharCode(97 + c)}`.padEnd(topicBytes, 'x');
        await write(
          client.socket,
          encode(
            {
              type: 'publish',
              topic,
              qos: 0,
              retain: false,
              dup: false,
              payload: Buffer.alloc(0),
              properties: { topicAlias: a },
            },
            5,
          ),
        );
        sent++;
      }
      // The broker's DISCONNECT and FIN may still be on their way after the last write went out.
      await client.waitClosed(5000).catch(() => undefined);
      if (client.closed) refused++;
      client.close();
    }),
  );
  return `${sent} aliases sent, ${refused}/${connections} connections closed by the broker`;
}

/**
 * WebSocket frame flood: `connections` clients open a WebSocket and, before any CONNECT, start one
 * binary frame announcing `frameBytes` and stream up to `sendBytes` of it.
 */
export async function wsFrameFlood(
  t: ProbeTarget,
  { connections = 10, frameBytes = 100 * 1024 * 1024, sendBytes = 16 * 1024 * 1024 } = {},
): Promise<string> {
  if (t.wsPort === undefined) return 'no WebSocket listener';
  const port = t.wsPort;
  let closedEarly = 0;
  let total = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => {
        socket.once('connect', resolve);
        socket.once('close', resolve);
      });
      socket.write(
        'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          'Sec-WebSocket-Protocol: mqtt\r\n\r\n',
      );
      const upgraded = await new Promise<boolean>((resolve) => {
        let head = '';
        const onData = (d: Buffer) => {
          head += d.toString('latin1');
          if (head.includes('\r\n\r\n')) {
            socket.off('data', onData);
            resolve(head.startsWith('HTTP/1.1 101'));
          }
        };
        socket.on('data', onData);
        socket.once('close', () => resolve(false));
      });
      if (!upgraded) {
        socket.destroy();
        closedEarly++;
        return;
      }
      // FIN + binary, masked, 64-bit length, mask key 0 (so the payload goes as it is).
      const header = Buffer.alloc(14);
      header[0] = 0x82;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(frameBytes), 2);
      await write(socket, header);
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      while (sent < sendBytes && !socket.destroyed) {
        await write(socket, chunk);
        sent += chunk.length;
      }
      total += sent;
      // As for the alias flood: the broker's close may still be on its way after the last write.
      if (!socket.destroyed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (socket.destroyed) closedEarly++;
      socket.destroy();
    }),
  );
  return `${Math.round(total / 1048576)} MiB of frame sent, ${closedEarly}/${connections} closed by the broker`;
}

/**
 * Publishes `messages` QoS 1 messages with at most 20 unacknowledged, as a client with a window;
 * counts PUBACKs that accept (reason code below 0x80) and refuse. Stops early at `deadline`, when
 * no PUBACK comes within `ackTimeout`, or when the connection closes.
 */
async function publishWindowed(
  pub: RawClient,
  topic: string,
  messages: number,
  payload: Buffer,
  {
    ackTimeout,
    deadline = Number.POSITIVE_INFINITY,
    drain = false,
  }: { ackTimeout: number; deadline?: number; drain?: boolean },
): Promise<{ sent: number; acked: number; refused: number }> {
  let sent = 0;
  let acked = 0;
  let refused = 0;
  const take = async (): Promise<boolean> => {
    const ack = await pub.expect('puback', ackTimeout).catch(() => undefined);
    if (ack === undefined) return false;
    if ((ack.reasonCode ?? 0) < 0x80) acked++;
    else refused++;
    return true;
  };
  for (; sent < messages && !pub.closed && Date.now() < deadline; sent++) {
    const packetId = (sent % 65_000) + 1;
    await write(
      pub.socket,
      encode({ type: 'publish', topic, qos: 1, packetId, retain: false, dup: false, payload }, 5),
    );
    while (sent - acked - refused >= 20 && !pub.closed && Date.now() < deadline) {
      if (!(await take())) break;
    }
  }
  while (drain && acked + refused < sent && !pub.closed) {
    if (!(await take())) break;
  }
  return { sent, acked, refused };
}

/**
 * Offline queue of large messages: a persistent session subscribes at QoS 1 and leaves; `messages`
 * QoS 1 messages of `payloadBytes` are published to it; then the session is ended (clean start).
 */
export async function offlineQueueFlood(
  t: ProbeTarget,
  { messages = 200, payloadBytes = 256 * 1024 } = {},
): Promise<string> {
  const sub = await RawClient.connect(
    t.port,
    { clientId: 'offline-big', clean: false, properties: { sessionExpiryInterval: 3600 } },
    5,
    10_000,
  );
  sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'big/#', qos: 1 }] });
  await sub.expect('suback', 10_000);
  sub.send({ type: 'disconnect', reasonCode: 0 });
  sub.close();
  await sleep(200);
  const pub = await RawClient.connect(t.port, { clientId: 'offline-pub' }, 5, 10_000);
  const { acked, refused } = await publishWindowed(pub, 'big/t', messages, Buffer.alloc(payloadBytes, 1), {
    ackTimeout: 10_000,
    drain: true,
  });
  pub.close();
  // The session owner comes back with a clean start: the queue goes.
  const back = await RawClient.connect(t.port, { clientId: 'offline-big', clean: true }, 5, 10_000);
  back.send({ type: 'disconnect', reasonCode: 0 });
  back.close();
  return `${acked} of ${messages} × ${payloadBytes / 1024} KiB accepted, ${refused} refused`;
}

/**
 * Auth flood: `tries` concurrent CONNECTs with a wrong password for `username`, then one with the
 * right one for `legit`; resolves with how long the legitimate login took.
 */
export async function authFlood(
  t: ProbeTarget,
  {
    tries = 200,
    username = 'admin',
    legit = { username: 'alice', password: 'alice-password' },
    connectTimeoutMs = 30_000,
  } = {},
): Promise<{ summary: string; legitMs: number; legitOk: boolean }> {
  const attempt = async (clientId: string, user: string, password: string) => {
    const c = await open(t.port).catch(() => undefined);
    if (c === undefined) return { code: -1, ms: 0 };
    const started = performance.now();
    c.send(connectPacket(clientId, { username: user, password: Buffer.from(password) }));
    const connack = await c.expect('connack', connectTimeoutMs).catch(() => undefined);
    c.close();
    return { code: connack?.reasonCode ?? -1, ms: performance.now() - started };
  };
  const flood = Array.from({ length: tries }, (_, i) => attempt(`guess-${i}`, username, `wrong-${i}`));
  await sleep(300);
  const login = await attempt('legit', legit.username, legit.password);
  const results = await Promise.all(flood);
  const counts = new Map<number, number>();
  for (const r of results) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  const codes = [...counts]
    .map(([code, n]) => `${n}×${code < 0 ? 'closed' : `0x${code.toString(16)}`}`)
    .join(' ');
  return {
    summary: `legit login ${login.code === 0 ? 'ok' : `refused ${login.code}`} in ${Math.round(login.ms)} ms; guesses: ${codes}`,
    legitMs: login.ms,
    legitOk: login.code === 0,
  };
}

/**
 * Slow consumer: a subscriber that stops reading while `messages` QoS 1 messages of `payloadBytes`
 * are published to its topic; it leaves (session ended) afterwards.
 */
export async function slowConsumer(
  t: ProbeTarget,
  { messages = 2000, payloadBytes = 16 * 1024 } = {},
): Promise<string> {
  const sub = await RawClient.connect(t.port, { clientId: 'slow-sub' }, 5, 10_000);
  sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'slow/#', qos: 1 }] });
  await sub.expect('suback', 10_000);
  sub.socket.pause();
  const pub = await RawClient.connect(t.port, { clientId: 'slow-pub' }, 5, 10_000);
  const { sent, acked, refused } = await publishWindowed(
    pub,
    'slow/t',
    messages,
    Buffer.alloc(payloadBytes, 2),
    {
      ackTimeout: 2000,
      deadline: Date.now() + 15_000,
    },
  );
  pub.close();
  sub.close();
  return `${sent} published, ${acked} acknowledged, ${refused} refused`;
}

/** Connection churn: `cycles` CONNECT / CONNACK / DISCONNECT rounds, `parallel` at a time. */
export async function connectionChurn(
  t: ProbeTarget,
  { cycles = 2000, parallel = 20 } = {},
): Promise<string> {
  let done = 0;
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cycles) {
        const i = next++;
        try {
          const c = await RawClient.connect(t.port, { clientId: `churn-${i}` }, i % 2 ? 5 : 4, 10_000);
          c.send({ type: 'disconnect', reasonCode: 0 } as Packet);
          c.close();
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return `${done} cycles, ${failed} failed`;
}

/** Malformed storm: `connections` clients, each sending a bad packet after CONNECT, `rounds` times over. */
export async function malformedStorm(
  t: ProbeTarget,
  { connections = 50, rounds = 20 } = {},
): Promise<string> {
  const bad = [
    [0x30, 0x03, 0x00, 0x09, 0x61], // PUBLISH whose topic length (9) runs past its 3 bytes
    [0xf0, 0x00], // reserved packet type 15
    [0x82, 0x02, 0x00, 0x01], // SUBSCRIBE without a topic filter
    [0x41, 0x02, 0x00, 0x01], // PUBACK with reserved flags set
    [0x10, 0xff, 0xff, 0xff, 0xff, 0x7f], // a Remaining Length of five bytes
  ];
  let closed = 0;
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        const client = await open(t.port, 4).catch(() => undefined);
        if (client === undefined) return;
        client.send(connectPacket(`bad-${r}-${c}`, {}, 4));
        await client.expect('connack', 10_000).catch(() => undefined);
        client.sendBytes(bad[(r + c) % bad.length]!);
        await client.waitClosed(3000).then(
          () => closed++,
          () => undefined,
        );
        client.close();
      }),
    );
  }
  return `${connections * rounds} malformed packets, ${closed} connections closed by the broker`;
}
