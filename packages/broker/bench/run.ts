/**
 * Broker benchmarks, ours against Mosquitto side by side in one run with the same load generator:
 *
 * 1. throughput: 10 clients × 10 000 QoS 0 messages, each client publishing to and subscribed on its
 *    own topic; messages per second delivered and the broker's CPU time per delivered message;
 * 2. idle connections: resident memory per idle connection with 1 000 connections.
 *
 * `pnpm --filter @x/broker bench` (Linux: reads /proc for the brokers' CPU and memory).
 */
import { LoadClient } from './load.js';
import { type BrokerProcess, cpuSeconds, rssBytes, startMosquitto, startOurs } from './servers.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const IDLE = Number(process.env.BENCH_IDLE ?? 1000);
const FANOUT = Number(process.env.BENCH_FANOUT ?? 50);
const FANOUT_MESSAGES = Number(process.env.BENCH_FANOUT_MESSAGES ?? 20_000);
const PAYLOAD = Buffer.alloc(64, 0x61);

interface Throughput {
  seconds: number;
  delivered: number;
  cpu: number;
}

async function throughput(broker: BrokerProcess): Promise<Throughput> {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => LoadClient.connect(broker.port, `tp-${i}`)),
  );
  await Promise.all(clients.map((c, i) => c.subscribe(`bench/${i}`)));
  const cpu0 = cpuSeconds(broker.pid);
  const t0 = performance.now();
  await Promise.all(clients.map((c, i) => c.publishMany(`bench/${i}`, PAYLOAD, MESSAGES)));
  const expected = CLIENTS * MESSAGES;
  let last = -1;
  let lastChange = performance.now();
  let end = performance.now();
  for (;;) {
    const delivered = clients.reduce((n, c) => n + c.publishes, 0);
    if (delivered !== last) {
      last = delivered;
      lastChange = end = performance.now();
    }
    if (delivered >= expected || performance.now() - lastChange > 2000) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const cpu = cpuSeconds(broker.pid) - cpu0;
  for (const c of clients) c.close();
  return { seconds: (end - t0) / 1000, delivered: last, cpu };
}

/** Fan-out: one publisher, FANOUT subscribers on the same topic (shared encodings at work). */
async function fanout(broker: BrokerProcess): Promise<Throughput> {
  const subscribers = await Promise.all(
    Array.from({ length: FANOUT }, (_, i) => LoadClient.connect(broker.port, `fo-sub-${i}`)),
  );
  await Promise.all(subscribers.map((c) => c.subscribe('fanout/t')));
  const publisher = await LoadClient.connect(broker.port, 'fo-pub');
  const cpu0 = cpuSeconds(broker.pid);
  const t0 = performance.now();
  await publisher.publishMany('fanout/t', PAYLOAD, FANOUT_MESSAGES, 20);
  const expected = FANOUT * FANOUT_MESSAGES;
  let last = -1;
  let lastChange = performance.now();
  let end = lastChange;
  for (;;) {
    const delivered = subscribers.reduce((n, c) => n + c.publishes, 0);
    if (delivered !== last) {
      last = delivered;
      lastChange = end = performance.now();
    }
    if (delivered >= expected || performance.now() - lastChange > 2000) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const cpu = cpuSeconds(broker.pid) - cpu0;
  for (const c of [...subscribers, publisher]) c.close();
  return { seconds: (end - t0) / 1000, delivered: last, cpu };
}

async function connectIdle(broker: BrokerProcess, prefix: string, count: number): Promise<LoadClient[]> {
  const clients: LoadClient[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        LoadClient.connect(broker.port, `${prefix}-${i + j}`),
      ),
    );
    clients.push(...batch);
  }
  return clients;
}

async function settledRss(broker: BrokerProcess): Promise<number> {
  await broker.settle();
  await new Promise((r) => setTimeout(r, 500));
  await broker.settle();
  return rssBytes(broker.pid);
}

/**
 * Resident memory per idle connection: a first batch of IDLE connections warms the allocators
 * (transient read buffers, heap pages), then the growth of a second batch of IDLE is measured.
 */
async function idleMemory(broker: BrokerProcess): Promise<number> {
  const warm = await connectIdle(broker, 'warm', IDLE);
  const before = await settledRss(broker);
  const idle = await connectIdle(broker, 'idle', IDLE);
  const after = await settledRss(broker);
  for (const c of [...warm, ...idle]) c.close();
  return (after - before) / IDLE;
}

const results: Array<{ name: string; tp: Throughput; idle: number; fan: Throughput }> = [];
for (const start of [startOurs, startMosquitto]) {
  const broker = await start();
  try {
    // Idle memory first, on a fresh process (a heap grown by the throughput runs would hide it).
    const idle = await idleMemory(broker);
    await throughput(broker); // warm-up (JIT) run, not reported
    // Three measured runs added up: /proc CPU time has a 10 ms resolution.
    const runs = [await throughput(broker), await throughput(broker), await throughput(broker)];
    const tp: Throughput = {
      seconds: runs.reduce((n, r) => n + r.seconds, 0),
      delivered: runs.reduce((n, r) => n + r.delivered, 0),
      cpu: runs.reduce((n, r) => n + r.cpu, 0),
    };
    await fanout(broker); // warm-up
    const fan = await fanout(broker);
    results.push({ name: broker.name, tp, idle, fan });
  } finally {
    await broker.stop();
  }
}

const expected = 3 * CLIENTS * MESSAGES;
console.log(
  `\nthroughput: ${CLIENTS} clients × ${MESSAGES} QoS 0 messages (${PAYLOAD.length}-byte payload), own topic each`,
);
console.log('broker        delivered      msg/s   CPU s   CPU µs/msg   idle KiB/conn');
for (const r of results) {
  const rate = r.tp.delivered / r.tp.seconds;
  console.log(
    `${r.name.padEnd(12)} ${`${r.tp.delivered}/${expected}`.padStart(12)} ${rate.toFixed(0).padStart(10)} ${r.tp.cpu.toFixed(2).padStart(7)} ${((r.tp.cpu / r.tp.delivered) * 1e6).toFixed(2).padStart(12)} ${(r.idle / 1024).toFixed(2).padStart(15)}`,
  );
}
console.log(`\nfan-out: 1 publisher → ${FANOUT} subscribers on one topic, ${FANOUT_MESSAGES} QoS 0 messages`);
console.log('broker        delivered      msg/s   CPU s   CPU µs/msg');
for (const r of results) {
  const rate = r.fan.delivered / r.fan.seconds;
  console.log(
    `${r.name.padEnd(12)} ${`${r.fan.delivered}/${FANOUT * FANOUT_MESSAGES}`.padStart(12)} ${rate.toFixed(0).padStart(10)} ${r.fan.cpu.toFixed(2).padStart(7)} ${((r.fan.cpu / r.fan.delivered) * 1e6).toFixed(2).padStart(12)}`,
  );
}
const [ours, mosq] = results;
if (ours && mosq) {
  const ratio = ours.tp.delivered / ours.tp.seconds / (mosq.tp.delivered / mosq.tp.seconds);
  console.log(
    `\nours / mosquitto: throughput ×${ratio.toFixed(2)}, CPU per message ×${(ours.tp.cpu / ours.tp.delivered / (mosq.tp.cpu / mosq.tp.delivered)).toFixed(2)}, idle memory ×${(ours.idle / mosq.idle).toFixed(1)}`,
  );
  const fanRatio = ours.fan.delivered / ours.fan.seconds / (mosq.fan.delivered / mosq.fan.seconds);
  const fanCpu = ours.fan.cpu / ours.fan.delivered / (mosq.fan.cpu / mosq.fan.delivered);
  console.log(
    `fan-out ours / mosquitto: throughput ×${fanRatio.toFixed(2)}, CPU per message ×${fanCpu.toFixed(2)}`,
  );
}
