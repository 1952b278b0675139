/**
 * Cross-node cost, measured on real processes: QoS 1 throughput and one-at-a-time latency from a
 * publisher to a subscriber on the same node vs on another node, broker CPU per message (utime +
 * stime from /proc) and memory per node.
 *
 *   pnpm --filter @x/broker-cluster bench            # MESSAGES=20000 ROUNDS=1000 to change sizes
 *
 * Needs redis-server on PATH. Every node is a process of test/fixtures/node-child.ts on one Redis.
 */
import { readFileSync } from 'node:fs';
import { type Client, connect } from '@x/client';
import { startRedis } from '@x/test-helpers';
import { node } from './node.js';

const MESSAGES = Number(process.env.MESSAGES ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 1000);
/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(line?.[1] ?? 0) / 1024;
}

async function pair(pubUrl: string, subUrl: string, topic: string): Promise<[Client, Client, () => number]> {
  const sub = await connect(subUrl, { protocolVersion: 5 });
  let received = 0;
  sub.on('message', (m) => {
    if (m.topic === topic) received++;
  });
  await sub.subscribe(topic, { qos: 1 });
  const pub = await connect(pubUrl, { protocolVersion: 5 });
  // The subscription is known on the publisher's node once a probe gets through.
  const probe = `${topic}/probe`;
  await sub.subscribe(probe, { qos: 0 });
  let probed = false;
  sub.on('message', (m) => {
    if (m.topic === probe) probed = true;
  });
  while (!probed) {
    await pub.publish(probe, 'p');
    await new Promise((r) => setTimeout(r, 20));
  }
  return [pub, sub, () => received];
}

async function throughput(pubUrl: string, subUrl: string, topic: string, pids: number[]) {
  const [pub, sub, received] = await pair(pubUrl, subUrl, topic);
  const payload = Buffer.alloc(64, 1);
  const cpu0 = pids.map(cpuMs);
  const start = performance.now();
  const window = new Set<Promise<unknown>>();
  for (let i = 0; i < MESSAGES; i++) {
    const p: Promise<unknown> = pub.publish(topic, payload, { qos: 1 }).finally(() => window.delete(p));
    window.add(p);
    if (window.size >= 100) await Promise.race(window);
  }
  await Promise.all(window);
  while (received() < MESSAGES) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - start;
  const cpu = pids.map((pid, i) => cpuMs(pid) - cpu0[i]!).reduce((a, b) => a + b, 0);
  await pub.end();
  await sub.end();
  return { rate: Math.round((MESSAGES * 1000) / ms), cpuUsPerMessage: Math.round((cpu * 1000) / MESSAGES) };
}

async function latency(pubUrl: string, subUrl: string, topic: string, qos: 0 | 1) {
  const [pub, sub] = await pair(pubUrl, subUrl, topic);
  const times: number[] = [];
  let resolveNext: (() => void) | undefined;
  sub.on('message', (m) => {
    if (m.topic === topic) resolveNext?.();
  });
  for (let i = 0; i < ROUNDS; i++) {
    const arrived = new Promise<void>((r) => {
      resolveNext = r;
    });
    const t0 = performance.now();
    const acked = pub.publish(topic, 'x', { qos });
    await arrived;
    times.push(performance.now() - t0);
    await acked;
  }
  await pub.end();
  await sub.end();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
}

const redis = await startRedis();
const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(redis.url, id)));
const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
const pids = nodes.map((n) => n.process.pid!);
try {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `# ${MESSAGES} QoS 1 messages of 64 B, 1 publisher (100 in flight) → 1 subscriber; load ${load}`,
  );
  // Interleaved, twice, so that a noisy neighbour hits both alike.
  for (let round = 1; round <= 2; round++) {
    const same = await throughput(a.url, a.url, `same/${round}`, pids);
    const cross = await throughput(a.url, b.url, `cross/${round}`, pids);
    console.log(
      `round ${round}: same node ${same.rate}/s (${same.cpuUsPerMessage} µs CPU/msg over all nodes)`,
    );
    console.log(
      `round ${round}: A → B     ${cross.rate}/s (${cross.cpuUsPerMessage} µs CPU/msg over all nodes)`,
    );
  }
  // Fan-out to two other nodes, and spread: three publisher→subscriber pairs, one per node, at once.
  for (const [label, qos] of [
    ['QoS 0', 0],
    ['QoS 1', 1],
  ] as const) {
    console.log(`latency ${label}, one at a time, ${ROUNDS} rounds:`);
    console.log(`  same node ${await latency(a.url, a.url, `lat-same-${qos}`, qos)}`);
    console.log(`  A → C     ${await latency(a.url, c.url, `lat-cross-${qos}`, qos)}`);
  }
  console.log(`RSS per node after the run: ${pids.map((p) => `${rssMb(p).toFixed(0)} MB`).join(', ')}`);
  console.log(`load at end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await redis.stop();
}
