/**
 * What a SUBSCRIBE costs on a cluster node: SUBACK latency for a filter new to the node (its
 * summary changes: HSET, the notice, and the other nodes' confirmations, which the SUBACK waits
 * for) and for a filter the node has already (no notice), one at a time; then a storm of clients
 * subscribing to filters of their own at once.
 *
 *   pnpm --filter @x/broker-cluster bench:subscribe     # ROUNDS=500 STORM=200 to change sizes
 *
 * Needs redis-server on PATH. Three nodes, processes of test/fixtures/node-child.ts on one Redis.
 */
import { readFileSync } from 'node:fs';
import { connect } from '@x/client';
import { startRedis } from '@x/test-helpers';
import { node } from './node.js';

const ROUNDS = Number(process.env.ROUNDS ?? 500);
const STORM = Number(process.env.STORM ?? 200);

function quantiles(times: number[]): string {
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const redis = await startRedis();
const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(redis.url, id)));
const url = nodes[0]!.url;
try {
  console.log(`# SUBACK latency on node a of 3, ${ROUNDS} SUBSCRIBEs one at a time; load ${load()}`);
  const first = await connect(url, { protocolVersion: 5 });
  const second = await connect(url, { protocolVersion: 5 });
  const fresh: number[] = [];
  const known: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let t0 = performance.now();
    await first.subscribe(`sub/${i}`, { qos: 1 });
    fresh.push(performance.now() - t0);
    t0 = performance.now();
    await second.subscribe(`sub/${i}`, { qos: 1 });
    known.push(performance.now() - t0);
  }
  console.log(`  new filter     ${quantiles(fresh)}`);
  console.log(`  known filter   ${quantiles(known)}`);
  await first.end();
  await second.end();

  const clients = await Promise.all(
    Array.from({ length: STORM }, () => connect(url, { protocolVersion: 5 })),
  );
  const t0 = performance.now();
  const each = await Promise.all(
    clients.map(async (c, i) => {
      await c.subscribe(`storm/${i}/#`, { qos: 1 });
      return performance.now() - t0;
    }),
  );
  console.log(
    `# storm: ${STORM} clients subscribe to a new filter each at once: all SUBACKs in ${Math.max(...each).toFixed(1)} ms (${quantiles(each)})`,
  );
  await Promise.all(clients.map((c) => c.end()));
  console.log(`load at end ${load()}`);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await redis.stop();
}
