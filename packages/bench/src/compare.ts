import { type RunHooks, runScenario } from './coordinator.js';
import { hostInfo } from './environment.js';
import { OptionError, type ResolvedScenario, resolveScenario, type ScenarioInput } from './options.js';
import { type ProcessUsage, ProcessWatcher } from './process-usage.js';
import { describeRun } from './report.js';
import type { HostInfo, RunResult, ScenarioName } from './result.js';

/** Identifies the JSON document of a comparison; bumped only on an incompatible change. */
export const COMPARISON_SCHEMA = 'mqtt-bench/comparison@1';

/** A broker to compare: a name for the tables, its address, and its process id when known. */
export interface BrokerTarget {
  name: string;
  url: string;
  /** With a pid on this machine, the broker's CPU time and RSS are read from /proc around each run. */
  pid?: number;
}

/** The figures a comparison reports; which ones a table shows depends on the scenario. */
export const Metric = {
  receiveRate: 'receiveRate',
  publishRate: 'publishRate',
  stresserPublish: 'stresserPublish',
  stresserReceive: 'stresserReceive',
  latencyP50: 'latencyP50',
  latencyP99: 'latencyP99',
  latencyP999: 'latencyP999',
  connectRate: 'connectRate',
  cpuUsPerMessage: 'cpuUsPerMessage',
  rssPerConnection: 'rssPerConnection',
  rssPeak: 'rssPeak',
} as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

/** One value per metric; null where a run does not give it (no pid, no latency, …). */
export type MetricValues = Record<Metric, number | null>;

/** How each metric is labelled and which direction is better. */
export const METRIC_INFO: Record<Metric, { label: string; better: 'higher' | 'lower' }> = {
  receiveRate: { label: 'delivered msg/s', better: 'higher' },
  publishRate: { label: 'published msg/s', better: 'higher' },
  stresserPublish: { label: 'stresser publish median msg/s', better: 'higher' },
  stresserReceive: { label: 'stresser receive median msg/s', better: 'higher' },
  latencyP50: { label: 'p50 ms', better: 'lower' },
  latencyP99: { label: 'p99 ms', better: 'lower' },
  latencyP999: { label: 'p99.9 ms', better: 'lower' },
  connectRate: { label: 'connections/s', better: 'higher' },
  cpuUsPerMessage: { label: 'broker CPU µs/msg', better: 'lower' },
  rssPerConnection: { label: 'RSS KiB/conn', better: 'lower' },
  rssPeak: { label: 'RSS peak MiB', better: 'lower' },
};

/** The metrics a scenario's table shows, in column order. */
export function metricsOf(scenario: ScenarioName): Metric[] {
  switch (scenario) {
    case 'stress':
      return ['stresserPublish', 'stresserReceive', 'cpuUsPerMessage'];
    case 'latency':
      return ['latencyP50', 'latencyP99', 'latencyP999', 'cpuUsPerMessage'];
    case 'conn':
      return ['connectRate', 'rssPerConnection', 'rssPeak'];
    default:
      return ['receiveRate', 'cpuUsPerMessage', 'rssPeak'];
  }
}

/** One run of the scenario against one broker. */
export interface BrokerRun {
  broker: string;
  /** Round number, from 1. */
  round: number;
  /** Position of this run within its round, from 1 (the order rotates from round to round). */
  order: number;
  metrics: MetricValues;
  /** The broker process's CPU time and RSS over the run; null without a pid. */
  process: ProcessUsage | null;
  result: RunResult;
}

/** One broker's line of the table: medians over its rounds and their ratio to the anchor's. */
export interface ComparisonRow {
  broker: string;
  url: string;
  runs: number;
  /** Runs that accounted for every message; the medians are over these. */
  ok: number;
  median: MetricValues;
  /** `median / anchor median` per metric; null where either is missing. */
  ratio: MetricValues;
}

/** The document `--json` prints for a comparison: every run, and the medians. */
export interface Comparison {
  schema: typeof COMPARISON_SCHEMA;
  scenario: ScenarioName;
  /** What ran, in words (the scenario's own description unless the caller names it). */
  label: string;
  /** The first broker: ratios are relative to it. */
  anchor: string;
  brokers: BrokerTarget[];
  rounds: number;
  startedAt: string;
  metrics: Metric[];
  rows: ComparisonRow[];
  runs: BrokerRun[];
  host: HostInfo;
}

export interface ComparisonOptions {
  scenario: ScenarioName;
  /** The scenario's settings; `broker` is set from each target. */
  input: ScenarioInput;
  /** The brokers, the anchor first. Names must be unique. */
  brokers: BrokerTarget[];
  /** Rounds; each runs the scenario once against every broker (default 1). */
  rounds?: number;
  /** A name for the tables (default: the first run's description without its broker). */
  label?: string;
  /** Hooks passed to every run. */
  hooks?: RunHooks;
  /**
   * Called before each run; may return the target to use instead (a restarted broker with a new
   * pid), so that a scenario can start every round from a fresh process.
   */
  beforeRun?(target: BrokerTarget, round: number): Promise<BrokerTarget | undefined>;
  /** Called after each run, e.g. to print a line of progress. */
  onRun?(run: BrokerRun): void;
  /** How often the broker's RSS is sampled during a run (default 100 ms). */
  sampleIntervalMs?: number;
}

/** The middle value (mean of the two middle ones for an even count); null when there is none. */
export function median(values: Array<number | null>): number | null {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The figures of one run, with the broker's process usage when it was watched. */
export function metricsOfRun(result: RunResult, usage: ProcessUsage | null): MetricValues {
  const received = result.messages.received;
  const connected = result.connections.connected;
  const latency = result.latencyMs;
  return {
    receiveRate: result.scenario === 'conn' ? null : result.throughput.receiveRate,
    publishRate: result.scenario === 'conn' ? null : result.throughput.publishRate,
    stresserPublish: result.stresser?.publish.median ?? null,
    stresserReceive: result.stresser?.receive.median ?? null,
    latencyP50: latency?.p50 ?? null,
    latencyP99: latency?.p99 ?? null,
    latencyP999: latency?.p999 ?? null,
    connectRate: result.connections.connectRate,
    cpuUsPerMessage: usage && received > 0 ? (usage.cpuMs * 1000) / received : null,
    rssPerConnection:
      usage && connected > 0 ? (usage.rssPeakBytes - usage.rssBeforeBytes) / 1024 / connected : null,
    rssPeak: usage ? usage.rssPeakBytes / 1024 / 1024 : null,
  };
}

function mapMetrics(f: (m: Metric) => number | null): MetricValues {
  const out = {} as MetricValues;
  for (const m of Object.values(Metric)) out[m] = f(m);
  return out;
}

/**
 * Medians per broker and ratios to the first broker's medians, in the order of `brokers`. Only runs
 * that accounted for every message count: a run that lost messages or connections measured
 * something else, so it is counted in `runs` but not in `ok` or the medians.
 */
export function summarizeRuns(brokers: BrokerTarget[], runs: BrokerRun[]): ComparisonRow[] {
  const rows = brokers.map((b): ComparisonRow => {
    const mine = runs.filter((r) => r.broker === b.name);
    const ok = mine.filter((r) => r.result.ok);
    return {
      broker: b.name,
      url: b.url,
      runs: mine.length,
      ok: ok.length,
      median: mapMetrics((m) => median(ok.map((r) => r.metrics[m]))),
      ratio: mapMetrics(() => null),
    };
  });
  const anchor = rows[0];
  for (const row of rows) {
    row.ratio = mapMetrics((m) => {
      const base = anchor?.median[m] ?? null;
      const value = row.median[m];
      return base !== null && value !== null && base !== 0 ? value / base : null;
    });
  }
  return rows;
}

/** Checks that the targets can be compared: at least one, unique names, pids that are integers. */
export function checkTargets(brokers: BrokerTarget[]): void {
  if (brokers.length === 0) throw new OptionError('a broker address is required (--broker tcp://host:1883)');
  const seen = new Set<string>();
  for (const b of brokers) {
    if (!b.name) throw new OptionError(`broker ${b.url} has an empty name`);
    if (seen.has(b.name))
      throw new OptionError(`two brokers are named "${b.name}": give each a name of its own`);
    seen.add(b.name);
    if (b.pid !== undefined && !(Number.isInteger(b.pid) && b.pid > 0))
      throw new OptionError(`broker ${b.name}: pid must be a positive integer, got ${b.pid}`);
  }
}

/**
 * Runs one scenario against several brokers in turn, round after round, rotating which broker goes
 * first so that none always runs on a machine warmed (or tired) by the others. Options are checked
 * for every broker before anything runs; a bad one throws `OptionError`.
 */
export async function runComparison(options: ComparisonOptions): Promise<Comparison> {
  const rounds = options.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new OptionError(`rounds must be an integer ≥ 1, got ${rounds}`);
  checkTargets(options.brokers);
  const resolve = (target: BrokerTarget): ResolvedScenario =>
    resolveScenario(options.scenario, { ...options.input, broker: target.url });
  for (const b of options.brokers) resolve(b);
  const startedAt = new Date().toISOString();
  const targets = options.brokers.map((b) => ({ ...b }));
  const runs: BrokerRun[] = [];
  for (let round = 1; round <= rounds && !options.hooks?.signal?.aborted; round++) {
    for (let k = 0; k < targets.length && !options.hooks?.signal?.aborted; k++) {
      const index = (k + round - 1) % targets.length;
      const replaced = await options.beforeRun?.(targets[index] as BrokerTarget, round);
      if (replaced) targets[index] = replaced;
      const target = targets[index] as BrokerTarget;
      const watcher = target.pid ? new ProcessWatcher(target.pid, options.sampleIntervalMs) : null;
      let usage: ProcessUsage | null = null;
      let result: RunResult;
      try {
        result = await runScenario(resolve(target), options.hooks);
      } finally {
        // Stopped on every path, so a failing run leaves no sampling timer behind.
        usage = watcher?.stop() ?? null;
      }
      const run: BrokerRun = {
        broker: target.name,
        round,
        order: k + 1,
        metrics: metricsOfRun(result, usage),
        process: usage,
        result,
      };
      runs.push(run);
      options.onRun?.(run);
    }
  }
  return {
    schema: COMPARISON_SCHEMA,
    scenario: options.scenario,
    label: options.label ?? (runs[0] ? describeRun(runs[0].result, { broker: false }) : options.scenario),
    anchor: options.brokers[0]?.name ?? '',
    brokers: targets,
    rounds,
    startedAt,
    metrics: metricsOf(options.scenario),
    rows: summarizeRuns(options.brokers, runs),
    runs,
    host: hostInfo(),
  };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A metric's value as the tables print it: rates in k/M, latency and CPU with decimals. */
export function formatMetric(metric: Metric, value: number | null): string {
  if (value === null) return '–';
  switch (metric) {
    case 'latencyP50':
    case 'latencyP99':
    case 'latencyP999':
      return value.toFixed(value < 10 ? 2 : 1);
    case 'cpuUsPerMessage':
    case 'rssPerConnection':
      return value.toFixed(value < 10 ? 2 : 1);
    case 'rssPeak':
      return value.toFixed(0);
    default:
      return value >= 1e6
        ? `${(value / 1e6).toFixed(2)} M`
        : value >= 1e4
          ? `${(value / 1e3).toFixed(0)} k`
          : integer.format(value);
  }
}

/** A ratio as the tables print it, e.g. `2.61×`; empty for the anchor itself. */
export function formatRatio(ratio: number | null): string {
  if (ratio === null) return '';
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/** Header and body cells of a comparison table: medians, with the ratio to the anchor after them. */
function tableCells(c: Comparison): { header: string[]; rows: string[][] } {
  const header = ['broker', ...c.metrics.map((m) => METRIC_INFO[m].label), 'runs ok'];
  const rows = c.rows.map((row, i) => [
    row.broker,
    ...c.metrics.map((m) => {
      const value = formatMetric(m, row.median[m]);
      return i === 0 || row.ratio[m] === null ? value : `${value} (${formatRatio(row.ratio[m])})`;
    }),
    `${row.ok}/${row.runs}`,
  ]);
  return { header, rows };
}

/**
 * The side-by-side table of a comparison: one row per broker with the median of each metric and
 * its ratio to the anchor (the first broker), how many runs accounted for every message, and the
 * problems of the first failed runs.
 */
export function formatComparison(c: Comparison): string {
  const { header, rows } = tableCells(c);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((l) => (l[k] ?? '').length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, k) => (k === 0 ? cell.padEnd(widths[k] ?? 0) : cell.padStart(widths[k] ?? 0)))
      .join('  ');
  const title = `${c.label}: median of ${c.rounds} round${c.rounds === 1 ? '' : 's'}, (ratio) to ${c.anchor}`;
  const notes = c.runs
    .filter((r) => !r.result.ok)
    .slice(0, 5)
    .map((r) => `  ! ${r.broker} round ${r.round}: ${r.result.problems.join('; ')}`);
  return `${[title, render(header), ...rows.map(render), ...notes].join('\n')}\n`;
}

/** The same table as Markdown, for READMEs and issue comments. */
export function formatComparisonMarkdown(c: Comparison): string {
  const { header, rows } = tableCells(c);
  const rule = header.map((_, k) => (k === 0 ? '---' : '---:'));
  return `${[header, rule, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`;
}
