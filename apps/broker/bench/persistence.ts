/**
 * What persistence costs: the mqtt-broker binary on each store, side by side with Mosquitto with
 * persistence on, under the same QoS 1 / QoS 2 load.
 *
 * Targets, each a separate process on a free port, all started once and kept for the whole run:
 *   memory              --storage memory (nothing survives a restart: the baseline)
 *   embedded-ack        the embedded SQLite store, durability 'acknowledged' (the default:
 *                       PUBACK/PUBREC after the group commit reached the OS; survives kill -9)
 *   embedded-fsync      the same store, durability 'fsync' (PUBACK/PUBREC after the group commit
 *                       was fsynced; survives a power cut): bound by the disk's fsync latency
 *   embedded-interval   the same store, durability 'interval' (commits on a timer; acks do not wait)
 *   redis               --storage redis://… against a redis-server started here (memory-only:
 *                       no RDB, no AOF, as @x/test-helpers starts it); its CPU is reported apart
 *   mosquitto           /usr/sbin/mosquitto, persistence true in a temp dir, autosave_interval
 *                       default (1800 s: it snapshots its memory now and then, it does not write
 *                       per message), max_inflight_messages 32 and no queue limit like ours here
 *   aedes-redis         (only when named in --targets) Aedes (apps/bench's dev dependency, its
 *                       launcher apps/bench/bench/aedes-broker.mjs) with aedes-persistence-redis,
 *                       its durable store, on a redis-server of its own; that server's CPU is
 *                       reported apart, as for redis. It runs 10 to 50 times slower than the
 *                       others: give it --messages 1000, so that its cells end within the cell
 *                       timeout. (A target whose cell fails is started again from nothing, so
 *                       that what it is still working through does not load the cells after.)
 *
 * Workloads (MQTT 3.1.1, 64-byte payloads, publishers with clean sessions, the subscriber a
 * persistent session subscribed with the publishers' QoS to `<base>/+`):
 *   online    10 publishers × N messages, at most 20 in flight each, to 1 subscriber connected
 *             throughout; msg/s = messages / (first publish → last delivery)
 *   offline   the subscriber subscribes and disconnects; the publishers publish everything (all
 *             acknowledged); then the subscriber reconnects and receives it all; msg/s = messages /
 *             (publish time + drain time), with both phases shown apart
 *
 * Rounds are interleaved (each round runs every workload on every target, the target order
 * rotating per round); the table shows medians over the rounds, after `--warmup-rounds` (default 1)
 * that are run and shown but not counted. Broker CPU per message is the
 * utime + stime of the broker process (every thread) from /proc/<pid>/stat around the workload;
 * in brackets the part of it spent by the thread that runs the event loop
 * (/proc/<pid>/task/<pid>/stat), so what a store's own threads cost shows apart. The load
 * generator (publishers and subscriber) runs in this process; its own CPU per message is shown per
 * cell and in the table, as it shares the machine's cores with the broker under test.
 * Every cell checks that each message arrived exactly once; a cell that lost or duplicated
 * anything is flagged.
 *
 *   npx -y pnpm@10 --filter @x/broker-app build
 *   npx -y pnpm@10 --filter @x/broker-app bench [-- --messages 4000 --rounds 3 --warmup-rounds 1 --dir /path/on/disk]
 *   (--targets memory,embedded-ack,… picks targets; --workloads qos1-online,… picks workloads;
 *   --no-redis leaves Redis out)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BenchConnection,
  BenchPublisher,
  type BrokerAddress,
  type DeliverySink,
  parseBroker,
  writePayloadTemplate,
} from '@x/bench';
import type { QoS } from '@x/packets';
import { findExecutable, freePort, type SpawnedServer, spawnServer, startRedis } from '@x/test-helpers';

const { values: args } = parseArgs({
  // pnpm passes the `--` before the bench's own options through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    messages: { type: 'string', default: '4000' },
    publishers: { type: 'string', default: '10' },
    window: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    // Rounds run first and left out of the medians: a broker keeps getting faster over its first
    // cells (JIT tiers, heap growth), memory mode more than the stores, so the first round's ratios
    // say more about warm-up than about persistence.
    'warmup-rounds': { type: 'string', default: '1' },
    dir: { type: 'string', default: tmpdir() },
    targets: { type: 'string' },
    workloads: { type: 'string' },
    'no-redis': { type: 'boolean', default: false },
    'cell-timeout': { type: 'string', default: '60000' },
  },
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`persistence bench: --${name} ${value}: expected a positive integer\n`);
    process.exit(2);
  }
  return n;
}

const MESSAGES = positive('messages', args.messages);
const PUBLISHERS = positive('publishers', args.publishers);
const WINDOW = positive('window', args.window);
const ROUNDS = positive('rounds', args.rounds);
const WARMUP_ROUNDS = args['warmup-rounds'] === '0' ? 0 : positive('warmup-rounds', args['warmup-rounds']);
const CELL_TIMEOUT = positive('cell-timeout', args['cell-timeout']);
const PAYLOAD_SIZE = 64;
const TOTAL = MESSAGES * PUBLISHERS;
const CLOCK_TICK_US = 1e6 / 100; // USER_HZ: 100 on Linux

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(
    'persistence bench: apps/broker/dist/main.js is missing: run npx -y pnpm@10 --filter @x/broker-app build\n',
  );
  process.exit(2);
}

// ---------------------------------------------------------------------------------------- targets

interface Target {
  name: string;
  address: BrokerAddress;
  pid: number;
  /** A second process whose CPU is part of the cost (redis-server), or none. */
  sidePid?: number;
  stop(): Promise<void>;
}

const ALL_TARGETS = [
  'memory',
  'embedded-ack',
  'embedded-fsync',
  'embedded-interval',
  'redis',
  'mosquitto',
  'aedes-redis',
] as const;
type TargetName = (typeof ALL_TARGETS)[number];

let wanted: TargetName[] = args.targets
  ? (args.targets.split(',') as TargetName[])
  : ALL_TARGETS.filter((t) => t !== 'aedes-redis' && !(args['no-redis'] && t === 'redis'));
for (const t of wanted) {
  if (!ALL_TARGETS.includes(t)) {
    process.stderr.write(`persistence bench: --targets ${t}: expected some of ${ALL_TARGETS.join(', ')}\n`);
    process.exit(2);
  }
}
if (!findExecutable('mosquitto')) wanted = wanted.filter((t) => t !== 'mosquitto');
if (!findExecutable('redis-server')) wanted = wanted.filter((t) => t !== 'redis' && t !== 'aedes-redis');
/** Aedes' launcher, shared with `pnpm bench:brokers`; it resolves `aedes` from apps/bench. */
const aedesMain = fileURLToPath(new URL('../../bench/bench/aedes-broker.mjs', import.meta.url));

const ALL_WORKLOADS: Array<[Mode, QoS]> = [
  ['online', 1],
  ['offline', 1],
  ['online', 2],
  ['offline', 2],
];
const WORKLOADS = args.workloads
  ? args.workloads.split(',').map((name) => {
      const found = ALL_WORKLOADS.find(([mode, qos]) => `qos${qos}-${mode}` === name);
      if (found === undefined) {
        process.stderr.write(
          `persistence bench: --workloads ${name}: expected some of ${ALL_WORKLOADS.map(([m, q]) => `qos${q}-${m}`).join(', ')}\n`,
        );
        process.exit(2);
      }
      return found;
    })
  : ALL_WORKLOADS;

const workDir = mkdtempSync(join(args.dir, 'persistence-bench-'));

/** The binary with a JSON config: limits raised so N × publishers fit an offline queue. */
async function startOurs(name: TargetName, storage: Record<string, unknown>): Promise<SpawnedServer> {
  const port = await freePort();
  const config = join(workDir, `${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      broker: { maxQueuedMessages: TOTAL * 2, maxQueuedBytes: 1024 * 1024 * 1024 },
      storage,
      log: { level: 'warn', format: 'json' },
    }),
  );
  return spawnServer({
    command: process.execPath,
    args: [main, '--config', config, '--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off'],
    port,
  });
}

async function startTarget(name: TargetName): Promise<Target> {
  const wrap = (server: SpawnedServer, extra: Partial<Target> = {}): Target => ({
    name,
    address: parseBroker(`tcp://127.0.0.1:${server.port}`),
    pid: server.process.pid ?? 0,
    stop: () => server.stop(),
    ...extra,
  });
  switch (name) {
    case 'memory':
      return wrap(await startOurs(name, { type: 'memory' }));
    case 'embedded-ack':
      return wrap(
        await startOurs(name, {
          type: 'embedded',
          dataDir: join(workDir, name),
          durability: 'acknowledged',
        }),
      );
    case 'embedded-fsync':
      return wrap(
        await startOurs(name, { type: 'embedded', dataDir: join(workDir, name), durability: 'fsync' }),
      );
    case 'embedded-interval':
      return wrap(
        await startOurs(name, { type: 'embedded', dataDir: join(workDir, name), durability: 'interval' }),
      );
    case 'redis': {
      const redis = await startRedis();
      const server = await startOurs(name, { type: 'redis', url: redis.url });
      return wrap(server, {
        sidePid: redis.process.pid ?? 0,
        stop: async () => {
          await server.stop();
          await redis.stop();
        },
      });
    }
    case 'aedes-redis': {
      const redis = await startRedis();
      const port = await freePort();
      const server = await spawnServer({
        command: process.execPath,
        args: [aedesMain, String(port), redis.url],
        port,
      });
      return wrap(server, {
        sidePid: redis.process.pid ?? 0,
        stop: async () => {
          await server.stop();
          await redis.stop();
        },
      });
    }
    case 'mosquitto': {
      const port = await freePort();
      const dir = join(workDir, 'mosquitto');
      rmSync(dir, { recursive: true, force: true });
      const conf = join(workDir, 'mosquitto.conf');
      writeFileSync(
        conf,
        [
          `listener ${port} 127.0.0.1`,
          'allow_anonymous true',
          'persistence true',
          `persistence_location ${dir}/`,
          'max_inflight_messages 32',
          'max_queued_messages 0',
          'log_type error',
          '',
        ].join('\n'),
      );
      mkdirSync(dir, { recursive: true });
      return wrap(
        await spawnServer({ command: findExecutable('mosquitto') ?? 'mosquitto', args: ['-c', conf], port }),
      );
    }
  }
}

/**
 * utime + stime of a process, in clock ticks: every thread, or with `mainThread` only the thread
 * that runs the event loop (an embedded store's writer and checkpointer are threads of their own).
 */
function cpuTicks(pid: number | undefined, mainThread = false): number {
  if (!pid) return 0;
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Waits until no target process is still busy from the cell before (an embedded store checkpoints
 * its WAL after a burst, Mosquitto or Redis may still be writing), so that work is not charged to
 * the next cell's target: at most 1 clock tick (10 ms of CPU) per process over 250 ms, for at most
 * 15 s. Returns how long it waited.
 */
async function quiesce(targets: Target[]): Promise<number> {
  const pids = targets.flatMap((t) => (t.sidePid ? [t.pid, t.sidePid] : [t.pid]));
  const start = Date.now();
  let before = pids.map((pid) => cpuTicks(pid));
  while (Date.now() - start < 15_000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = pids.map((pid) => cpuTicks(pid));
    const busy = now.some((ticks, i) => ticks - (before[i] ?? 0) > 1);
    before = now;
    if (!busy) break;
  }
  return Date.now() - start;
}

// ---------------------------------------------------------------------------------------- workloads

type Mode = 'online' | 'offline';

interface Cell {
  target: string;
  mode: Mode;
  qos: QoS;
  /** Messages per second over the whole workload. */
  rate: number;
  /** Offline: publish phase and drain phase rates. */
  inRate?: number;
  outRate?: number;
  cpuUsPerMsg: number;
  /** The part of `cpuUsPerMsg` spent by the broker's main thread. */
  mainCpuUsPerMsg: number;
  sideCpuUsPerMsg?: number;
  /** CPU of this process (the load generator: publishers and subscriber) per message. */
  generatorCpuUsPerMsg?: number;
  /** The counted round it ran in (0 first). */
  round?: number;
  lost: number;
  duplicated: number;
  error?: string;
}

/** Counts each (publisher, sequence) once; resolves `complete` when every message arrived. */
class Tally implements DeliverySink {
  readonly #seen: Uint8Array[];
  received = 0;
  duplicated = 0;
  foreignCount = 0;
  #onComplete: (() => void) | null = null;

  constructor(publisherIds: number[]) {
    this.#seen = [];
    for (const id of publisherIds) this.#seen[id] = new Uint8Array(MESSAGES);
  }

  delivered(publisherId: number, sequence: number): void {
    const seen = this.#seen[publisherId];
    if (!seen || sequence >= MESSAGES) {
      this.foreignCount++;
      return;
    }
    if (seen[sequence]) {
      this.duplicated++;
      return;
    }
    seen[sequence] = 1;
    this.received++;
    if (this.received === TOTAL) this.#onComplete?.();
  }

  foreign(): void {
    this.foreignCount++;
  }

  complete(): Promise<void> {
    if (this.received === TOTAL) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onComplete = resolve;
    });
  }
}

let cellCounter = 0;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} not done within ${CELL_TIMEOUT} ms`)), CELL_TIMEOUT);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Publishes N messages, keeping `WINDOW` in flight; resolves when all are acknowledged. Freed
 * window slots are refilled once per event-loop turn (as mqtt-bench's publishers do), so the
 * PUBACKs of one read become one write, not one write each.
 */
function publishAll(publisher: BenchPublisher, connection: BenchConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    let scheduled = false;
    const pump = () => {
      scheduled = false;
      if (publisher.acknowledged + publisher.rejected === MESSAGES) {
        if (publisher.rejected > 0) reject(new Error(`${publisher.rejected} publishes refused`));
        else resolve();
        return;
      }
      const count = Math.min(publisher.credits, MESSAGES - publisher.sent);
      if (count <= 0) return;
      const now = performance.now() * 1e6;
      if (!publisher.write(count, now, 0, now)) connection.onceDrained(pump);
    };
    publisher.onCredit = () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(pump);
    };
    connection.onClose = (error) => {
      if (publisher.acknowledged < MESSAGES) reject(error ?? new Error('publisher connection closed'));
    };
    pump();
  });
}

async function runCell(target: Target, mode: Mode, qos: QoS): Promise<Cell> {
  const cell = ++cellCounter;
  const runTag = (Math.random() * 0x10000) | 0;
  const base = `persistence-bench/${cell}`;
  const subscriberId = `pb-sub-${process.pid}-${cell}`;
  const connection = (clientId: string, clean: boolean, maxInflight = 1000, sink?: DeliverySink) =>
    BenchConnection.open({
      address: target.address,
      tls: { rejectUnauthorized: true },
      protocolVersion: 4,
      clientId,
      clean,
      maxInflight,
      runTag,
      connectTimeoutMs: 10_000,
      ...(sink ? { sink } : {}),
    });
  const payload = Buffer.alloc(PAYLOAD_SIZE);
  writePayloadTemplate(payload, 0, PAYLOAD_SIZE, runTag);
  const ids = Array.from({ length: PUBLISHERS }, (_, i) => i);
  const tally = new Tally(ids);
  const opened: BenchConnection[] = [];
  const result: Cell = {
    target: target.name,
    mode,
    qos,
    rate: 0,
    cpuUsPerMsg: 0,
    mainCpuUsPerMsg: 0,
    lost: 0,
    duplicated: 0,
  };
  try {
    let subscriber = await connection(subscriberId, false, 1000, tally);
    opened.push(subscriber);
    await subscriber.subscribe([`${base}/+`], qos);
    if (mode === 'offline') await subscriber.disconnect();
    const publishers = await Promise.all(
      ids.map(async (i) => {
        const c = await connection(`pb-pub-${process.pid}-${cell}-${i}`, true, WINDOW);
        opened.push(c);
        return { c, p: new BenchPublisher(c, { topic: `${base}/${i}`, qos, payload, publisherId: i }) };
      }),
    );
    const cpu0 = cpuTicks(target.pid);
    const main0 = cpuTicks(target.pid, true);
    const side0 = cpuTicks(target.sidePid);
    const gen0 = process.cpuUsage();
    const t0 = performance.now();
    const published = Promise.all(publishers.map(({ c, p }) => publishAll(p, c)));
    let tPublished = 0;
    if (mode === 'online') {
      await withTimeout(Promise.all([published, tally.complete()]), 'online workload');
    } else {
      await withTimeout(published, 'publishing into the offline session');
      tPublished = performance.now();
      // The queued messages may come in the same read as CONNACK: the sink is there from the start.
      subscriber = await connection(subscriberId, false, 1000, tally);
      opened.push(subscriber);
      await withTimeout(tally.complete(), 'draining the offline session');
    }
    const t1 = performance.now();
    const cpu1 = cpuTicks(target.pid);
    const main1 = cpuTicks(target.pid, true);
    const side1 = cpuTicks(target.sidePid);
    const gen1 = process.cpuUsage(gen0);
    result.generatorCpuUsPerMsg = (gen1.user + gen1.system) / TOTAL;
    result.rate = TOTAL / ((t1 - t0) / 1000);
    if (mode === 'offline') {
      result.inRate = TOTAL / ((tPublished - t0) / 1000);
      result.outRate = TOTAL / ((t1 - tPublished) / 1000);
    }
    result.cpuUsPerMsg = ((cpu1 - cpu0) * CLOCK_TICK_US) / TOTAL;
    result.mainCpuUsPerMsg = ((main1 - main0) * CLOCK_TICK_US) / TOTAL;
    if (target.sidePid) result.sideCpuUsPerMsg = ((side1 - side0) * CLOCK_TICK_US) / TOTAL;
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    result.lost = TOTAL - tally.received;
    result.duplicated = tally.duplicated;
    await Promise.all(opened.map((c) => c.disconnect()));
    // Forget the subscriber's session so the stores do not grow from cell to cell.
    try {
      await (await connection(subscriberId, true)).disconnect();
    } catch {}
  }
  return result;
}

// ---------------------------------------------------------------------------------------- run

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function run(): Promise<void> {
  const started = Date.now();
  const mosquitto = findExecutable('mosquitto');
  const mosquittoVersion = mosquitto
    ? (spawnSync(mosquitto, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'mosquitto')
    : 'no mosquitto';
  process.stdout.write(
    `persistence bench: ${PUBLISHERS} publishers × ${MESSAGES} messages of ${PAYLOAD_SIZE} bytes, window ${WINDOW}, ` +
      `${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up, MQTT 3.1.1\n` +
      `host ${hostname()}: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, ` +
      `${mosquittoVersion}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; data in ${workDir}\n`,
  );
  const targets: Target[] = [];
  const cells: Cell[] = [];
  try {
    for (const name of wanted) targets.push(await startTarget(name));
    const workloads = WORKLOADS;
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      for (const [mode, qos] of workloads) {
        for (let k = 0; k < targets.length; k++) {
          const index = (k + round + WARMUP_ROUNDS) % targets.length;
          const target = targets[index] as Target;
          const settled = await quiesce(targets);
          const cell = await runCell(target, mode, qos);
          cell.round = round;
          if (round >= 0) cells.push(cell);
          process.stdout.write(
            `  ${round >= 0 ? `round ${round + 1}` : 'warm-up'} QoS ${qos} ${mode.padEnd(7)} ${target.name.padEnd(18)} ` +
              `${fmt(cell.rate).padStart(8)} msg/s ${fmt(cell.cpuUsPerMsg, 1).padStart(6)} µs/msg` +
              ` (main thread ${fmt(cell.mainCpuUsPerMsg, 1)}; generator ${fmt(cell.generatorCpuUsPerMsg, 1)})` +
              (settled > 300 ? `  (waited ${(settled / 1000).toFixed(1)} s for the targets to settle)` : '') +
              (cell.error ? `  ERROR ${cell.error}` : '') +
              (cell.lost || cell.duplicated ? `  lost ${cell.lost} duplicated ${cell.duplicated}` : '') +
              '\n',
          );
          if (cell.error) {
            // A target that did not finish its cell may still be working through it (Aedes
            // draining a queue after the cell timeout): it would load the machine for the cells
            // after, so it starts again from nothing.
            await target.stop();
            targets[index] = await startTarget(target.name as TargetName);
          }
        }
      }
    }
  } finally {
    for (const target of targets) await target.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const rows: string[] = [];
  rows.push(
    '| workload | target | msg/s | in / out msg/s | broker CPU µs/msg (main thread) | generator µs/msg | vs memory (msg/s) | vs Mosquitto (msg/s) | CPU vs memory | CPU vs Mosquitto | CPU vs Aedes + Redis |',
  );
  rows.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const workloadsSeen = [...new Set(cells.map((c) => `${c.qos}|${c.mode}`))];
  for (const key of workloadsSeen) {
    const [qosText, mode] = key.split('|');
    const of = (name: string) =>
      cells.filter((c) => c.target === name && `${c.qos}|${c.mode}` === key && !c.error);
    const stat = (name: string) => {
      const list = of(name);
      return {
        rate: median(list.map((c) => c.rate)),
        inRate: median(list.map((c) => c.inRate ?? Number.NaN)),
        outRate: median(list.map((c) => c.outRate ?? Number.NaN)),
        cpu: median(list.map((c) => c.cpuUsPerMsg)),
        main: median(list.map((c) => c.mainCpuUsPerMsg)),
        side: median(list.map((c) => c.sideCpuUsPerMsg ?? Number.NaN)),
        generator: median(list.map((c) => c.generatorCpuUsPerMsg ?? Number.NaN)),
        // The broker's and its Redis server's together: what the CPU ratios compare.
        total: median(list.map((c) => c.cpuUsPerMsg + (c.sideCpuUsPerMsg ?? 0))),
        n: list.length,
      };
    };
    const memory = stat('memory');
    const mosquitto = stat('mosquitto');
    const aedes = stat('aedes-redis');
    for (const target of targets) {
      const s = stat(target.name);
      const bad = cells.filter(
        (c) =>
          c.target === target.name && `${c.qos}|${c.mode}` === key && (c.error || c.lost || c.duplicated),
      ).length;
      rows.push(
        `| QoS ${qosText} ${mode} | ${target.name}${bad ? ` (${bad} failed)` : ''} | ${fmt(s.rate)} | ` +
          `${mode === 'offline' ? `${fmt(s.inRate)} / ${fmt(s.outRate)}` : ''} | ` +
          `${fmt(s.cpu, 1)} (${fmt(s.main, 1)})${Number.isFinite(s.side) ? ` + ${fmt(s.side, 1)} redis` : ''} | ` +
          `${fmt(s.generator, 1)} | ` +
          `${fmt(s.rate / memory.rate, 2)} | ${fmt(s.rate / mosquitto.rate, 2)} | ${fmt(s.cpu / memory.cpu, 2)} | ` +
          `${fmt(s.total / mosquitto.total, 2)} | ${fmt(s.total / aedes.total, 2)} |`,
      );
    }
  }
  process.stdout.write(`\nmedians of ${ROUNDS} rounds (${TOTAL} messages per cell):\n\n${rows.join('\n')}\n`);
  const ack = cells.filter(
    (c) => c.target === 'embedded-ack' && c.qos === 1 && c.mode === 'online' && !c.error,
  );
  const mem = cells.filter((c) => c.target === 'memory' && c.qos === 1 && c.mode === 'online' && !c.error);
  if (ack.length && mem.length) {
    const ratio = median(ack.map((c) => c.rate)) / median(mem.map((c) => c.rate));
    // The same ratio round by round: how far one run's figure is from the next.
    const perRound = ack.flatMap((a) => {
      const m = mem.find((c) => c.round === a.round);
      return m === undefined ? [] : [fmt(a.rate / m.rate, 2)];
    });
    process.stdout.write(
      `\nembedded-ack / memory, QoS 1 online: ${fmt(ratio, 2)} (target ≥ 0.70: ${ratio >= 0.7 ? 'met' : 'NOT met'}; ` +
        `per round ${perRound.join(', ')})\n`,
    );
  }
  const failed = cells.filter((c) => c.error || c.lost || c.duplicated);
  for (const c of failed) {
    process.stdout.write(
      `failed: ${c.target} QoS ${c.qos} ${c.mode}: ${c.error ?? ''} lost ${c.lost} duplicated ${c.duplicated}\n`,
    );
  }
  process.stdout.write(
    `total ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  if (failed.length) process.exitCode = 1;
}

await run();
