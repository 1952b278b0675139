import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketListener } from '@x/broker';
import { freePort, type RunningBroker, requireServer, startBroker } from '@x/test-helpers';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserBuildOptions } from '../scripts/build-browser.js';
import { connect } from '../src/index.js';

/** What the page callbacks touch (this file is compiled without the DOM library). */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null };
}

const chromiumBinary = requireServer('chromium', 'apt-get install chromium');
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The browser bundle in headless Chromium, over WebSocket to our broker: the example page connects,
 * and a script in the page runs QoS 0/1/2 both ways and exchanges messages with a Node client.
 */
describe.skipIf(chromiumBinary.skip)(`browser build in headless Chromium ${chromiumBinary.reason}`, () => {
  let broker: RunningBroker;
  let wsUrl: string;
  let http: Server;
  let pageBase: string;
  let browser: Browser;
  let bundle: string;

  beforeAll(async () => {
    broker = await startBroker();
    const ws = new WebSocketListener({ host: '127.0.0.1', port: 0, path: null, allowedOrigins: ['*'] });
    await broker.broker.addListener(ws);
    wsUrl = `ws://127.0.0.1:${ws.port}/mqtt`;
    const built = await build({ ...browserBuildOptions(), write: false, outfile: 'browser.min.js' });
    bundle = built.outputFiles?.[0]?.text ?? '';
    http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/dist/browser.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      } else if (path === '/examples/browser.html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync(`${root}examples/browser.html`));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    pageBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: chromiumBinary.path,
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
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => http?.close(resolve));
    await broker?.close();
  });

  it('bundles no Node built-ins and no Buffer polyfill on globalThis', () => {
    expect(bundle.length).toBeGreaterThan(1000);
    expect(bundle).not.toMatch(/require\(["']|from\s*["']node:|from\s*["'](net|tls|ws|events|stream)["']/);
  });

  it('the example page connects, subscribes, publishes and shows the message', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${pageBase}/examples/browser.html?autoconnect&url=${encodeURIComponent(wsUrl)}`);
      await page.waitForFunction(() =>
        (globalThis as unknown as PageGlobals).document
          .getElementById('status')
          ?.textContent?.startsWith('connected'),
      );
      await page.click('#subscribe button');
      await page.waitForFunction(() =>
        (globalThis as unknown as PageGlobals).document
          .getElementById('log')
          ?.textContent?.includes('subscribed'),
      );
      await page.click('#publish button');
      await page.waitForFunction(() =>
        (globalThis as unknown as PageGlobals).document
          .getElementById('log')
          ?.textContent?.includes('hello from the browser'),
      );
    } finally {
      await page.close();
    }
  });

  it('runs QoS 0/1/2 both ways in the page and talks to a Node client', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${pageBase}/examples/browser.html`);
      const node = await connect(broker.url, { protocolVersion: 5 });
      const fromBrowser = new Promise<string>((resolve) =>
        node.on('message', (m) => m.topic === 'browser/out' && resolve(m.text())),
      );
      await node.subscribe('browser/out', { qos: 1 });
      // Retained, so that the page receives it when it subscribes.
      await node.publish('browser/in', 'from node', { qos: 2, retain: true });
      // A string, so that the test runner does not rewrite the page's dynamic import.
      await page.evaluate('import("/dist/browser.min.js").then((m) => { globalThis.mqttx = m; })');
      const result = await page.evaluate(async (url) => {
        const { connect: browserConnect } = (
          globalThis as unknown as { mqttx: typeof import('../src/browser.js') }
        ).mqttx;
        const client = await browserConnect(url, { protocolVersion: 5, clientId: 'in-the-browser' });
        const got: string[] = [];
        const done = new Promise<void>((resolve) => {
          client.on('message', (m: { topic: string; qos: number; text(): string; payload: Uint8Array }) => {
            got.push(`${m.topic}|${m.qos}|${m.text()}|${m.payload instanceof Uint8Array}`);
            if (got.length === 4) resolve();
          });
        });
        // The retained message may arrive before the SUBACK: listen first.
        await client.subscribe(['loop/#', 'browser/in'], { qos: 2 });
        const results = [];
        for (const qos of [0, 1, 2] as const) {
          results.push(
            await client.publish(`loop/${qos}`, `q${qos}`, {
              qos,
              properties: { userProperties: [['k', 'v']] },
            }),
          );
        }
        await client.publish('browser/out', 'from the page', { qos: 1 });
        await done;
        await client.end();
        return {
          got: got.sort(),
          results: results.map((r: { reasonCode: number }) => r.reasonCode),
          globals: [
            typeof (globalThis as { Buffer?: unknown }).Buffer,
            typeof (globalThis as { process?: unknown }).process,
          ],
        };
      }, wsUrl);
      expect(await fromBrowser).toBe('from the page');
      expect(result.results).toEqual([0, 0, 0]);
      expect(result.globals).toEqual(['undefined', 'undefined']);
      expect(result.got).toEqual([
        'browser/in|2|from node|true',
        'loop/0|0|q0|true',
        'loop/1|1|q1|true',
        'loop/2|2|q2|true',
      ]);
      await node.end();
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  /**
   * IndexedDbStore: a page publishes QoS 1 and 2 while its broker is down (stored, not sent) and is
   * closed without end(); a second page of the same origin, once a broker is back on that port,
   * sends what the first one stored: each message arrives once.
   */
  it('IndexedDbStore: publishes stored while offline survive closing the page', async () => {
    const context = await browser.newContext();
    const wsPort = await freePort();
    const startWs = async () => {
      const b = await startBroker();
      await b.broker.addListener(
        new WebSocketListener({ host: '127.0.0.1', port: wsPort, path: null, allowedOrigins: ['*'] }),
      );
      return b;
    };
    const url = `ws://127.0.0.1:${wsPort}/mqtt`;
    const load = async () => {
      const page = await context.newPage();
      await page.goto(`${pageBase}/examples/browser.html`);
      await page.evaluate('import("/dist/browser.min.js").then((m) => { globalThis.mqttx = m; })');
      return page;
    };
    type Mqttx = { mqttx: typeof import('../src/browser.js') };
    let first: RunningBroker | undefined = await startWs();
    let second: RunningBroker | undefined;
    try {
      const page1 = await load();
      await page1.evaluate(async (url) => {
        const { connect: browserConnect, IndexedDbStore } = (globalThis as unknown as Mqttx).mqttx;
        const store = new IndexedDbStore('mqtt-idb-test');
        const client = await browserConnect(url, {
          clientId: 'idb-page',
          clean: false,
          sessionExpiryInterval: 600,
          outgoingStore: store,
          reconnect: { initialDelay: 50, maxDelay: 200 },
        });
        (globalThis as unknown as { client: typeof client }).client = client;
      }, url);
      await first.close();
      first = undefined;
      const stored = await page1.evaluate(async () => {
        const { client } = globalThis as unknown as {
          client: { state: string; publish(t: string, p: string, o: { qos: 1 | 2 }): Promise<unknown> };
        };
        while (client.state === 'connected') await new Promise((r) => setTimeout(r, 20));
        for (let i = 0; i < 6; i++)
          void client.publish(`idb/${i}`, `m${i}`, { qos: i % 2 === 0 ? 1 : 2 }).catch(() => undefined);
        // A second handle on the same database sees what the client has stored.
        const { IndexedDbStore } = (globalThis as unknown as Mqttx).mqttx;
        const probe = new IndexedDbStore('mqtt-idb-test');
        for (let tries = 0; tries < 100; tries++) {
          const entries = await probe.list();
          if (entries.length === 6) {
            await probe.close();
            return entries.map((e) => [e.packetId, e.released]);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        return [];
      });
      expect(stored).toEqual([1, 2, 3, 4, 5, 6].map((id) => [id, false]));
      await page1.close();

      second = await startWs();
      const node = await connect(second.url);
      const got: string[] = [];
      node.on('message', (m) => got.push(`${m.topic}|${m.qos}|${m.text()}`));
      await node.subscribe('idb/#', { qos: 2 });
      const page2 = await load();
      const left = await page2.evaluate(async (url) => {
        const { connect: browserConnect, IndexedDbStore } = (globalThis as unknown as Mqttx).mqttx;
        const client = await browserConnect(url, {
          clientId: 'idb-page',
          clean: false,
          sessionExpiryInterval: 600,
          outgoingStore: new IndexedDbStore('mqtt-idb-test'),
        });
        while (client.inflight > 0 || client.queued > 0) await new Promise((r) => setTimeout(r, 20));
        await client.end();
        const probe = new IndexedDbStore('mqtt-idb-test');
        const entries = await probe.list();
        await probe.close();
        return entries.length;
      }, url);
      expect(left).toBe(0);
      await expect
        .poll(() => [...got].sort())
        .toEqual(['idb/0|1|m0', 'idb/1|2|m1', 'idb/2|1|m2', 'idb/3|2|m3', 'idb/4|1|m4', 'idb/5|2|m5']);
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(6);
      await page2.close();
      await node.end();
    } finally {
      await context.close();
      await first?.close();
      await second?.close();
    }
  });
});
