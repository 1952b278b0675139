/**
 * `pnpm bench:cluster`: throughput, latency, broker CPU per message and memory of 1, 2 and 3
 * `mqtt-broker --cluster redis://…` nodes, with mqtt-bench spreading publishers and subscribers over
 * the nodes (`publisherBrokers` / `subscriberBrokers`, the CLI's --publisher-broker and
 * --subscriber-broker).
 *
 * Configurations, each started once on free ports on 127.0.0.1 and left running side by side:
 *   standalone   apps/broker/dist/main.js --storage memory, no cluster (the reference)
 *   cluster-N    N nodes (N = 1, 2, 3) of the same binary with --cluster and their own redis-server
 * Placements of the clients on a cluster:
 *   local        publisher i and subscriber i on node i mod N: no message leaves its node
 *   cross        subscriber i on node (i + 1) mod N: every message takes a hop through Redis
 * Workloads: 10 publishers × 10 subscribers on their own topics at QoS 0 and at QoS 1 (window 20),
 * closed loop (throughput), and one publisher → one subscriber at a fixed 2 000 msg/s (latency).
 *
 * Rounds are interleaved over the configurations (order rotating per round), medians reported.
 * Broker CPU is the sum over the configuration's node processes (utime + stime from /proc), Redis
 * CPU separately, both per delivered message; RSS per node before and at the peak.
 *
 *   pnpm bench:cluster [-- --rounds 2] [--nodes 1,2,3] [--scale 1] [--out DIR]
 *
 * Writes cluster.json (every run) and cluster.md (the tables) under --out (default
 * bench-results/cluster-<time>).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  median,
  type ProcessUsage,
  ProcessWatcher,
  resolveScenario,
  runScenario,
  type ScenarioInput,
  sampleProcess,
} from '@x/bench';
import { freePort, type RunningRedis, type SpawnedServer, spawnServer, startRedis } from '@x/test-helpers';

function usage(message: string): never {
  process.stderr.write(`bench:cluster: ${message}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    rounds: { type: 'string', default: '2' },
    nodes: { type: 'string', default: '1,2,3' },
    scale: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds ${args.rounds}: expected an integer ≥ 1`);
const scale = Number(args.scale);
if (!(scale > 0 && scale <= 10)) usage(`--scale ${args.scale}: expected a number above 0, at most 10`);
const nodeCounts = args.nodes.split(',').map((n) => {
  const v = Number(n);
  return Number.isInteger(v) && v >= 1 && v <= 8 ? v : usage(`--nodes ${n}: expected integers 1–8`);
});

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ourMain = join(root, 'apps/broker/dist/main.js');
const outDir = resolve(
  args.out ?? join(root, 'bench-results', `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}`),
);
mkdirSync(outDir, { recursive: true });
const workDir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));

interface Node {
  url: string;
  server: SpawnedServer;
}
interface Configuration {
  name: string;
  nodes: Node[];
  redis: RunningRedis | null;
  /** RSS of each node right after start, before any client. */
  baseRss: number[];
}

let starts = 0;
async function startNode(redis: RunningRedis | null, nodeId: string): Promise<Node> {
  const port = await freePort();
  const dir = join(workDir, `node-${++starts}`);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'broker.json');
  writeFileSync(
    config,
    JSON.stringify({
      listeners: [{ type: 'tcp', host: '127.0.0.1', port }],
      storage: { type: 'memory' },
      log: { level: 'warn', format: 'json' },
    }),
  );
  const cluster = redis ? ['--cluster', redis.url, '--node-id', nodeId] : [];
  const server = await spawnServer({
    command: process.execPath,
    args: [ourMain, '--config', config, '--http', 'off', ...cluster],
    port,
  });
  return { url: `tcp://127.0.0.1:${port}`, server };
}

function rssOf(pid: number | undefined): number {
  return pid ? (sampleProcess(pid)?.rssBytes ?? 0) : 0;
}

async function startConfiguration(nodes: number | 'standalone'): Promise<Configuration> {
  const redis = nodes === 'standalone' ? null : await startRedis();
  const started: Node[] = [];
  for (let i = 0; i < (nodes === 'standalone' ? 1 : nodes); i++)
    started.push(await startNode(redis, `bench-${nodes}-${i}`));
  // Let the nodes finish joining (leases, summaries) before measuring anything.
  await new Promise((r) => setTimeout(r, 1_000));
  return {
    name: nodes === 'standalone' ? 'standalone' : `cluster-${nodes}`,
    nodes: started,
    redis,
    baseRss: started.map((n) => rssOf(n.server.process.pid)),
  };
}

interface Workload {
  id: string;
  title: string;
  scenario: 'pub' | 'latency';
  input: ScenarioInput;
}
const n = (count: number) => Math.max(1, Math.round(count * scale));
const WORKLOADS: Workload[] = [
  {
    id: 'qos0',
    title: '10 publishers × 10 subscribers, own topic, QoS 0, 10 000 messages each',
    scenario: 'pub',
    input: { publishers: 10, subscribers: 10, topics: 10, numMessages: n(10_000), qos: 0 },
  },
  {
    id: 'qos1',
    title: '10 publishers × 10 subscribers, own topic, QoS 1 window 20, 2 000 messages each',
    scenario: 'pub',
    input: { publishers: 10, subscribers: 10, topics: 10, numMessages: n(2_000), qos: 1, maxInflight: 20 },
  },
  {
    id: 'latency-qos0',
    title: 'latency, 1 → 1 at 2 000 msg/s, QoS 0, 3 s',
    scenario: 'latency',
    input: {
      publishers: 1,
      subscribers: 1,
      rate: 2_000,
      durationMs: Math.max(500, 3_000 * Math.min(1, scale)),
      qos: 0,
    },
  },
  {
    id: 'latency-qos1',
    title: 'latency, 1 → 1 at 2 000 msg/s, QoS 1, 3 s',
    scenario: 'latency',
    input: {
      publishers: 1,
      subscribers: 1,
      rate: 2_000,
      durationMs: Math.max(500, 3_000 * Math.min(1, scale)),
      qos: 1,
    },
  },
];

type Placement = 'local' | 'cross';
interface Run {
  workload: string;
  configuration: string;
  placement: Placement;
  round: number;
  ok: boolean;
  problems: string[];
  delivered: number;
  receiveRate: number;
  latencyP50: number | null;
  latencyP99: number | null;
  brokerCpuUsPerMessage: number | null;
  redisCpuUsPerMessage: number | null;
  rssPeakMiB: number[];
}

async function runOnce(w: Workload, c: Configuration, placement: Placement, round: number): Promise<Run> {
  const urls = c.nodes.map((node) => node.url);
  const subscriberUrls = placement === 'cross' ? [...urls.slice(1), ...urls.slice(0, 1)] : urls;
  const input: ScenarioInput = {
    ...w.input,
    broker: urls[0],
    publisherBrokers: urls,
    subscriberBrokers: subscriberUrls,
  };
  const nodeWatchers = c.nodes.map((node) => new ProcessWatcher(node.server.process.pid as number));
  const redisWatcher = c.redis ? new ProcessWatcher(c.redis.process.pid as number) : null;
  const result = await runScenario(resolveScenario(w.scenario, input));
  const usages = nodeWatchers.map((x) => x.stop());
  const redisUsage = redisWatcher?.stop() ?? null;
  const delivered = result.messages.received;
  const perMessage = (u: (ProcessUsage | null)[]) =>
    delivered > 0 && u.every((x) => x)
      ? (u.reduce((s, x) => s + (x?.cpuMs ?? 0), 0) * 1000) / delivered
      : null;
  return {
    workload: w.id,
    configuration: c.name,
    placement,
    round,
    ok: result.ok,
    problems: result.problems,
    delivered,
    receiveRate: result.throughput.receiveRate,
    latencyP50: result.latencyMs?.p50 ?? null,
    latencyP99: result.latencyMs?.p99 ?? null,
    brokerCpuUsPerMessage: perMessage(usages),
    redisCpuUsPerMessage: redisUsage ? perMessage([redisUsage]) : null,
    rssPeakMiB: usages.map((u) => (u ? u.rssPeakBytes / 2 ** 20 : 0)),
  };
}

const host = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
process.stderr.write(
  `bench:cluster: standalone + clusters of ${nodeCounts.join(', ')} nodes × ${WORKLOADS.length} workloads × ${rounds} rounds; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${host}\nbench:cluster: results go to ${outDir}\n`,
);

const configurations: Configuration[] = [];
const runs: Run[] = [];
const fmt = (v: number | null, digits = 0) =>
  v === null ? '—' : v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
try {
  configurations.push(await startConfiguration('standalone'));
  for (const count of nodeCounts) configurations.push(await startConfiguration(count));
  // Every (configuration, placement) pair; cross only where there is another node to cross to.
  const cases = configurations.flatMap((c) =>
    (c.nodes.length > 1 ? (['local', 'cross'] as const) : (['local'] as const)).map((placement) => ({
      c,
      placement,
    })),
  );
  for (const w of WORKLOADS) {
    for (let round = 1; round <= rounds; round++) {
      const shift = (round - 1) % cases.length;
      for (const { c, placement } of [...cases.slice(shift), ...cases.slice(0, shift)]) {
        const run = await runOnce(w, c, placement, round);
        runs.push(run);
        process.stderr.write(
          `bench:cluster: ${w.id} round ${round}/${rounds} ${c.name} ${placement}: ${fmt(run.receiveRate)} msg/s, p50 ${fmt(run.latencyP50, 2)} ms, broker ${fmt(run.brokerCpuUsPerMessage, 1)} µs/msg, redis ${fmt(run.redisCpuUsPerMessage, 1)} µs/msg${run.ok ? '' : `  FAILED: ${run.problems.join('; ')}`}\n`,
        );
        writeFileSync(
          join(outDir, 'cluster.json'),
          `${JSON.stringify({ host, rounds, scale, runs }, null, 2)}\n`,
        );
      }
    }
  }
} finally {
  for (const c of configurations) {
    for (const node of c.nodes) await node.server.stop();
    await c.redis?.stop();
  }
  rmSync(workDir, { recursive: true, force: true });
}

/** One markdown table per workload: medians over the rounds that accounted for every message. */
const lines = [
  `Machine: ${host}, shared with other work (load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ' ',
    )} at the end). Rounds: ${rounds}, scale ${scale}. Medians of the runs that accounted for every message.`,
  '',
  'Base RSS per node after start (MiB): ' +
    configurations
      .map((c) => `${c.name} ${c.baseRss.map((b) => (b / 2 ** 20).toFixed(0)).join('/')}`)
      .join(', '),
];
for (const w of WORKLOADS) {
  lines.push('', `**${w.title}**`, '');
  const latency = w.scenario === 'latency';
  lines.push(
    latency
      ? '| configuration | placement | p50 ms | p99 ms | broker CPU µs/msg (all nodes) | Redis CPU µs/msg | runs ok |'
      : '| configuration | placement | delivered msg/s | broker CPU µs/msg (all nodes) | Redis CPU µs/msg | RSS peak MiB per node | runs ok |',
    latency ? '| --- | --- | --- | --- | --- | --- | --- |' : '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const c of configurations) {
    for (const placement of ['local', 'cross'] as const) {
      const mine = runs.filter(
        (r) => r.workload === w.id && r.configuration === c.name && r.placement === placement,
      );
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.ok);
      const med = (f: (r: Run) => number | null) => median(ok.map(f));
      const rss = c.nodes.map((_, i) => fmt(med((r) => r.rssPeakMiB[i] ?? null))).join(' / ');
      lines.push(
        latency
          ? `| ${c.name} | ${placement} | ${fmt(
              med((r) => r.latencyP50),
              2,
            )} | ${fmt(
              med((r) => r.latencyP99),
              2,
            )} | ${fmt(
              med((r) => r.brokerCpuUsPerMessage),
              1,
            )} | ${fmt(
              med((r) => r.redisCpuUsPerMessage),
              1,
            )} | ${ok.length}/${mine.length} |`
          : `| ${c.name} | ${placement} | ${fmt(med((r) => r.receiveRate))} | ${fmt(
              med((r) => r.brokerCpuUsPerMessage),
              1,
            )} | ${fmt(
              med((r) => r.redisCpuUsPerMessage),
              1,
            )} | ${rss} | ${ok.length}/${mine.length} |`,
      );
    }
  }
}
const failures = runs.filter((r) => !r.ok);
for (const f of failures)
  lines.push(
    '',
    `Failed: ${f.workload} ${f.configuration} ${f.placement} round ${f.round}: ${f.problems.join('; ')}`,
  );
writeFileSync(join(outDir, 'cluster.md'), `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
process.stderr.write(`bench:cluster: wrote cluster.json and cluster.md to ${outDir}\n`);
