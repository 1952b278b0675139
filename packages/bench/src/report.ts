import type { Progress } from './coordinator.js';
import type { LatencySummary, RunResult } from './result.js';
import { formatStresserReport } from './stresser-summary.js';

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fixed = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
const n = (v: number) => number.format(v);

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function versionName(v: number): string {
  return v === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
}

function latencyLine(l: LatencySummary): string {
  return `p50 ${fixed(l.p50)}  p90 ${fixed(l.p90)}  p99 ${fixed(l.p99)}  p99.9 ${fixed(l.p999)}  max ${fixed(l.max)}  (mean ${fixed(l.mean)}, n=${n(l.count)})`;
}

/**
 * One line describing what ran, for the summary and the HTML title; `broker: false` leaves the
 * address out (a comparison names the brokers itself).
 */
export function describeRun(r: RunResult, options: { broker?: boolean } = {}): string {
  const c = r.config;
  const parts = [
    `mqtt-bench ${r.scenario}`,
    options.broker === false ? null : c.broker,
    versionName(c.protocolVersion),
    r.scenario === 'conn' ? null : `QoS ${c.publisherQos}→${c.subscriberQos}`,
    r.scenario === 'conn' ? null : `${c.payloadSize} B payload`,
    r.scenario === 'stress'
      ? `${c.publishers} workers × ${c.messagesPerPublisher} messages`
      : r.scenario === 'conn'
        ? `${r.connections.attempted} connections`
        : `${plural(c.publishers, 'publisher')} → ${plural(c.subscribers, 'subscriber')}`,
    c.rate ? `${n(c.rate)} msg/s target` : null,
    c.warmupMs > 0 ? `latency after a ${c.warmupMs / 1000} s warm-up` : null,
    c.clean ? null : 'persistent sessions',
    `${c.workers} thread${c.workers === 1 ? '' : 's'}`,
  ];
  return parts.filter(Boolean).join(', ');
}

/**
 * The readable summary printed after a run: for `stress` mqtt-stresser's report first, then the
 * accounting, throughput, latency and connection figures every scenario has.
 */
export function formatSummary(r: RunResult, options: { fixReport?: boolean } = {}): string {
  const out: string[] = [];
  if (r.stresser) {
    out.push(formatStresserReport(r.stresser, options.fixReport));
    out.push('# mqtt-bench accounting');
  }
  out.push(describeRun(r));
  const rows: Array<[string, string]> = [];
  rows.push(['result', r.ok ? 'OK: every message accounted for' : `FAILED: ${r.problems.join('; ')}`]);
  const m = r.messages;
  if (r.scenario !== 'conn') {
    rows.push([
      'messages',
      `sent ${n(m.sent)}  expected ${n(m.expected)}  received ${n(m.received)}  lost ${n(m.lost)}  duplicated ${n(m.duplicated)}  out of order ${n(m.outOfOrder)}${m.unexpected ? `  unexpected ${n(m.unexpected)}` : ''}${m.unfinished ? `  unfinished ${n(m.unfinished)}` : ''}`,
    ]);
    const t = r.throughput;
    rows.push([
      'throughput',
      `publish ${n(t.publishRate)} msg/s over ${fixed(t.publishWindowMs / 1000, 2)} s   receive ${n(t.receiveRate)} msg/s (${fixed(t.receiveMBps, 2)} MB/s) over ${fixed(t.receiveWindowMs / 1000, 2)} s${t.overruns ? `   overruns ${n(t.overruns)}` : ''}`,
    ]);
    if (r.latencyMs) rows.push(['latency ms', latencyLine(r.latencyMs)]);
    if (r.config.rate && r.uncorrectedLatencyMs) {
      rows.push(['uncorrected', latencyLine(r.uncorrectedLatencyMs)]);
    }
  }
  const c = r.connections;
  rows.push([
    'connections',
    `${n(c.connected)} of ${n(c.attempted)} in ${fixed(c.timeToAllMs / 1000, 2)} s (${n(c.connectRate)}/s)${c.failed ? `, ${n(c.failed)} failed` : ''}`,
  ]);
  if (c.latencyMs) rows.push(['connect ms', latencyLine(c.latencyMs)]);
  rows.push(['ended', `${r.stopReason} after ${fixed(r.durationMs / 1000, 2)} s`]);
  for (const e of r.errors.slice(0, 5)) rows.push(['error', e]);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.push(`  ${k.padEnd(width)}  ${v}`);
  return `${out.join('\n')}\n`;
}

/** The live progress line (no newline): phase, elapsed, counts and rates. */
export function formatProgress(p: Progress): string {
  return `[${p.phase}] ${fixed(p.elapsedMs / 1000, 1)}s  sent ${n(p.sent)} (${n(p.sendRate)}/s)  received ${n(p.delivered)} (${n(p.deliverRate)}/s)  connections ${n(p.connected)}${p.failed ? `  failed ${n(p.failed)}` : ''}`;
}

/** Columns of the CSV output, in order. Stable: new columns are only ever appended. */
export const CSV_COLUMNS = [
  'scenario',
  'startedAt',
  'durationMs',
  'stopReason',
  'ok',
  'broker',
  'protocolVersion',
  'publisherQos',
  'subscriberQos',
  'payloadSize',
  'publishers',
  'subscribers',
  'workers',
  'sent',
  'expected',
  'received',
  'lost',
  'duplicated',
  'outOfOrder',
  'unexpected',
  'publishRate',
  'receiveRate',
  'receiveMBps',
  'latencyP50Ms',
  'latencyP90Ms',
  'latencyP99Ms',
  'latencyP999Ms',
  'latencyMaxMs',
  'connectionsAttempted',
  'connectionsConnected',
  'connectionsFailed',
  'connectRate',
  'timeToAllMs',
  'stresserPublishFastest',
  'stresserPublishMedian',
  'stresserPublishSlowest',
  'stresserReceiveFastest',
  'stresserReceiveMedian',
  'stresserReceiveSlowest',
  'unfinished',
] as const;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV row for a run, in `CSV_COLUMNS` order. */
export function toCsvRow(r: RunResult): string {
  const l = r.latencyMs;
  const s = r.stresser;
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    scenario: r.scenario,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    stopReason: r.stopReason,
    ok: r.ok,
    broker: r.config.broker,
    protocolVersion: r.config.protocolVersion,
    publisherQos: r.config.publisherQos,
    subscriberQos: r.config.subscriberQos,
    payloadSize: r.config.payloadSize,
    publishers: r.config.publishers,
    subscribers: r.config.subscribers,
    workers: r.config.workers,
    sent: r.messages.sent,
    expected: r.messages.expected,
    received: r.messages.received,
    lost: r.messages.lost,
    duplicated: r.messages.duplicated,
    outOfOrder: r.messages.outOfOrder,
    unexpected: r.messages.unexpected,
    publishRate: r.throughput.publishRate,
    receiveRate: r.throughput.receiveRate,
    receiveMBps: r.throughput.receiveMBps,
    latencyP50Ms: l?.p50,
    latencyP90Ms: l?.p90,
    latencyP99Ms: l?.p99,
    latencyP999Ms: l?.p999,
    latencyMaxMs: l?.max,
    connectionsAttempted: r.connections.attempted,
    connectionsConnected: r.connections.connected,
    connectionsFailed: r.connections.failed,
    connectRate: Math.round(r.connections.connectRate),
    timeToAllMs: Math.round(r.connections.timeToAllMs),
    stresserPublishFastest: s ? Math.round(s.publish.fastest) : undefined,
    stresserPublishMedian: s ? Math.round(s.publish.median) : undefined,
    stresserPublishSlowest: s ? Math.round(s.publish.slowest) : undefined,
    stresserReceiveFastest: s ? Math.round(s.receive.fastest) : undefined,
    stresserReceiveMedian: s ? Math.round(s.receive.median) : undefined,
    stresserReceiveSlowest: s ? Math.round(s.receive.slowest) : undefined,
    // Results saved before the field existed read as 0.
    unfinished: r.messages.unfinished ?? 0,
  };
  return CSV_COLUMNS.map((k) => csvCell(values[k])).join(',');
}

/** Header line plus one row per run. */
export function toCsv(results: RunResult[]): string {
  return `${[CSV_COLUMNS.join(','), ...results.map(toCsvRow)].join('\n')}\n`;
}
