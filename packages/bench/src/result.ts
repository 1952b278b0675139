import type { Accounting } from './accounting.js';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import type { StresserSummary } from './stresser-summary.js';

/** Identifies the JSON document; bumped only on an incompatible change. */
export const RESULT_SCHEMA = 'mqtt-bench/result@1';

export const ScenarioName = {
  stress: 'stress',
  pub: 'pub',
  sub: 'sub',
  latency: 'latency',
  conn: 'conn',
} as const;
export type ScenarioName = (typeof ScenarioName)[keyof typeof ScenarioName];

/** Why the run ended. */
export const StopReason = {
  completed: 'completed',
  timeout: 'timeout',
  interrupted: 'interrupted',
  failed: 'failed',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

/** Latency percentiles in milliseconds (recorded in microseconds, so three decimals are exact). */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface ThroughputSummary {
  /** Messages sent per second over the publish window (first to last publish). */
  publishRate: number;
  /** Deliveries per second over the receive window (first publish to last delivery). */
  receiveRate: number;
  /** Payload megabytes per second delivered (payload bytes only, 10^6). */
  receiveMBps: number;
  /** Publish window in milliseconds. */
  publishWindowMs: number;
  /** Receive window in milliseconds. */
  receiveWindowMs: number;
  /** Open-loop runs: sends that started later than scheduled by more than one tick. */
  overruns: number;
}

export interface ConnectionSummary {
  attempted: number;
  connected: number;
  failed: number;
  /** Connections established per second, from the first attempt to the last CONNACK. */
  connectRate: number;
  /** Milliseconds from the first attempt until every successful connection had its CONNACK. */
  timeToAllMs: number;
  /** Connect latency (TCP/TLS/WebSocket handshake + CONNECT → CONNACK). */
  latencyMs: LatencySummary | null;
}

/** Sent and received counts during one interval of the run. */
export interface TimelinePoint {
  /** End of the interval, milliseconds since the run started. */
  tMs: number;
  sent: number;
  received: number;
  connected: number;
}

/** The run configuration as reported (secrets left out). */
export interface RunConfig {
  broker: string;
  /** How the broker was reached: `tcp`, `tls`, `ws` or `wss` (from the broker address). */
  transport: 'tcp' | 'tls' | 'ws' | 'wss';
  protocolVersion: 4 | 5;
  publisherQos: 0 | 1 | 2;
  subscriberQos: 0 | 1 | 2;
  payloadSize: number;
  publishers: number;
  subscribers: number;
  messagesPerPublisher: number | null;
  durationMs: number | null;
  rate: number | null;
  /** Publishing time at the start whose latencies are not recorded (0: none). */
  warmupMs: number;
  clean: boolean;
  workers: number;
  globalTimeoutMs: number;
  topic: string;
}

/** The program that produced a result. */
export interface ToolInfo {
  /** `mqtt-bench` from the CLI, `@x/bench` when the library runs a scenario itself. */
  name: string;
  version: string;
}

/** The machine the load came from, so results from different machines are not compared blindly. */
export interface HostInfo {
  /** Logical CPUs Node may use (`os.availableParallelism()`). */
  cpus: number;
  /** Model of the first CPU, as the OS reports it. */
  cpuModel: string;
  /** Total memory in bytes. */
  memoryBytes: number;
  /** Node.js version, e.g. `v20.19.5`. */
  node: string;
  /** OS type and kernel release, e.g. `Linux 6.1.0`. */
  os: string;
  platform: string;
  arch: string;
}

/** The document `--json` prints: one per scenario run. Documented in apps/bench/README.md. */
export interface RunResult {
  schema: typeof RESULT_SCHEMA;
  scenario: ScenarioName;
  startedAt: string;
  durationMs: number;
  stopReason: StopReason;
  /** True when every expected delivery arrived and none broke the guarantees of its QoS. */
  ok: boolean;
  /** Why `ok` is false, one sentence each. */
  problems: string[];
  config: RunConfig;
  messages: Accounting;
  throughput: ThroughputSummary;
  /** Coordinated-omission corrected (measured from the intended send time); null without messages. */
  latencyMs: LatencySummary | null;
  /** Measured from the actual send time; differs from `latencyMs` when sends fell behind schedule. */
  uncorrectedLatencyMs: LatencySummary | null;
  connections: ConnectionSummary;
  timeline: TimelinePoint[];
  /** `stress` only: the mqtt-stresser figures. */
  stresser: StresserSummary | null;
  /** Histogram snapshots (microseconds) for charts and for merging runs. */
  histograms: { latencyUs: HistogramSnapshot | null; connectUs: HistogramSnapshot | null };
  /** First error messages seen (at most 20). */
  errors: string[];
  /** What produced this result. */
  tool: ToolInfo;
  /** Where the load came from. */
  host: HostInfo;
}

/** Percentiles of a microsecond histogram in milliseconds, or null when it holds nothing. */
export function summarizeLatency(h: Histogram | HistogramSnapshot | null): LatencySummary | null {
  if (!h) return null;
  const hist = h instanceof Histogram ? h : Histogram.from(h);
  if (hist.count === 0) return null;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: hist.count,
    min: ms(hist.min),
    mean: ms(hist.mean),
    p50: ms(hist.percentile(50)),
    p90: ms(hist.percentile(90)),
    p99: ms(hist.percentile(99)),
    p999: ms(hist.percentile(99.9)),
    max: ms(hist.max),
  };
}

/**
 * Decides whether a run accounted for every message: nothing lost, nothing foreign, duplicates only
 * where QoS 1 allows them, order kept, and no connection failures.
 */
export function judge(
  messages: Accounting,
  qos: { publisher: number; subscriber: number },
  connections: ConnectionSummary,
  stopReason: StopReason,
): string[] {
  const problems: string[] = [];
  if (messages.lost > 0)
    problems.push(`${messages.lost} of ${messages.expected} expected deliveries were lost`);
  const effectiveQos = Math.min(qos.publisher, qos.subscriber);
  if (messages.duplicated > 0 && effectiveQos !== 1) {
    problems.push(`${messages.duplicated} duplicate deliveries at QoS ${effectiveQos}`);
  }
  if (messages.outOfOrder > 0) problems.push(`${messages.outOfOrder} deliveries out of order`);
  if (messages.unexpected > 0) problems.push(`${messages.unexpected} deliveries without this run's header`);
  if (connections.failed > 0)
    problems.push(`${connections.failed} of ${connections.attempted} connections failed`);
  if (messages.unfinished > 0) {
    problems.push(
      `${messages.unfinished} of ${messages.expected} expected deliveries were still unfinished when the ${stopReason === StopReason.timeout ? 'global timeout' : 'interrupt'} cut the run short`,
    );
  }
  if (stopReason === StopReason.interrupted) problems.push('the run was interrupted');
  if (stopReason === StopReason.failed) problems.push('the run failed before it could finish');
  return problems;
}
