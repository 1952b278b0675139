import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type RunningMosquitto, requireServer, startMosquitto } from '@x/test-helpers';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../src/coordinator.js';
import { renderHtml } from '../src/html.js';
import { resolveScenario } from '../src/options.js';
import type { RunResult } from '../src/result.js';

const browser = requireServer('chromium', 'apt-get install -y chromium');
const mosquitto = requireServer('mosquitto');

describe.skipIf(browser.skip || mosquitto.skip)(
  `HTML report in headless Chromium ${browser.reason} ${mosquitto.reason}`,
  () => {
    let broker: RunningMosquitto;
    let dir: string;
    const results: RunResult[] = [];
    beforeAll(async () => {
      broker = await startMosquitto({ config: ['max_queued_messages 0'] });
      dir = mkdtempSync(join(tmpdir(), 'bench-html-'));
      results.push(
        await runScenario(resolveScenario('latency', { broker: broker.url, rate: 2000, durationMs: 700 }), {
          progressIntervalMs: 100,
        }),
      );
      results.push(await runScenario(resolveScenario('conn', { broker: broker.url, numClients: 20 })));
    });
    afterAll(async () => {
      await broker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('renders offline without errors, with its charts', async () => {
      const file = join(dir, 'report.html');
      writeFileSync(file, renderHtml(results));
      const instance = await chromium.launch({
        executablePath: browser.path,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
      try {
        const page = await instance.newPage();
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('request', (r) => {
          if (!r.url().startsWith('file:')) requests.push(r.url());
        });
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        expect(problems).toEqual([]);
        expect(requests).toEqual([]);
        expect(await page.title()).toBe('mqtt-bench report');
        // latency run: throughput, percentiles, histogram, connect latency; conn run: connections, connect latency.
        expect(await page.locator('svg').count()).toBe(6);
        // The latency run's sent and received lines; the conn run's may be a single sample, a dot.
        expect(await page.locator('svg polyline').count()).toBeGreaterThanOrEqual(2);
        expect(await page.locator('svg polyline, svg circle').count()).toBeGreaterThanOrEqual(3);
        const box = await page.locator('svg').first().boundingBox();
        expect(box?.width).toBeGreaterThan(300);
        expect(await page.locator('section.ok').count()).toBe(2);
        if (process.env.BENCH_SCREENSHOT)
          await page.screenshot({ path: process.env.BENCH_SCREENSHOT, fullPage: true });
        const embedded = await page.locator('#mqtt-bench-results').textContent();
        expect(JSON.parse(embedded ?? '[]')[0].scenario).toBe('latency');
      } finally {
        await instance.close();
      }
    });
  },
);

describe('HTML report text', () => {
  it('escapes what it echoes and keeps the embedded JSON inside its script element', async () => {
    // Nothing listens on port 1: the run fails at once, which is all this needs.
    const hostile = 'tcp://127.0.0.1:1/</script><img src=x onerror=alert(1)>';
    const r = await runScenario(resolveScenario('conn', { broker: hostile, numClients: 1, timeoutMs: 2000 }));
    expect(r.ok).toBe(false);
    const html = renderHtml([r]);
    expect(html).not.toContain('<img');
    expect(html.match(/<\/script>/g)?.length).toBe(1);
    expect(html).toContain('&#60;img src=x');
    const json = html.slice(html.indexOf('<script type="application/json"'), html.lastIndexOf('</script>'));
    expect(JSON.parse(json.slice(json.indexOf('>') + 1))[0].config.broker).toBe(hostile);
  });

  it('draws a run with one timeline sample as a dot, not as a line rising from 0', async () => {
    const r = await runScenario(resolveScenario('conn', { broker: ':1', numClients: 1, timeoutMs: 2000 }));
    const one = renderHtml([{ ...r, timeline: [{ tMs: 300, sent: 0, received: 0, connected: 1 }] }]);
    expect(one).not.toContain('<polyline');
    expect(one.match(/<circle /g)?.length).toBe(1);
    const two = renderHtml([
      {
        ...r,
        timeline: [
          { tMs: 500, sent: 0, received: 0, connected: 1 },
          { tMs: 1000, sent: 0, received: 0, connected: 1 },
        ],
      },
    ]);
    // Two samples, two points: the line starts at the first sample (x = 0.5 s), not at the origin.
    const points = /<polyline points="([^"]+)"/.exec(two)?.[1]?.split(' ');
    expect(points).toHaveLength(2);
    expect(two).not.toContain('<circle ');
  });
});
