/**
 * @x/topics against qlobber configured as Aedes configures it, side by side in one process.
 *
 *   pnpm --filter @x/topics bench
 *   (= node --expose-gc --conditions=@x/source --import tsx bench/run.ts)
 *
 * BENCH_SCALE=0.1 shrinks every size for a quick look. Times are CPU time of this process (user +
 * system, GC threads included) rather than wall time, so other load on the machine blurs them less;
 * every timed section alternates the implementations and keeps the best of BENCH_ROUNDS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { QlobberTrue } from 'qlobber';
import { RetainedIndex } from '../src/index.ts';
import {
  ours,
  oursCached,
  oursInto,
  qlobberPlain,
  qlobberSub,
  type Router,
  type RouterKind,
} from './routers.ts';
import {
  AEDES_QLOBBER_OPTIONS,
  DEVICES_PER_SITE,
  distinctTopics,
  METRICS,
  prng,
  repeatingTopics,
  retainedTopics,
  SITES,
  type Subscribe,
  subscriptions,
} from './workload.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N_SUBS = Math.round(100_000 * SCALE);
const N_MATCHES = Math.round(1_000_000 * SCALE);
const N_CHURN = Math.round(50_000 * SCALE);
const N_RETAINED = Math.round(1_000_000 * SCALE);

/** CPU milliseconds spent in `fn`. */
function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

interface Row {
  scenario: string;
  unit: string;
  values: Map<string, number>;
  /** Throughput rows: higher is better. Memory rows: lower is better. */
  higherIsBetter: boolean;
}
const rows: Row[] = [];

function record(scenario: string, unit: string, higherIsBetter: boolean, values: Map<string, number>): void {
  rows.push({ scenario, unit, higherIsBetter, values });
}

function build(kind: RouterKind, subs: Subscribe[]): Router {
  const router = kind.create();
  for (const s of subs) router.subscribe(s);
  return router;
}

/** Best ops/s of each implementation over ROUNDS alternating rounds of `run` (which returns ops). */
function best(
  kinds: RouterKind[],
  run: (kind: RouterKind) => { ops: number; ms: number },
): Map<string, number> {
  const out = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      const { ops, ms } = run(kind);
      out.set(kind.name, Math.max(out.get(kind.name) ?? 0, (ops / ms) * 1000));
    }
  }
  return out;
}

function measureMemory(kind: string, count: number): number {
  const script = fileURLToPath(new URL('./memory.ts', import.meta.url));
  const child = spawnSync(process.execPath, [...process.execArgv, script, kind, String(count)], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`memory.ts ${kind} failed: ${child.stderr}`);
  const line = child.stdout.trim().split('\n').pop()!;
  return (JSON.parse(line) as { bytesPer: number }).bytesPer;
}

const subs = subscriptions(N_SUBS);
console.log(
  `workload: ${N_SUBS} subscriptions from ${new Set(subs.map((s) => s.clientId)).size} clients, ` +
    `${N_MATCHES} matches, ${N_CHURN} churn pairs, ${N_RETAINED} retained topics; node ${process.version}; ` +
    `best of ${ROUNDS} rounds, CPU time`,
);

// 1. Memory, each structure built alone in a fresh process.
record(
  'memory per subscription',
  'bytes',
  false,
  new Map([ours, qlobberPlain, qlobberSub].map((k) => [k.name, measureMemory(k.name, N_SUBS)])),
);

// 2. Subscribing (building the 100k).
record(
  'subscribe (build)',
  'subs/s',
  true,
  best([ours, qlobberPlain, qlobberSub], (kind) => {
    let router: Router | undefined;
    const ms = cpuMs(() => {
      router = build(kind, subs);
    });
    router!.match('keep/alive');
    return { ops: subs.length, ms };
  }),
);

// 3. Matching: distinct topics (no cache can help), then repeating ones (where one can).
{
  const distinct = distinctTopics(N_MATCHES);
  const warm = distinctTopics(Math.round(N_MATCHES / 10), 99);
  const repeating = repeatingTopics(N_MATCHES, 1000);
  const kinds = [ours, oursInto, oursCached, qlobberPlain, qlobberSub];
  const routers = new Map(kinds.map((kind) => [kind.name, build(kind, subs)]));
  const deliveries = new Map<string, number>();
  const run = (topics: string[]) => (kind: RouterKind) => {
    const router = routers.get(kind.name)!;
    for (const t of warm) router.match(t);
    let n = 0;
    const ms = cpuMs(() => {
      for (let i = 0; i < topics.length; i++) n += router.match(topics[i]!);
    });
    deliveries.set(kind.name, n);
    return { ops: topics.length, ms };
  };
  record('match, distinct topics', 'matches/s', true, best(kinds, run(distinct)));
  // Our three forms must agree; qlobber counts one result per subscription (no per-client merge).
  const counts = new Set([ours, oursInto, oursCached].map((k) => deliveries.get(k.name)));
  if (counts.size !== 1) throw new Error(`our match forms disagree: ${[...counts].join(' vs ')}`);
  console.log(
    `deliveries per match: ours ${(deliveries.get(ours.name)! / distinct.length).toFixed(2)} (merged per client), ` +
      `Qlobber ${(deliveries.get(qlobberPlain.name)! / distinct.length).toFixed(2)} (per subscription)`,
  );
  record('match, topics repeating (1000 distinct)', 'matches/s', true, best(kinds, run(repeating)));
}

// 4. Churn: subscribe then unsubscribe new subscriptions on the populated structure.
{
  const churn = subscriptions(N_CHURN, 7).map((s, i) => ({ ...s, clientId: `churn-${i}` }));
  const kinds = [ours, qlobberPlain, qlobberSub];
  const routers = new Map(kinds.map((kind) => [kind.name, build(kind, subs)]));
  record(
    'subscribe + unsubscribe churn',
    'pairs/s',
    true,
    best(kinds, (kind) => {
      const router = routers.get(kind.name)!;
      const ms = cpuMs(() => {
        for (const s of churn) router.subscribe(s);
        for (const s of churn) router.unsubscribe(s);
      });
      return { ops: churn.length, ms };
    }),
  );
}

// 5. Retained messages: memory per retained topic, and wildcard lookups over all of them.
record(
  'memory per retained topic',
  'bytes',
  false,
  new Map([
    [ours.name, measureMemory('retained:ours', N_RETAINED)],
    [qlobberSub.name, measureMemory('retained:map', N_RETAINED)],
  ]),
);
{
  const topics = retainedTopics(N_RETAINED);
  const index = new RetainedIndex<number>();
  for (let i = 0; i < topics.length; i++) index.set(topics[i]!, i);
  // What aedes-persistence's memory store does: retained messages in a Map, and for a wildcard
  // filter a QlobberTrue of that filter tested against every stored topic.
  const map = new Map<string, number>();
  for (let i = 0; i < topics.length; i++) map.set(topics[i]!, i);
  const rand = prng(5);
  const devices = Math.min(DEVICES_PER_SITE, Math.ceil(N_RETAINED / (SITES * METRICS.length)));
  const filters = Array.from({ length: 400 }, (_, k) => {
    const site = Math.floor(rand() * SITES);
    const device = Math.floor(rand() * devices);
    return [
      `site/${site}/device/+/temp`,
      `site/${site}/#`,
      `site/+/device/${device}/temp`,
      `site/${site}/device/${device}/+`,
    ][k % 4]!;
  });
  const scanFilters = filters.slice(0, 4);
  let ourFound = 0;
  let scanFound = 0;
  const values = best([ours, qlobberSub], (kind) => {
    if (kind === ours) {
      ourFound = 0;
      const ms = cpuMs(() => {
        for (const f of filters) ourFound += index.match(f).length;
      });
      return { ops: filters.length, ms };
    }
    scanFound = 0;
    const ms = cpuMs(() => {
      for (const f of scanFilters) {
        const q = new QlobberTrue(AEDES_QLOBBER_OPTIONS);
        q.add(f);
        for (const topic of map.keys()) if (q.test(topic)) scanFound++;
      }
    });
    return { ops: scanFilters.length, ms };
  });
  let check = 0;
  for (const f of scanFilters) check += index.match(f).length;
  if (check !== scanFound) throw new Error(`retained results differ: ${check} vs ${scanFound}`);
  console.log(`retained: ${(ourFound / filters.length).toFixed(0)} messages per wildcard lookup`);
  record(`retained wildcard lookup, ${topics.length} topics`, 'lookups/s', true, values);
}

// The table. Ratios: ours / competitor for throughput, competitor / ours for bytes: >1x is better.
const COLUMNS: [title: string, name: string][] = [
  ['ours (matchAll)', ours.name],
  ['ours (matchInto)', oursInto.name],
  ['ours + MatchCache', oursCached.name],
  ['Qlobber (mqemitter)', qlobberPlain.name],
  ['QlobberSub / Map scan', qlobberSub.name],
];
const RATIOS: [title: string, mine: string, theirs: string][] = [
  ['ours vs Qlobber', ours.name, qlobberPlain.name],
  ['ours vs QlobberSub', ours.name, qlobberSub.name],
  ['matchInto vs Qlobber', oursInto.name, qlobberPlain.name],
  ['cache vs Qlobber', oursCached.name, qlobberPlain.name],
];
const fmt = (v: number | undefined) =>
  v === undefined ? '-' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
const ratio = (row: Row, mine: string, theirs: string) => {
  const a = row.values.get(mine);
  const b = row.values.get(theirs);
  if (a === undefined || b === undefined) return '-';
  return `${(row.higherIsBetter ? a / b : b / a).toFixed(2)}x`;
};
const header = ['scenario', 'unit', ...COLUMNS.map(([t]) => t), ...RATIOS.map(([t]) => t)];
const table = rows.map((row) => [
  row.scenario,
  row.unit,
  ...COLUMNS.map(([, name]) => fmt(row.values.get(name))),
  ...RATIOS.map(([, mine, theirs]) => ratio(row, mine, theirs)),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log();
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of table) console.log(line(r));
console.log(
  '\nQlobber (mqemitter) is the matcher Aedes routes every PUBLISH through; QlobberSub is ' +
    "qlobber/aedes/qlobber-sub.js as aedes-persistence indexes subscriptions; for retained rows that column is aedes-persistence's Map + scan.",
);
