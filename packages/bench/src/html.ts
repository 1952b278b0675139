import { type Comparison, formatMetric, formatRatio, METRIC_INFO } from './compare.js';
import { Histogram } from './histogram.js';
import { describeRun } from './report.js';
import type { LatencySummary, RunResult } from './result.js';

/**
 * One self-contained HTML report: inline CSS and SVG charts generated here, no script, no network,
 * so it opens offline and renders the same anywhere. The run's JSON is embedded for reference.
 */

const WIDTH = 720;
const HEIGHT = 260;
const PAD = { left: 70, right: 20, top: 20, bottom: 40 };

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

/** 1, 2 or 5 × 10^k ticks covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v < max + step; v += step) out.push(v);
  return out;
}

interface Series {
  name: string;
  color: string;
  points: Array<[x: number, y: number]>;
}

function frame(
  title: string,
  yLabel: string,
  yTicks: number[],
  yMax: number,
  body: string,
  xAxis: string,
): string {
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (v / yMax) * plotH;
  const grid = yTicks
    .map(
      (t) =>
        `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>` +
        `<text x="${PAD.left - 6}" y="${y(t) + 4}" text-anchor="end">${esc(fmt.format(t))}</text>`,
    )
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${esc(title)}">
<text x="14" y="${PAD.top + plotH / 2}" transform="rotate(-90 14 ${PAD.top + plotH / 2})" text-anchor="middle">${esc(yLabel)}</text>
${grid}${xAxis}${body}</svg></figure>`;
}

/** A line chart of one or more series sharing the axes. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xMax = Math.max(1e-9, ...all.map(([x]) => x));
  const yTicks = ticks(Math.max(...all.map(([, v]) => v)));
  const yMax = Math.max(1e-9, yTicks[yTicks.length - 1] ?? 1);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (v: number) => PAD.left + (v / xMax) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / yMax) * plotH;
  const xTicks = ticks(xMax, 6);
  const xAxis =
    xTicks
      .filter((t) => t <= xMax * 1.0001)
      .map(
        (t) =>
          `<text x="${x(t)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${esc(fmt.format(t))}</text>`,
      )
      .join('') +
    `<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">${esc(xLabel)}</text>`;
  const lines = series
    .map((s, i) => {
      const d = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      // A lone sample is a dot: a line needs two.
      const [only] = s.points;
      const mark =
        s.points.length === 1 && only
          ? `<circle cx="${x(only[0]).toFixed(1)}" cy="${y(only[1]).toFixed(1)}" r="4" fill="${s.color}"/>`
          : `<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
      return (
        mark +
        `<rect x="${PAD.left + 10 + i * 150}" y="${PAD.top}" width="12" height="12" fill="${s.color}"/>` +
        `<text x="${PAD.left + 28 + i * 150}" y="${PAD.top + 10}">${esc(s.name)}</text>`
      );
    })
    .join('');
  return frame(title, yLabel, yTicks, yMax, lines, xAxis);
}

/** A bar chart with one labelled bar per entry. */
export function barChart(
  title: string,
  yLabel: string,
  bars: Array<{ label: string; value: number }>,
  color: string,
): string {
  if (bars.length === 0) return '';
  const yTicks = ticks(Math.max(...bars.map((b) => b.value)));
  const yMax = Math.max(1e-9, yTicks[yTicks.length - 1] ?? 1);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / bars.length;
  const every = Math.max(1, Math.ceil(bars.length / 12));
  const body = bars
    .map((b, i) => {
      const h = (b.value / yMax) * plotH;
      const bx = PAD.left + i * slot + slot * 0.1;
      const label =
        i % every === 0
          ? `<text x="${bx + slot * 0.4}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${esc(b.label)}</text>`
          : '';
      return `<rect x="${bx.toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(`${b.label}: ${fmt.format(b.value)}`)}</title></rect>${label}`;
    })
    .join('');
  return frame(title, yLabel, yTicks, yMax, body, '');
}

function percentileBars(l: LatencySummary) {
  return [
    { label: 'p50', value: l.p50 },
    { label: 'p90', value: l.p90 },
    { label: 'p99', value: l.p99 },
    { label: 'p99.9', value: l.p999 },
    { label: 'max', value: l.max },
  ];
}

function histogramBars(snapshot: RunResult['histograms']['latencyUs']) {
  if (!snapshot) return [];
  return Histogram.from(snapshot)
    .distribution(30)
    .map((b) => ({ label: fmt.format(Math.round(b.to) / 1000), value: b.count }));
}

function table(rows: Array<[string, string]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function latencyText(l: LatencySummary | null): string {
  if (!l) return '–';
  return `p50 ${l.p50} · p90 ${l.p90} · p99 ${l.p99} · p99.9 ${l.p999} · max ${l.max} (n=${l.count})`;
}

/** One run's section: its figures and charts. */
function runSection(r: RunResult, heading = describeRun(r)): string {
  const m = r.messages;
  const t = r.throughput;
  const c = r.connections;
  // Each sample is the rate over the interval it closes; no made-up sample at 0, so a run with one
  // sample shows one point rather than a line rising from nothing.
  let prev = 0;
  const rates = r.timeline.map((p) => {
    const dt = Math.max(1, p.tMs - prev) / 1000;
    prev = p.tMs;
    return { t: p.tMs / 1000, sent: p.sent / dt, received: p.received / dt, connected: p.connected };
  });
  const charts = [
    r.scenario === 'conn'
      ? lineChart('Open connections over time', 'seconds', 'connections', [
          { name: 'connected', color: '#2563eb', points: rates.map((p) => [p.t, p.connected]) },
        ])
      : lineChart('Throughput over time', 'seconds', 'messages / s', [
          { name: 'sent', color: '#2563eb', points: rates.map((p) => [p.t, p.sent]) },
          { name: 'received', color: '#16a34a', points: rates.map((p) => [p.t, p.received]) },
        ]),
    r.latencyMs ? barChart('Latency percentiles (ms)', 'ms', percentileBars(r.latencyMs), '#9333ea') : '',
    r.histograms.latencyUs
      ? barChart(
          'Latency histogram (messages per bucket, upper bound in ms)',
          'messages',
          histogramBars(r.histograms.latencyUs),
          '#ea580c',
        )
      : '',
    c.latencyMs
      ? barChart('Connect latency percentiles (ms)', 'ms', percentileBars(c.latencyMs), '#0891b2')
      : '',
  ].join('\n');
  const rows: Array<[string, string]> = [
    ['result', r.ok ? 'OK: every message accounted for' : `FAILED: ${r.problems.join('; ')}`],
    ['sent / expected / received', `${m.sent} / ${m.expected} / ${m.received}`],
    ['lost / duplicated / out of order', `${m.lost} / ${m.duplicated} / ${m.outOfOrder}`],
    ...(m.unfinished ? [['unfinished when cut short', String(m.unfinished)] as [string, string]] : []),
    ['publish rate', `${t.publishRate} msg/s`],
    ['receive rate', `${t.receiveRate} msg/s (${t.receiveMBps} MB/s)`],
    ['latency (ms)', latencyText(r.latencyMs)],
    ['connections', `${c.connected} of ${c.attempted}, ${c.failed} failed, ${Math.round(c.connectRate)}/s`],
    ['ended', `${r.stopReason} after ${(r.durationMs / 1000).toFixed(2)} s, started ${r.startedAt}`],
  ];
  if (r.stresser) {
    const s = r.stresser;
    rows.push([
      'mqtt-stresser publish (fastest / median / slowest)',
      `${Math.round(s.publish.fastest)} / ${Math.round(s.publish.median)} / ${Math.round(s.publish.slowest)} msg/s`,
    ]);
    rows.push([
      'mqtt-stresser receive (fastest / median / slowest)',
      `${Math.round(s.receive.fastest)} / ${Math.round(s.receive.median)} / ${Math.round(s.receive.slowest)} msg/s`,
    ]);
  }
  return `<section class="${r.ok ? 'ok' : 'failed'}"><h2>${esc(heading)}</h2>${table(rows)}<div class="charts">${charts}</div></section>`;
}

/** Renders the report for one or more runs. */
export function renderHtml(results: RunResult[]): string {
  return page(
    results.map((r) => runSection(r)),
    results,
  );
}

/**
 * Renders the report of one or more comparisons: per scenario the side-by-side table of medians and
 * ratios, a bar chart per metric, and every run's own section folded away below.
 */
export function renderComparisonHtml(comparisons: Comparison[]): string {
  const sections = comparisons.map((c) => {
    const head = `<tr><th>broker</th>${c.metrics.map((m) => `<th>${esc(METRIC_INFO[m].label)}</th>`).join('')}<th>runs ok</th></tr>`;
    const body = c.rows
      .map(
        (row, i) =>
          `<tr><th>${esc(row.broker)}</th>${c.metrics
            .map((m) => {
              const ratio = i === 0 ? '' : formatRatio(row.ratio[m]);
              return `<td>${esc(formatMetric(m, row.median[m]))}${ratio ? ` <small>(${esc(ratio)})</small>` : ''}</td>`;
            })
            .join('')}<td>${row.ok}/${row.runs}</td></tr>`,
      )
      .join('');
    const charts = c.metrics
      .map((m) => {
        const bars = c.rows.flatMap((row) => {
          const value = row.median[m];
          return value === null ? [] : [{ label: row.broker, value }];
        });
        const better = METRIC_INFO[m].better === 'higher' ? 'higher is better' : 'lower is better';
        return bars.length > 0
          ? barChart(`${METRIC_INFO[m].label} (median; ${better})`, METRIC_INFO[m].label, bars, '#2563eb')
          : '';
      })
      .join('\n');
    const runs = c.runs
      .map((run) => runSection(run.result, `${run.broker}, round ${run.round}: ${describeRun(run.result)}`))
      .join('\n');
    const ok = c.runs.every((r) => r.result.ok);
    return `<section class="${ok ? 'ok' : 'failed'}"><h2>${esc(c.label)}</h2>
<p>Median of ${c.rounds} round${c.rounds === 1 ? '' : 's'} per broker, brokers in turn with the order rotating each round; (ratio) to ${esc(c.anchor)}.</p>
<table class="compare">${head}${body}</table><div class="charts">${charts}</div>
<details><summary>every run (${c.runs.length})</summary>${runs}</details></section>`;
  });
  return page(sections, comparisons);
}

/** The page around the sections, with the data embedded as JSON. */
function page(sections: string[], data: unknown): string {
  // `<` is escaped so the embedded JSON can never close its script element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mqtt-bench report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:780px;color:#111;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin-top:2rem}
section{border-left:4px solid #16a34a;padding-left:1rem}section.failed{border-color:#dc2626}
table{border-collapse:collapse;margin:.5rem 0}table.compare td{text-align:right;padding:2px 0 2px 14px}details{margin:1rem 0}th{text-align:left;font-weight:600;padding:2px 12px 2px 0;color:#444}td{padding:2px 0}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.25rem}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #e5e5e5}
svg text{font:11px system-ui,sans-serif;fill:#333}svg .grid{stroke:#e5e5e5}
</style></head><body>
<h1>mqtt-bench report</h1>
${sections.join('\n')}
<script type="application/json" id="mqtt-bench-results">${json}</script>
</body></html>
`;
}
