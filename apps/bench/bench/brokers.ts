/**
 * `pnpm bench:brokers`: our broker against Mosquitto and Aedes, the same mqtt-bench scenarios against
 * each, interleaved and repeated, medians and ratios to ours (in memory).
 *
 * Brokers, each its own process on a free port on 127.0.0.1, started here:
 *   ours-memory           apps/broker/dist/main.js --storage memory
 *   ours-embedded         the same binary with its default store (embedded SQLite, acknowledged)
 *   mosquitto             /usr/sbin/mosquitto, persistence false
 *   mosquitto-persistent  the same with persistence true (it snapshots on autosave/shutdown only)
 *   aedes                 Aedes (dev dependency) on a plain net server, see aedes-broker.mjs
 *   ours-baseline         with --baseline DIR: DIR/apps/broker/dist/main.js --storage memory, another
 *                         built checkout (e.g. main) measured in the same run as this one
 * Connection limits are raised on every broker; queue and in-flight limits are each broker's own
 * defaults.
 *
 * Each scenario runs `--rounds` times against every broker, the broker order rotating per round;
 * broker CPU (utime + stime from /proc/<pid>/stat) and RSS (/proc/<pid>/status, sampled every
 * 100 ms) are read around every run. Connection scenarios restart every broker before each round, so
 * that RSS per connection is growth over a fresh process.
 *
 *   pnpm bench:brokers [-- --rounds 2] [--scenarios qos1-window-20,idle-10k] [--targets ours-memory,mosquitto]
 *                      [--out DIR] [--scale 0.1] [--baseline DIR]
 *   pnpm bench:brokers -- --scenarios connections-100k --targets ours-memory,mosquitto
 *                      [--connections 100000] [--connect-rate 1000]   (not in the default set; needs an open-file hard limit
 *                      above the count: it says so in one line and skips when the limit is lower)
 *
 * The root script raises the open-file limit to the hard limit (`ulimit -n $(ulimit -Hn)`) before it
 * starts; brokers and the load generator inherit it. Writes brokers.json (every run), brokers.html
 * and brokers.md (the tables) under --out (default bench-results/brokers-<time>).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type BrokerTarget,
  type Comparison,
  formatComparison,
  formatComparisonMarkdown,
  formatMetric,
  METRIC_INFO,
  metricsOf,
  renderComparisonHtml,
  runComparison,
  type ScenarioInput,
  type ScenarioName,
  serialScavenges,
} from '@x/bench';
import { findExecutable, freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import { StallProbe, type Stalls } from './stall-probe.js';

/** One row of the comparison: an mqtt-bench scenario with fixed settings. */
interface BenchScenario {
  id: string;
  title: string;
  scenario: ScenarioName;
  input: ScenarioInput;
  /** Restart every broker before each round (memory per connection from a fresh process). */
  fresh?: boolean;
  /** Open files the load generator and each broker need (checked against the limit). */
  files?: number;
}

/** Message counts scale with `--scale`; connection counts and rates do not. */
function scenarios(scale: number, connections: number, connectRate: number): BenchScenario[] {
  const n = (count: number) => Math.max(1, Math.round(count * scale));
  const ownTopic = (clients: number, messages: number, qos: 0 | 1 | 2, window?: number): ScenarioInput => ({
    publishers: clients,
    subscribers: clients,
    topics: clients,
    numMessages: n(messages),
    qos,
    ...(window ? { maxInflight: window } : {}),
  });
  return [
    {
      id: 'qos0-own-topic',
      title: '10 clients × 10 000 QoS 0, own topic',
      scenario: 'pub',
      input: ownTopic(10, 10_000, 0),
    },
    {
      id: 'qos0-100-clients',
      title: '100 clients × 1 000 QoS 0, own topic',
      scenario: 'pub',
      input: ownTopic(100, 1_000, 0),
    },
    {
      id: 'qos1-window-20',
      title: '10 × 2 000 QoS 1, window 20',
      scenario: 'pub',
      input: ownTopic(10, 2_000, 1, 20),
    },
    {
      id: 'qos2-window-20',
      title: '10 × 1 000 QoS 2, window 20',
      scenario: 'pub',
      input: ownTopic(10, 1_000, 2, 20),
    },
    {
      id: 'fanout-100',
      title: 'fan-out 1 → 100 QoS 0, 2 000 messages (deliveries/s)',
      scenario: 'sub',
      input: { publishers: 1, subscribers: 100, numMessages: n(2_000) },
    },
    {
      id: 'idle-10k',
      title: '10 000 idle connections, one subscription each',
      scenario: 'conn',
      // Paced: a storm of 10 000 at once times out in the load generator on a shared 2-core
      // machine, and what this row measures is memory, not the connect rate.
      input: {
        numClients: 10_000,
        subscribe: true,
        holdMs: 1_000,
        workers: 2,
        connectRate: 1_000,
        timeoutMs: 30_000,
      },
      fresh: true,
      files: 10_100,
    },
    {
      id: 'stress-2x10000',
      title: 'mqtt-stresser metric, 2 workers × 10 000 QoS 0',
      scenario: 'stress',
      input: { numClients: 2, numMessages: n(10_000) },
    },
    {
      id: 'latency-qos0',
      title: 'latency at 20 000 msg/s, QoS 0, 5 s after a 1 s warm-up',
      scenario: 'latency',
      input: { rate: 20_000, durationMs: Math.max(500, 5_000 * Math.min(1, scale)), qos: 0 },
    },
    {
      id: 'latency-qos1',
      title: 'latency at 20 000 msg/s, QoS 1, 5 s after a 1 s warm-up',
      scenario: 'latency',
      input: { rate: 20_000, durationMs: Math.max(500, 5_000 * Math.min(1, scale)), qos: 1 },
    },
    {
      id: 'connections-100k',
      title: `${connections.toLocaleString('en')} connections held`,
      scenario: 'conn',
      input: {
        numClients: connections,
        holdMs: 1_000,
        workers: 2,
        // Paced (--connect-rate, default 1 000/s, as idle-10k): on a shared 2-core machine an unpaced
        // storm overflows the listen backlogs and the SYN retries (1, 3, 7, 15, 31 s) outlast timeouts.
        connectRate,
        // Unbound sockets get ~28 000 ephemeral ports towards one broker port; beyond that the
        // sockets bind 127.0.0.1 … .N. A bound socket's port comes from bind(), which scans for a
        // free port and slows down as they fill: about 10 000 per address keeps it quick.
        ...(connections > 20_000 ? { sourceAddresses: Math.ceil(connections / 10_000) } : {}),
        timeoutMs: 60_000,
        globalTimeoutMs: 600_000,
      },
      fresh: true,
      files: connections + 500,
    },
  ];
}
const OPT_IN = new Set(['connections-100k']);
// This process is the load generator: its pauses count in the latency rows.
serialScavenges();

const BROKERS = [
  'ours-memory',
  'ours-embedded',
  'mosquitto',
  'mosquitto-persistent',
  'aedes',
  'ours-baseline',
] as const;
type BrokerName = (typeof BROKERS)[number];

function usage(message: string): never {
  process.stderr.write(`bench:brokers: ${message}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  // pnpm passes the `--` before the script's own options through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    rounds: { type: 'string', default: '2' },
    scenarios: { type: 'string' },
    targets: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string', default: '1' },
    connections: { type: 'string', default: '100000' },
    'connect-rate': { type: 'string', default: '1000' },
    baseline: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds ${args.rounds}: expected an integer ≥ 1`);
const scale = Number(args.scale);
if (!(scale > 0 && scale <= 10)) usage(`--scale ${args.scale}: expected a number above 0, at most 10`);
const connections = Number(args.connections);
if (!Number.isInteger(connections) || connections < 1)
  usage(`--connections ${args.connections}: expected an integer ≥ 1`);
const connectRate = Number(args['connect-rate']);
if (!(connectRate > 0)) usage(`--connect-rate ${args['connect-rate']}: expected a number above 0`);
const all = scenarios(scale, connections, connectRate);
const chosen = args.scenarios
  ? args.scenarios
      .split(',')
      .map(
        (id) =>
          all.find((s) => s.id === id) ??
          usage(`--scenarios ${id}: expected some of ${all.map((s) => s.id).join(', ')}`),
      )
  : all.filter((s) => !OPT_IN.has(s.id));
const offered = BROKERS.filter((b) => b !== 'ours-baseline' || args.baseline);
const targets = (args.targets?.split(',') ?? offered).map((t) =>
  offered.includes(t as BrokerName)
    ? (t as BrokerName)
    : usage(`--targets ${t}: expected some of ${offered.join(', ')}`),
);

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ourMain = join(root, 'apps/broker/dist/main.js');
const baselineMain = args.baseline ? join(resolve(args.baseline), 'apps/broker/dist/main.js') : undefined;
const aedesMain = fileURLToPath(new URL('./aedes-broker.mjs', import.meta.url));
const mosquitto = findExecutable('mosquitto');
try {
  readFileSync(ourMain);
} catch {
  usage(`${ourMain} is missing: run npx -y pnpm@10 --filter @x/broker-app build`);
}
if (baselineMain) {
  try {
    readFileSync(baselineMain);
  } catch {
    usage(`--baseline ${args.baseline}: ${baselineMain} is missing (build that checkout first)`);
  }
}
if (!mosquitto && targets.some((t) => t.startsWith('mosquitto')))
  usage('mosquitto not found (apt-get install mosquitto)');

const outDir = resolve(
  args.out ?? join(root, 'bench-results', `brokers-${new Date().toISOString().replace(/[:.]/g, '-')}`),
);
mkdirSync(outDir, { recursive: true });
const workDir = mkdtempSync(join(tmpdir(), 'bench-brokers-'));

/** The soft (or hard) open-file limit of this process, which the brokers inherit. */
function openFileLimit(which: 'soft' | 'hard' = 'soft'): number {
  const line = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    readFileSync('/proc/self/limits', 'utf8'),
  );
  const value = which === 'soft' ? line?.[1] : line?.[2];
  return value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value ?? 1024);
}

interface Running {
  target: BrokerTarget;
  server: SpawnedServer;
}

let starts = 0;
/** Starts one broker on a free port; each start gets a fresh data directory. */
async function start(name: BrokerName): Promise<Running> {
  const port = await freePort();
  const dir = join(workDir, `${name}-${++starts}`);
  mkdirSync(dir, { recursive: true });
  let server: SpawnedServer;
  if (name === 'ours-memory' || name === 'ours-embedded' || name === 'ours-baseline') {
    const config = join(dir, 'broker.json');
    writeFileSync(
      config,
      JSON.stringify({
        listeners: [{ type: 'tcp', host: '127.0.0.1', port, maxConnections: 1_000_000 }],
        // connectTimeout as long as the load generator's own: a generator starved of CPU on a shared
        // machine sends CONNECT late, and Mosquitto has no such timeout to hold against it.
        broker: { maxConnections: 1_000_000, connectTimeout: 60_000 },
        storage:
          name === 'ours-embedded' ? { type: 'embedded', dataDir: join(dir, 'data') } : { type: 'memory' },
        log: { level: 'warn', format: 'json' },
      }),
    );
    server = await spawnServer({
      command: process.execPath,
      args: [
        name === 'ours-baseline' ? (baselineMain as string) : ourMain,
        '--config',
        config,
        '--http',
        'off',
      ],
      port,
    });
  } else if (name === 'aedes') {
    server = await spawnServer({ command: process.execPath, args: [aedesMain, String(port)], port });
  } else {
    const conf = join(dir, 'mosquitto.conf');
    const persistent = name === 'mosquitto-persistent';
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        `persistence ${persistent}`,
        ...(persistent ? [`persistence_location ${dir}/`] : []),
        'max_connections -1',
        'log_type error',
        '',
      ].join('\n'),
    );
    server = await spawnServer({ command: mosquitto as string, args: ['-c', conf], port });
  }
  return { target: { name, url: `tcp://127.0.0.1:${port}`, pid: server.process.pid as number }, server };
}

const running = new Map<string, Running>();
async function startAll(): Promise<void> {
  for (const name of targets) running.set(name, await start(name));
}
async function restart(name: string): Promise<BrokerTarget> {
  await running.get(name)?.server.stop();
  const fresh = await start(name as BrokerName);
  running.set(name, fresh);
  return fresh.target;
}
const restarts: string[] = [];
/** A broker that died in an earlier run is reported (its last output) and started again. */
async function revive(name: string): Promise<BrokerTarget | undefined> {
  const r = running.get(name);
  if (!r || (r.server.process.exitCode === null && r.server.process.signalCode === null)) return undefined;
  const last = r.server.output().trimEnd().split('\n').slice(-3).join(' | ');
  const note = `${name} exited (${r.server.process.exitCode ?? r.server.process.signalCode}) and was restarted: ${last}`;
  restarts.push(note);
  process.stderr.write(`bench:brokers: ${note}\n`);
  return restart(name);
}
async function stopAll(): Promise<void> {
  for (const r of running.values()) await r.server.stop();
  running.clear();
}

/**
 * One line on what the stall probe saw during a latency scenario's runs: medians over the runs (with
 * their range) of how late an idle process woke up, its p99.9 and its worst.
 */
function stallNote(scenario: string): string | undefined {
  const seen = stalls.filter((s) => s.scenario === scenario);
  if (seen.length === 0) return undefined;
  const summary = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted[Math.floor(sorted.length / 2)] as number;
    return `${mid.toFixed(1)} ms (runs ${(sorted[0] as number).toFixed(1)}–${(sorted.at(-1) as number).toFixed(1)})`;
  };
  return (
    `The machine itself, meanwhile: an idle process that wakes up every millisecond woke up late by ` +
    `p99.9 ${summary(seen.map((s) => s.p999))}, at worst ${summary(seen.map((s) => s.max))}, median of ${seen.length} runs.`
  );
}

const limit = openFileLimit();
const host = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
process.stderr.write(
  `bench:brokers: ${chosen.length} scenarios × ${targets.length} brokers × ${rounds} rounds; open-file limit ${limit}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${host}\nbench:brokers: results go to ${outDir}\n`,
);

const comparisons: Comparison[] = [];
/** The stall probe's line under each latency comparison, for the markdown as for stdout. */
const stallNotes = new Map<Comparison, string>();
// Beside the latency rows, how late an idle process wakes up on this machine at the same time.
const probe = chosen.some((s) => s.scenario === 'latency') ? new StallProbe() : undefined;
const stalls: Array<Stalls & { scenario: string; broker: string; round: number }> = [];
const skipped: string[] = [];
const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());
try {
  await startAll();
  for (const s of chosen) {
    if (interrupted.signal.aborted) break;
    if (s.files && s.files > limit) {
      // The brokers and this process (the load generator's client sockets) each need one file per
      // connection. Raising a hard limit needs root with CAP_SYS_RESOURCE (`ulimit -Hn`,
      // systemd LimitNOFILE=, docker run --ulimit nofile=N:N).
      skipped.push(
        `${s.id}: needs ${s.files} open files per process (each broker, and the load generator), the limit is ${limit} (hard ${openFileLimit('hard')}); raise the hard limit as root (ulimit -Hn ${s.files}) or run with --connections ${Math.max(1, limit - 500)}`,
      );
      process.stderr.write(`bench:brokers: skipping ${skipped.at(-1)}\n`);
      continue;
    }
    const brokers = targets.map((t) => (running.get(t) as Running).target);
    const first = metricsOf(s.scenario)[0];
    const comparison = await runComparison({
      scenario: s.scenario,
      input: s.input,
      brokers,
      rounds,
      label: s.title,
      hooks: { signal: interrupted.signal, tool: { name: 'bench:brokers', version: '0' } },
      beforeRun: async (target: BrokerTarget) => {
        const replaced = await (s.fresh ? restart(target.name) : revive(target.name));
        if (s.scenario === 'latency') await probe?.reset();
        return replaced;
      },
      onRun: (run) => {
        const seen = s.scenario === 'latency' ? probe?.latest : undefined;
        if (seen) stalls.push({ ...seen, scenario: s.id, broker: run.broker, round: run.round });
        process.stderr.write(
          `bench:brokers: ${s.id} round ${run.round}/${rounds} ${run.broker}: ${first ? `${formatMetric(first, run.metrics[first])} ${METRIC_INFO[first].label}` : ''}` +
            (seen
              ? `  (an idle process woke up to ${seen.max.toFixed(1)} ms late, p99.9 ${seen.p999.toFixed(1)})`
              : '') +
            `${run.result.ok ? '' : `  FAILED: ${run.result.problems.join('; ')}`}\n`,
        );
      },
    });
    comparisons.push(comparison);
    process.stdout.write(`\n${formatComparison(comparison)}`);
    const note = stallNote(s.id);
    if (note) {
      stallNotes.set(comparison, note);
      process.stdout.write(`${note}\n`);
    }
    // Written after every scenario, so an interrupted run keeps what it measured.
    writeFileSync(
      join(outDir, 'brokers.json'),
      `${JSON.stringify({ host, rounds, scale, skipped, restarts, comparisons, stalls }, null, 2)}\n`,
    );
  }
} finally {
  await probe?.stop();
  await stopAll();
  rmSync(workDir, { recursive: true, force: true });
}
writeFileSync(join(outDir, 'brokers.html'), renderComparisonHtml(comparisons));
writeFileSync(
  join(outDir, 'brokers.md'),
  [
    `Machine: ${host}. Rounds: ${rounds}, scale ${scale}. Median per broker, (ratio) to ${targets[0]}.`,
    ...comparisons.map((c) => {
      const note = stallNotes.get(c);
      return `\n**${c.label}**\n\n${formatComparisonMarkdown(c)}${note ? `\n\n${note}` : ''}`;
    }),
    ...skipped.map((s) => `\nSkipped: ${s}`),
    ...restarts.map((s) => `\nRestarted: ${s}`),
  ].join('\n'),
);
process.stderr.write(`bench:brokers: wrote brokers.json, brokers.html and brokers.md to ${outDir}\n`);
