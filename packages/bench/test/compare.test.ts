import { describe, expect, it } from 'vitest';
import {
  type BrokerRun,
  COMPARISON_SCHEMA,
  type Comparison,
  checkTargets,
  formatComparison,
  formatComparisonMarkdown,
  formatMetric,
  median,
  metricsOf,
  metricsOfRun,
  OptionError,
  type ProcessUsage,
  parseProcessSample,
  type RunResult,
  summarizeRuns,
} from '../src/index.js';

/** The parts of a result the comparison reads; the rest is never looked at. */
function result(over: {
  scenario?: RunResult['scenario'];
  received?: number;
  receiveRate?: number;
  connected?: number;
  ok?: boolean;
}): RunResult {
  return {
    scenario: over.scenario ?? 'pub',
    ok: over.ok ?? true,
    problems: over.ok === false ? ['3 of 10 expected deliveries were lost'] : [],
    messages: { received: over.received ?? 1000 },
    throughput: { receiveRate: over.receiveRate ?? 1000, publishRate: over.receiveRate ?? 1000 },
    connections: { connected: over.connected ?? 2, connectRate: 100 },
    latencyMs: null,
    stresser: null,
  } as unknown as RunResult;
}

function usage(cpuMs: number, rssBefore = 10 * 2 ** 20, rssPeak = 20 * 2 ** 20): ProcessUsage {
  return { pid: 1, cpuMs, rssBeforeBytes: rssBefore, rssPeakBytes: rssPeak, rssAfterBytes: rssPeak };
}

function run(broker: string, round: number, receiveRate: number, cpuMs: number, ok = true): BrokerRun {
  const r = result({ receiveRate, received: 1000, ok });
  return {
    broker,
    round,
    order: 1,
    metrics: metricsOfRun(r, usage(cpuMs)),
    process: usage(cpuMs),
    result: r,
  };
}

describe('median', () => {
  it('takes the middle value, the mean of the two middle ones for an even count, and skips nulls', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([null, 5, null])).toBe(5);
    expect(median([null])).toBeNull();
    expect(median([])).toBeNull();
  });
});

describe('metricsOfRun', () => {
  it('gives broker CPU per delivered message and peak RSS from the process usage', () => {
    const m = metricsOfRun(result({ received: 4000 }), usage(10));
    expect(m.cpuUsPerMessage).toBe(2.5);
    expect(m.rssPeak).toBe(20);
    expect(m.receiveRate).toBe(1000);
  });

  it('gives RSS growth per connection for the conn scenario, and no message rates', () => {
    const m = metricsOfRun(result({ scenario: 'conn', connected: 1024, received: 0 }), usage(5));
    expect(m.rssPerConnection).toBe(10);
    expect(m.cpuUsPerMessage).toBeNull();
    expect(m.receiveRate).toBeNull();
  });

  it('leaves the process figures out without a pid', () => {
    const m = metricsOfRun(result({}), null);
    expect(m.cpuUsPerMessage).toBeNull();
    expect(m.rssPeak).toBeNull();
    expect(m.rssPerConnection).toBeNull();
  });
});

describe('summarizeRuns', () => {
  const brokers = [
    { name: 'ours', url: 'tcp://127.0.0.1:1' },
    { name: 'mosquitto', url: 'tcp://127.0.0.1:2' },
  ];
  const runs = [
    run('ours', 1, 300, 1),
    run('mosquitto', 1, 100, 4),
    run('mosquitto', 2, 120, 6, false),
    run('ours', 2, 500, 3),
    run('ours', 3, 400, 2),
    run('mosquitto', 3, 110, 5),
  ];
  const rows = summarizeRuns(brokers, runs);

  it('takes the median over each broker’s rounds that accounted for everything, in the order given', () => {
    expect(rows.map((r) => r.broker)).toEqual(['ours', 'mosquitto']);
    expect(rows[0]?.median.receiveRate).toBe(400);
    // Mosquitto's failed round 2 (120 msg/s, 6 ms) is left out: the median of 100 and 110.
    expect(rows[1]?.median.receiveRate).toBe(105);
    expect(rows[0]?.median.cpuUsPerMessage).toBe(2);
    expect(rows[1]?.median.cpuUsPerMessage).toBe(4.5);
  });

  it('gives ratios to the first broker (the anchor) and counts the runs that accounted for everything', () => {
    expect(rows[0]?.ratio.receiveRate).toBe(1);
    expect(rows[1]?.ratio.receiveRate).toBeCloseTo(105 / 400);
    expect(rows[1]?.ratio.cpuUsPerMessage).toBeCloseTo(2.25);
    expect(rows[1]?.ratio.latencyP99).toBeNull();
    expect(rows[0]).toMatchObject({ runs: 3, ok: 3 });
    expect(rows[1]).toMatchObject({ runs: 3, ok: 2 });
  });

  it('prints one table with medians and ratios, and the problems of failed runs', () => {
    const comparison: Comparison = {
      schema: COMPARISON_SCHEMA,
      scenario: 'pub',
      label: '10 × 1000 QoS 0',
      anchor: 'ours',
      brokers,
      rounds: 3,
      startedAt: '',
      metrics: metricsOf('pub'),
      rows,
      runs,
      host: {} as Comparison['host'],
    };
    const text = formatComparison(comparison);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('10 × 1000 QoS 0: median of 3 rounds, (ratio) to ours');
    expect(lines[1]).toMatch(/^broker\s+delivered msg\/s\s+broker CPU µs\/msg\s+RSS peak MiB\s+runs ok$/);
    expect(lines[2]).toMatch(/^ours\s+400\s+2\.00\s+20\s+3\/3$/);
    expect(lines[3]).toMatch(/^mosquitto\s+105 \(0\.26×\)\s+4\.50 \(2\.25×\)\s+20 \(1\.00×\)\s+2\/3$/);
    expect(lines[4]).toBe('  ! mosquitto round 2: 3 of 10 expected deliveries were lost');
    const markdown = formatComparisonMarkdown(comparison).split('\n');
    expect(markdown[0]).toBe('| broker | delivered msg/s | broker CPU µs/msg | RSS peak MiB | runs ok |');
    expect(markdown[1]).toBe('| --- | ---: | ---: | ---: | ---: |');
    expect(markdown[3]).toBe('| mosquitto | 105 (0.26×) | 4.50 (2.25×) | 20 (1.00×) | 2/3 |');
  });
});

describe('formatMetric', () => {
  it('prints rates in k and M, latency and CPU with decimals, and – for a missing value', () => {
    expect(formatMetric('receiveRate', 1_180_000)).toBe('1.18 M');
    expect(formatMetric('receiveRate', 441_300)).toBe('441 k');
    expect(formatMetric('receiveRate', 9_130)).toBe('9,130');
    expect(formatMetric('latencyP999', 4.567)).toBe('4.57');
    expect(formatMetric('cpuUsPerMessage', 11.63)).toBe('11.6');
    expect(formatMetric('rssPerConnection', null)).toBe('–');
  });
});

describe('checkTargets', () => {
  it('refuses no brokers, a repeated name and a pid that is not a process id', () => {
    expect(() => checkTargets([])).toThrow(OptionError);
    expect(() =>
      checkTargets([
        { name: 'a', url: ':1' },
        { name: 'a', url: ':2' },
      ]),
    ).toThrow(/two brokers are named "a"/);
    expect(() => checkTargets([{ name: 'a', url: ':1', pid: -3 }])).toThrow(/pid must be a positive integer/);
    expect(() => checkTargets([{ name: 'a', url: ':1', pid: 42 }])).not.toThrow();
  });
});

describe('parseProcessSample', () => {
  it('reads utime + stime after the command name, even one with spaces and parentheses', () => {
    // Fields 14 and 15 (utime, stime) are 250 and 50 ticks of 1/100 s.
    const stat =
      '4242 (node (my) broker) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 50 0 0 20 0 11 0 100 1000000 5000 18446744073709551615';
    const status = 'Name:\tnode\nVmPeak:\t  900000 kB\nVmRSS:\t   65536 kB\nThreads:\t11\n';
    expect(parseProcessSample(stat, status)).toEqual({ cpuMs: 3000, rssBytes: 64 * 2 ** 20 });
  });
});
