/**
 * The mqtt-stresser summary, computed the way its report.go computes it so that figures can be set
 * beside its published tables: per-worker rates, fastest = last and slowest = first of the ascending
 * sort, median = (s[(n-1)/2] + s[n/2]) / 2, and an 11-step cumulative histogram whose boundary values
 * move up a bucket.
 */

/** The last event a stresser worker reported (mqtt-stresser keeps only the last one per worker). */
export const StresserEvent = {
  completed: 'Completed',
  progressReport: 'ProgressReport',
  connectFailed: 'ConnectFailed',
  subscribeFailed: 'SubscribeFailed',
  timeoutExceeded: 'TimeoutExceeded',
  aborted: 'Aborted',
} as const;
export type StresserEvent = (typeof StresserEvent)[keyof typeof StresserEvent];

/** The last result of one stresser worker. */
export interface StresserWorkerResult {
  workerId: number;
  event: StresserEvent;
  messagesPublished: number;
  messagesReceived: number;
  /** Publish window in milliseconds: first publish to after the publisher's disconnect. */
  publishTimeMs: number;
  /** Receive window in milliseconds: from the end of publishing to the last message received. */
  receiveTimeMs: number;
  error?: string;
}

/** One line of the cumulative histogram: `< upperBound msg/sec  percent%`. */
export interface StresserHistogramLine {
  upperBound: number;
  percent: number;
}

export interface StresserThroughput {
  fastest: number;
  slowest: number;
  median: number;
  histogram: StresserHistogramLine[];
}

export interface StresserSummary {
  clients: number;
  messagesPerClient: number;
  published: number;
  received: number;
  completed: number;
  inProgress: number;
  errors: number;
  connectFailed: number;
  subscribeFailed: number;
  timeoutExceeded: number;
  aborted: number;
  publish: StresserThroughput;
  receive: StresserThroughput;
}

/** mqtt-stresser's median: the mean of the two middle values (the same one when n is odd). */
export function stresserMedian(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return ((sorted[(n - 1) >> 1] ?? 0) + (sorted[n >> 1] ?? 0)) / 2;
}

/**
 * mqtt-stresser's histogram: 11 steps of (fastest - slowest) / 10 from the slowest, the last step
 * whose closed range holds a value wins (so a value on a boundary moves up), counts made cumulative
 * and divided by `total` (completed + in-progress workers).
 */
export function stresserHistogram(sorted: number[], total: number): StresserHistogramLine[] {
  if (sorted.length === 0) return [];
  const slowest = sorted[0] ?? 0;
  const fastest = sorted[sorted.length - 1] ?? 0;
  const steps = (fastest - slowest) / 10;
  const counts = new Map<number, number>();
  for (const v of sorted) {
    let key = 0;
    for (let i = 0; i <= 10; i++) {
      const f0 = slowest + steps * i;
      const f1 = slowest + steps * (i + 1);
      if (f0 <= v && v <= f1) key = f1;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const keys = [...counts.keys()].sort((a, b) => a - b);
  let cumulative = 0;
  return keys.map((upperBound) => {
    cumulative += counts.get(upperBound) ?? 0;
    return { upperBound, percent: total > 0 ? (cumulative / total) * 100 : 0 };
  });
}

function throughput(rates: number[], total: number): StresserThroughput {
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    fastest: sorted[sorted.length - 1] ?? 0,
    slowest: sorted[0] ?? 0,
    median: stresserMedian(sorted),
    histogram: stresserHistogram(sorted, total),
  };
}

/** Go's float division by a zero duration gives +Inf; keep that rather than inventing a value. */
function rate(count: number, ms: number): number {
  return count / (ms / 1000);
}

/**
 * Builds the summary from the last result of every worker; returns undefined when no worker
 * completed or reported progress ("no feasible results found").
 */
export function buildStresserSummary(
  results: StresserWorkerResult[],
  clients: number,
  messagesPerClient: number,
): StresserSummary | undefined {
  const count = (event: StresserEvent) => results.filter((r) => r.event === event).length;
  const feasible = results.filter(
    (r) => r.event === StresserEvent.completed || r.event === StresserEvent.progressReport,
  );
  if (feasible.length === 0) return undefined;
  const completed = count(StresserEvent.completed);
  const inProgress = count(StresserEvent.progressReport);
  const total = completed + inProgress;
  const connectFailed = count(StresserEvent.connectFailed);
  const subscribeFailed = count(StresserEvent.subscribeFailed);
  const timeoutExceeded = count(StresserEvent.timeoutExceeded);
  const aborted = count(StresserEvent.aborted);
  return {
    clients,
    messagesPerClient,
    published: results.reduce((a, r) => a + r.messagesPublished, 0),
    received: results.reduce((a, r) => a + r.messagesReceived, 0),
    completed,
    inProgress,
    errors: connectFailed + subscribeFailed + timeoutExceeded + aborted,
    connectFailed,
    subscribeFailed,
    timeoutExceeded,
    aborted,
    publish: throughput(
      feasible.map((r) => rate(r.messagesPublished, r.publishTimeMs)),
      total,
    ),
    receive: throughput(
      feasible.map((r) => rate(r.messagesReceived, r.receiveTimeMs)),
      total,
    ),
  };
}

function pct(part: number, whole: number): string {
  return whole > 0 ? ((part / whole) * 100).toFixed(0) : 'NaN';
}

function f0(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  return value.toFixed(0);
}

/**
 * The report text with mqtt-stresser's labels. With `fix` false (the default) its two printing bugs
 * are kept for comparability: "Messages / Client" shows the total, and "- Aborted" shows the
 * in-progress share; with `fix` true both show what their labels say.
 */
export function formatStresserReport(summary: StresserSummary, fix = false): string {
  const s = summary;
  const lines: string[] = [];
  const totalMessages = s.clients * s.messagesPerClient;
  lines.push('# Configuration');
  lines.push(`Concurrent Clients: ${s.clients}`);
  lines.push(`Messages / Client:  ${fix ? s.messagesPerClient : totalMessages}`);
  lines.push('');
  lines.push('# Results');
  lines.push(`Published Messages: ${s.published} (${pct(s.published, totalMessages)}%)`);
  lines.push(`Received Messages:  ${s.received} (${pct(s.received, s.published)}%)`);
  lines.push(`Completed:          ${s.completed} (${pct(s.completed, s.clients)}%)`);
  lines.push(`Errors:             ${s.errors} (${pct(s.errors, s.clients)}%)`);
  if (s.errors > 0) {
    lines.push(`- ConnectFailed:    ${s.connectFailed} (${pct(s.connectFailed, s.errors)}%)`);
    lines.push(`- SubscribeFailed:  ${s.subscribeFailed} (${pct(s.subscribeFailed, s.errors)}%)`);
    lines.push(`- TimeoutExceeded:  ${s.timeoutExceeded} (${pct(s.timeoutExceeded, s.errors)}%)`);
    lines.push(
      fix
        ? `- Aborted:          ${s.aborted} (${pct(s.aborted, s.errors)}%)`
        : `- Aborted:          ${s.inProgress} (${pct(s.inProgress, s.clients)}%)`,
    );
  }
  const section = (title: string, t: StresserThroughput) => {
    lines.push('');
    lines.push(title);
    lines.push(`Fastest: ${f0(t.fastest)} msg/sec`);
    lines.push(`Slowest: ${f0(t.slowest)} msg/sec`);
    lines.push(`Median: ${f0(t.median)} msg/sec`);
    lines.push('');
    for (const h of t.histogram) lines.push(`  < ${f0(h.upperBound)} msg/sec  ${h.percent.toFixed(0)}%`);
  };
  section('# Publishing Throughput', s.publish);
  section(fix ? '# Receiving Throughput' : '# Receiving Througput', s.receive);
  return `${lines.join('\n')}\n`;
}
