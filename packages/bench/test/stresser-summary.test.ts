import { describe, expect, it } from 'vitest';
import {
  buildStresserSummary,
  formatStresserReport,
  type StresserEvent,
  type StresserWorkerResult,
  stresserHistogram,
  stresserMedian,
} from '../src/stresser-summary.js';

function worker(
  id: number,
  pubMs: number,
  recvMs: number,
  event: StresserEvent = 'Completed',
): StresserWorkerResult {
  return {
    workerId: id,
    event,
    messagesPublished: 100,
    messagesReceived: 100,
    publishTimeMs: pubMs,
    receiveTimeMs: recvMs,
  };
}

describe('mqtt-stresser summary', () => {
  it('uses the mean of the two middle values as median', () => {
    expect(stresserMedian([1, 2, 3, 4])).toBe(2.5);
    expect(stresserMedian([1, 2, 9])).toBe(2);
    expect(stresserMedian([])).toBe(0);
  });

  it('builds the 11-step cumulative histogram, boundary values moving up', () => {
    // slowest 100, fastest 200, steps 10: 110 sits on the boundary of [100,110] and [110,120] → 120.
    const lines = stresserHistogram([100, 110, 150, 200], 4);
    expect(lines.map((l) => Math.round(l.upperBound))).toEqual([110, 120, 160, 210]);
    expect(lines.map((l) => l.percent)).toEqual([25, 50, 75, 100]);
    // All equal: steps = 0, one bucket at the value.
    expect(stresserHistogram([5, 5], 2)).toEqual([{ upperBound: 5, percent: 100 }]);
  });

  it('keeps the last result per worker and divides by completed + in progress', () => {
    const summary = buildStresserSummary(
      [
        worker(0, 100, 50),
        worker(1, 200, 100),
        worker(2, 50, 10, 'ProgressReport'),
        worker(3, 0, 0, 'ConnectFailed'),
      ],
      4,
      100,
    );
    expect(summary).toBeDefined();
    if (!summary) return;
    expect(summary.publish.fastest).toBe(2000);
    expect(summary.publish.slowest).toBe(500);
    expect(summary.publish.median).toBe(1000);
    expect(summary.receive.median).toBe(2000);
    expect(summary.errors).toBe(1);
    expect(summary.publish.histogram.at(-1)?.percent).toBe(100);
    const text = formatStresserReport(summary);
    expect(text).toContain('Messages / Client:  400');
    expect(text).toContain('# Receiving Througput');
    expect(text).toContain('- Aborted:          1 (25%)');
    expect(formatStresserReport(summary, true)).toContain('Messages / Client:  100');
  });

  it('reports nothing feasible when no worker completed', () => {
    expect(buildStresserSummary([worker(0, 0, 0, 'TimeoutExceeded')], 1, 10)).toBeUndefined();
  });
});
