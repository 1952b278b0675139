import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AllowAllHook, Broker, MemoryStore, silentLogger, TcpListener } from '@x/broker';
import { HttpListener } from '@x/broker-http';
import { requireServer, sleep, until } from '@x/test-helpers';
import mqtt, { type MqttClient } from 'mqtt';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../scripts/build-app.js';
import { dashboardHandler } from '../src/index.js';

const TOKEN = 'dashboard-test-token';
const chromiumBinary = requireServer('chromium', 'apt-get install chromium');
const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const axeScript = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** What axe-core reports per rule broken (https://github.com/dequelabs/axe-core). */
interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** What went wrong in a page: console errors, uncaught exceptions, failed and refused requests. */
interface Problems {
  list: string[];
}

/**
 * The built dashboard in headless Chromium against a running broker (TCP + HTTP listener with the
 * dashboard), driven like a user would: log in, open each page, act, and check the broker and real
 * MQTT.js clients see the result.
 */
describe.skipIf(chromiumBinary.skip)(`dashboard in headless Chromium ${chromiumBinary.reason}`, () => {
  let broker: Broker;
  let http: HttpListener;
  let mqttUrl: string;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  const clients: MqttClient[] = [];

  const connect = async (clientId: string, options: mqtt.IClientOptions = {}) => {
    const client = await mqtt.connectAsync(mqttUrl, {
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...options,
    });
    clients.push(client);
    return client;
  };

  /** A new page that records every problem; `allow` lists expected ones (the 401 of a wrong token). */
  const openPage = async (viewport = { width: 1280, height: 900 }, allow: RegExp[] = []) => {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    const problems: Problems = { list: [] };
    const note = (text: string) => {
      if (!allow.some((pattern) => pattern.test(text))) problems.list.push(text);
    };
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') note(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => note(`page error: ${error.message}`));
    page.on('requestfailed', (request) => {
      // Streams are cut when the page navigates or closes: that is their normal end.
      if (request.url().includes('/api/v1/stream') && request.failure()?.errorText === 'net::ERR_ABORTED')
        return;
      note(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) note(`HTTP ${response.status()}: ${response.url()}`);
    });
    return { page, problems };
  };

  const login = async (page: Page) => {
    await page.goto(base);
    await page.getByLabel('Management token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  };

  const go = async (page: Page, name: string, heading: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  const shoot = (page: Page, name: string) =>
    page.screenshot({ path: `${artifacts}${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // The page under test is built from the sources now, never a stale dist/.
    await buildApp();
    // A store, so the overview has a store state to show.
    broker = new Broker({ logger: silentLogger, sysInterval: 0, store: new MemoryStore() });
    broker.addHook(new AllowAllHook());
    const tcp = new TcpListener({ host: '127.0.0.1', port: 0 });
    http = new HttpListener({
      broker,
      port: 0,
      token: TOKEN,
      dashboard: dashboardHandler(),
      config: { http: { token: '********' }, listeners: [{ type: 'tcp', port: 1883 }] },
    });
    await broker.addListener(tcp);
    await broker.addListener(http);
    await broker.start();
    mqttUrl = `mqtt://127.0.0.1:${tcp.port}`;
    base = `http://127.0.0.1:${http.port}/`;
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
    context = await browser.newContext();
  }, 180_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
    for (const page of context.pages()) await page.close();
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  it('refuses a wrong token and keeps nothing', async () => {
    const { page, problems } = await openPage(undefined, [/401/]);
    await page.goto(base);
    await page.getByLabel('Management token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('refused');
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shoot(page, 'login-refused');
    expect(problems.list).toEqual([]);
  });

  it('loads every page with no console error and no failed request', async () => {
    const watcher = await connect('page-tour-watcher', { username: 'alice' });
    await watcher.subscribeAsync(['tour/#', 'sensors/+/temp'], { qos: 1 });
    broker.publish('tour/retained', 'kept for the tour', { retain: true, qos: 1 });
    const { page, problems } = await openPage();
    await login(page);
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    const pages: Array<[string, string, string]> = [
      ['Overview', 'Overview', 'overview'],
      ['Clients', 'Clients', 'clients'],
      ['Subscriptions', 'Subscriptions', 'subscriptions'],
      ['Retained', 'Retained messages', 'retained'],
      ['Publish', 'Publish', 'publish'],
      ['Live', 'Live topics', 'live'],
      ['Config', 'Configuration', 'config'],
    ];
    for (const [link, heading, file] of pages) {
      await go(page, link, heading);
      // The stats stream sends a sample every second, so the network is idle only briefly: a short, bounded wait.
      await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
      await sleep(300);
      await shoot(page, file);
    }
    // The pages show what the broker holds.
    await go(page, 'Overview', 'Overview');
    await page.getByText('memory, writing').waitFor({ timeout: 2000 });
    await go(page, 'Subscriptions', 'Subscriptions');
    await page.getByRole('cell', { name: 'sensors/+/temp' }).waitFor({ timeout: 2000 });
    await go(page, 'Config', 'Configuration');
    await page.getByRole('cell', { name: /^http:\/\/127\.0\.0\.1:/ }).waitFor({ timeout: 2000 });
    expect(await page.locator('pre.json').textContent()).toContain('********');
    expect(await page.locator('pre.json').textContent()).not.toContain(TOKEN);
    // On a phone, the same pages fit the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await go(page, 'Overview', 'Overview');
    await sleep(300);
    await shoot(page, 'phone-overview');
    await go(page, 'Clients', 'Clients');
    await page.getByRole('row', { name: /page-tour-watcher/ }).waitFor();
    await shoot(page, 'phone-clients');
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(problems.list).toEqual([]);
  });

  it('shows a connected MQTT.js client within 2 s, with details, and kick disconnects it', async () => {
    const { page, problems } = await openPage();
    await login(page);
    await go(page, 'Clients', 'Clients');
    // Let the page settle on the list it has, then connect: the list follows by itself.
    // Loaded: either rows with their pager, or the empty-list note.
    await page.locator('.pager, .table-wrap > .hint').first().waitFor();
    await sleep(500);
    const started = Date.now();
    const client = await connect('kick-me-please', { username: 'bob', keepalive: 42 });
    const row = page.getByRole('row', { name: /kick-me-please/ });
    await row.waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    await client.subscribeAsync('kick/topic', { qos: 2 });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const disconnect = new Promise<number | undefined>((resolve) =>
      client.once('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    // Search by client id, user name and address finds it.
    await page.getByLabel('Search client id, user name or address').fill('kick-me');
    await row.waitFor({ timeout: 2000 });
    await page.getByLabel('Search client id, user name or address').fill('bob');
    await row.waitFor({ timeout: 2000 });
    await page.getByLabel('Search client id, user name or address').fill('127.0.0.1');
    await row.waitFor({ timeout: 2000 });
    await row.getByRole('button', { name: /Details/ }).click();
    const details = page.locator('#client-details');
    await details.getByText('kick/topic').waitFor();
    const text = await details.textContent();
    expect(text).toContain('MQTT 5');
    expect(text).toContain('42 s');
    await shoot(page, 'client-details');
    await row.getByRole('button', { name: /Kick/ }).click();
    await expect(disconnect).resolves.toBe(0x98);
    await closed;
    await page.getByRole('status').getByText('Disconnected kick-me-please.').waitFor();
    expect(problems.list).toEqual([]);
  });

  it('blocks a client id from the details panel', async () => {
    const { page, problems } = await openPage();
    await login(page);
    await go(page, 'Clients', 'Clients');
    const client = await connect('block-me');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await page.getByLabel('Search client id, user name or address').fill('block-me');
    const row = page.getByRole('row', { name: /block-me/ });
    await row.getByRole('button', { name: /Details/ }).click();
    await page.getByRole('button', { name: 'Block client id' }).click();
    await closed;
    await page.getByRole('region', { name: 'Block list' }).getByText('client id block-me').waitFor();
    await expect(mqtt.connectAsync(mqttUrl, { clientId: 'block-me', reconnectPeriod: 0 })).rejects.toThrow();
    expect(http.blockList.list()).toHaveLength(1);
    await page.getByRole('button', { name: 'Unblock client id block-me' }).click();
    await until(() => http.blockList.list().length === 0, 2000, 'the entry to go');
    expect(problems.list).toEqual([]);
  });

  it('publishes from the form to an MQTT subscriber, with v5 properties', async () => {
    const subscriber = await connect('form-subscriber');
    await subscriber.subscribeAsync('form/#', { qos: 1 });
    const received = new Promise<{ topic: string; payload: string; packet: mqtt.IPublishPacket }>((resolve) =>
      subscriber.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), packet }),
      ),
    );
    const { page, problems } = await openPage();
    await login(page);
    await go(page, 'Publish', 'Publish');
    await page.getByLabel('Topic', { exact: true }).fill('form/greeting');
    await page.getByLabel('Payload', { exact: true }).fill('hello from the dashboard');
    await page.getByLabel('QoS').selectOption('1');
    await page.getByText('MQTT 5 properties').click();
    await page.getByLabel('Content type').fill('text/plain');
    await page.getByLabel('User properties (one name=value a line)').fill('origin=dashboard');
    await shoot(page, 'publish-filled');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    const message = await received;
    expect(message.topic).toBe('form/greeting');
    expect(message.payload).toBe('hello from the dashboard');
    expect(message.packet.qos).toBe(1);
    expect(message.packet.properties?.contentType).toBe('text/plain');
    expect(message.packet.properties?.userProperties).toEqual({ origin: 'dashboard' });
    await page.getByRole('status').getByText('Published 24 bytes to form/greeting.').waitFor();
    expect(problems.list).toEqual([]);
  });

  it('deletes a retained message', async () => {
    broker.publish('doomed/one', 'delete me', { retain: true, qos: 0 });
    broker.publish('doomed/two', 'keep me', { retain: true, qos: 0 });
    broker.publish('elsewhere/kept', 'not in the filter', { retain: true, qos: 0 });
    const { page, problems } = await openPage();
    await login(page);
    await go(page, 'Retained', 'Retained messages');
    await page.getByRole('row', { name: /elsewhere\/kept/ }).waitFor();
    await page.getByLabel('Topic filter').fill('doomed/#');
    await page.getByRole('row', { name: /elsewhere\/kept/ }).waitFor({ state: 'detached' });
    const row = page.getByRole('row', { name: /doomed\/one/ });
    await row.waitFor();
    await page.getByRole('row', { name: /doomed\/two/ }).waitFor();
    await shoot(page, 'retained-filtered');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: /Delete/ }).click();
    await row.waitFor({ state: 'detached' });
    expect(broker.retained.get('doomed/one')).toBeUndefined();
    expect(broker.retained.get('doomed/two')).toBeDefined();
    // A new subscriber gets only the one left.
    const late = await connect('late-subscriber');
    const topics: string[] = [];
    late.on('message', (topic) => topics.push(topic));
    await late.subscribeAsync('doomed/#');
    await until(() => topics.length > 0, 2000, 'the retained message');
    await sleep(100);
    expect(topics).toEqual(['doomed/two']);
    expect(problems.list).toEqual([]);
  });

  it('shows in the live viewer the messages a client publishes', async () => {
    const { page, problems } = await openPage();
    await login(page);
    await go(page, 'Live', 'Live topics');
    await page.getByLabel('Topic filter').fill('live/+/reading');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByRole('status').getByText('Watching live/+/reading.').waitFor();
    const publisher = await connect('live-publisher');
    for (let i = 0; i < 5; i++) await publisher.publishAsync(`live/${i}/reading`, `value ${i}`, { qos: 1 });
    await publisher.publishAsync('live/elsewhere', 'not shown', { qos: 1 });
    const list = page.getByRole('list', { name: 'Messages received' });
    await list.getByText('value 4').waitFor({ timeout: 2000 });
    expect(await list.getByRole('listitem').count()).toBe(5);
    expect(await list.textContent()).not.toContain('not shown');
    await shoot(page, 'live');
    await page.getByRole('button', { name: 'Stop' }).click();
    await until(() => !broker.inline.hasSubscriptions, 2000, 'the stream to unsubscribe');
    expect(problems.list).toEqual([]);
  });

  it('moves the charts while load runs', async () => {
    const { page, problems } = await openPage();
    await login(page);
    const chart = page.getByRole('figure').filter({ hasText: 'Messages per second' });
    await chart.waitFor();
    const canvas = chart.locator('canvas');
    const pixels = () => canvas.evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    await sleep(1500);
    const before = await pixels();
    const publisher = await connect('load-publisher');
    const sink = await connect('load-sink');
    await sink.subscribeAsync('load/#', { qos: 0 });
    let running = true;
    const load = (async () => {
      let n = 0;
      while (running) {
        publisher.publish(`load/${n % 10}`, 'x'.repeat(100), { qos: 0 });
        if (++n % 200 === 0) await sleep(10);
      }
    })();
    try {
      // The "in" figure of the messages chart rises above 100/s within a few samples.
      const inRate = chart.locator('.chart-legend strong').first();
      const deadline = Date.now() + 6000;
      let rate = 0;
      while (rate <= 100 && Date.now() < deadline) {
        await sleep(250);
        rate = Number.parseFloat(((await inRate.textContent()) ?? '0').replace(/,/g, ''));
      }
      expect(rate).toBeGreaterThan(100);
      await sleep(1500);
      await shoot(page, 'overview-under-load');
    } finally {
      running = false;
      await load;
    }
    expect(await pixels()).not.toBe(before);
    const legend = await chart.textContent();
    expect(legend).toMatch(/in: [\d,.]+\/s/);
    expect(problems.list).toEqual([]);
  });

  it('passes an axe-core accessibility audit (WCAG 2 A/AA) on every page and works from the keyboard', async () => {
    // axe is injected as a script, which the page's own CSP forbids: this context alone bypasses it.
    const audit = await browser.newContext({ bypassCSP: true });
    try {
      const page = await audit.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      const check = async (name: string) => {
        await page.addScriptTag({ path: axeScript });
        const violations = (await page.evaluate(
          "axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] }).then((r) => r.violations)",
        )) as AxeViolation[];
        return violations.map(
          (v) =>
            `${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
        );
      };
      await page.goto(base);
      await page.getByLabel('Management token').waitFor();
      const found = await check('login');
      // Keyboard only: type the token, Enter submits, Tab reaches the navigation.
      await page.getByLabel('Management token').focus();
      await page.keyboard.type(TOKEN);
      await page.keyboard.press('Enter');
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      let reached = false;
      for (let i = 0; i < 10 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = (await page.evaluate('document.activeElement?.textContent')) === 'Clients';
      }
      expect(reached).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
      for (const [link, heading] of [
        ['Overview', 'Overview'],
        ['Clients', 'Clients'],
        ['Subscriptions', 'Subscriptions'],
        ['Retained', 'Retained messages'],
        ['Publish', 'Publish'],
        ['Live', 'Live topics'],
        ['Config', 'Configuration'],
      ] as const) {
        await go(page, link, heading);
        await sleep(300);
        found.push(...(await check(link)));
      }
      expect(found).toEqual([]);
    } finally {
      await audit.close();
    }
  });
});
