import { AllowAllHook, Broker, silentLogger, TcpListener } from '@x/broker';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, HttpListener } from '../src/index.js';

const TOKEN = 'test-token-123';

describe('HTTP listener', () => {
  let broker: Broker;
  let http: HttpListener;
  let mqttUrl: string;
  let base: string;
  let watcher: MqttClient;

  const api = async (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    if (init.body !== undefined && !headers.has('content-type'))
      headers.set('content-type', 'application/json');
    const response = await fetch(`${base}${path}`, { ...init, headers });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      body: response.headers.get('content-type')?.startsWith('application/json')
        ? JSON.parse(text)
        : undefined,
      text,
    };
  };

  beforeAll(async () => {
    broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    broker.addHook(new AllowAllHook());
    const tcp = new TcpListener({ port: 0 });
    http = new HttpListener({
      broker,
      port: 0,
      token: TOKEN,
      config: { example: true },
      resources: { widgets: () => [{ name: 'w1' }] },
      routes: {
        gadgets: async ({ method, path, query }) => {
          if (path[0] === 'teapot') throw new HttpError(418, 'TEAPOT', 'short and stout');
          if (path[0] === 'missing') return undefined;
          return { method, path, q: query.get('q') };
        },
      },
    });
    await broker.addListener(tcp);
    await broker.addListener(http);
    await broker.start();
    mqttUrl = `mqtt://127.0.0.1:${tcp.port}`;
    base = `http://127.0.0.1:${http.port}`;
    watcher = await mqtt.connectAsync(mqttUrl, { clientId: 'watcher', protocolVersion: 5 });
    await watcher.subscribeAsync(['api/#', 'stats/+'], { qos: 1 });
  });
  afterAll(async () => {
    await watcher.endAsync();
    await broker.close();
  });

  it('answers health and readiness checks', async () => {
    expect((await api('/healthz', { token: null })).body).toEqual({ status: 'ok' });
    expect((await api('/readyz', { token: null })).status).toBe(200);
  });

  it('serves the $SYS figures as JSON at /stats', async () => {
    const { status, body } = await api('/stats', { token: null });
    expect(status).toBe(200);
    expect(body.clientsConnected).toBe(1);
    expect(body.subscriptions).toBe(2);
    expect(typeof body.version).toBe('string');
  });

  it('serves Prometheus metrics', async () => {
    const { status, type, text } = await api('/metrics', { token: null });
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    expect(text).toMatch(/^mqtt_clients_connected 1$/m);
    expect(text).toMatch(/^# TYPE mqtt_messages_received_total counter$/m);
    // The backpressure figures (issue 15): a held acknowledgement is a slowed publisher, not a loss.
    expect(text).toMatch(/^# TYPE mqtt_acks_held_total counter$/m);
    expect(text).toMatch(/^mqtt_held_bytes 0$/m);
    expect(text).toMatch(/^mqtt_stalled_consumers_total 0$/m);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('serves the extra read-only resources it is given, behind the token', async () => {
    expect((await api('/api/v1/widgets', { token: null })).status).toBe(401);
    const { status, body } = await api('/api/v1/widgets');
    expect(status).toBe(200);
    expect(body).toEqual([{ name: 'w1' }]);
    expect((await api('/api/v1/widgets', { method: 'DELETE' })).status).toBe(405);
    expect((await api('/api/v1/widgets/1')).status).toBe(404);
    expect((await api('/api/v1/toString')).status).toBe(404);
  });

  it('hands the endpoint trees it is given any method, path and query, behind the token', async () => {
    expect((await api('/api/v1/gadgets/a', { token: null })).status).toBe(401);
    const got = await api('/api/v1/gadgets/a/b%2Fc?q=1', { method: 'POST' });
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ method: 'POST', path: ['a', 'b/c'], q: '1' });
    const missing = await api('/api/v1/gadgets/missing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const teapot = await api('/api/v1/gadgets/teapot', { method: 'DELETE' });
    expect(teapot.status).toBe(418);
    expect(teapot.body.error).toEqual({ code: 'TEAPOT', message: 'short and stout' });
  });

  it('protects /api/v1 with the bearer token', async () => {
    const none = await api('/api/v1/info', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    expect((await api('/api/v1/info', { token: 'wrong' })).status).toBe(401);
    expect((await api('/api/v1/info', { token: `${TOKEN}x` })).status).toBe(401);
    const info = await api('/api/v1/info');
    expect(info.status).toBe(200);
    expect(info.body.listeners.map((l: { id: string }) => l.id)).toEqual(['tcp', 'http']);
    expect(info.body.state).toBe('running');
    expect(info.body).toMatchObject({ ready: true, store: null, persistent: false });
    expect(info.body.memory.rss).toBeGreaterThan(0);
  });

  it('shows config, stats and the online count', async () => {
    const config = await api('/api/v1/config');
    expect(config.body.app).toEqual({ example: true });
    expect(config.body.broker.maxPacketSize).toBeGreaterThan(0);
    expect((await api('/api/v1/stats')).body.clientsConnected).toBe(1);
    expect((await api('/api/v1/clients/count')).body).toEqual({ online: 1, sessions: 1 });
  });

  it('lists clients with paging and filters, and shows one client', async () => {
    const clients = await Promise.all(
      ['a-1', 'a-2', 'b-1'].map((clientId) => mqtt.connectAsync(mqttUrl, { clientId, protocolVersion: 5 })),
    );
    try {
      const all = await api('/api/v1/clients?limit=2');
      expect(all.body.total).toBe(4);
      expect(all.body.items.map((c: { clientId: string }) => c.clientId)).toEqual(['a-1', 'a-2']);
      const second = await api('/api/v1/clients?limit=2&offset=2');
      expect(second.body.items.map((c: { clientId: string }) => c.clientId)).toEqual(['b-1', 'watcher']);
      const filtered = await api('/api/v1/clients?filter=a-');
      expect(filtered.body.total).toBe(2);
      // One search over id, user name and address, case-insensitive.
      const ids = async (query: string) =>
        (await api(`/api/v1/clients?${query}`)).body.items.map((c: { clientId: string }) => c.clientId);
      expect(await ids('search=B-1')).toEqual(['b-1']);
      expect(await ids('search=127.0.0.1&limit=10')).toEqual(['a-1', 'a-2', 'b-1', 'watcher']);
      expect(await ids('search=nothing-like-this')).toEqual([]);
      const watcherInfo = await api('/api/v1/clients/watcher');
      expect(watcherInfo.body).toMatchObject({
        clientId: 'watcher',
        online: true,
        protocolVersion: 5,
        inflight: 0,
        queued: 0,
        keepAlive: 60,
      });
      expect(
        watcherInfo.body.subscriptions.map((s: { topicFilter: string }) => s.topicFilter).sort(),
      ).toEqual(['api/#', 'stats/+']);
      expect(watcherInfo.body.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Date.parse(watcherInfo.body.connectedAt)).toBeGreaterThan(0);
      expect((await api('/api/v1/clients/nobody')).status).toBe(404);
      expect((await api('/api/v1/clients?limit=5000')).status).toBe(400);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync()));
    }
  });

  it('kicks a client', async () => {
    const victim = await mqtt.connectAsync(mqttUrl, {
      clientId: 'victim',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const disconnect = new Promise<number>((resolve) =>
      victim.once('disconnect', (packet) => resolve(packet.reasonCode ?? -1)),
    );
    expect((await api('/api/v1/clients/victim/kick', { method: 'POST' })).body).toEqual({ kicked: 'victim' });
    expect(await disconnect).toBe(0x98);
    expect((await api('/api/v1/clients/victim', { method: 'DELETE' })).status).toBe(404);
    victim.end(true);
  });

  it('keeps a block list: add disconnects, blocked clients are refused, remove lets them back', async () => {
    const client = await mqtt.connectAsync(mqttUrl, {
      clientId: 'bad',
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const disconnect = new Promise<number>((resolve) =>
      client.once('disconnect', (packet) => resolve(packet.reasonCode ?? -1)),
    );
    const added = await api('/api/v1/blocklist', {
      method: 'POST',
      body: JSON.stringify({ clientId: 'bad', reason: 'spam' }),
    });
    expect(added.body).toMatchObject({ clientId: 'bad' });
    expect(added.status).toBe(201);
    expect(await disconnect).toBe(0x98);
    client.end(true);
    await expect(
      mqtt.connectAsync(mqttUrl, { clientId: 'bad', protocolVersion: 5, reconnectPeriod: 0 }),
    ).rejects.toMatchObject({
      code: 0x8a,
    });
    const list = await api('/api/v1/blocklist');
    expect(list.body.items).toEqual([
      expect.objectContaining({ id: added.body.id, clientId: 'bad', reason: 'spam' }),
    ]);
    expect((await api(`/api/v1/blocklist/${added.body.id}`, { method: 'DELETE' })).status).toBe(200);
    const back = await mqtt.connectAsync(mqttUrl, { clientId: 'bad', protocolVersion: 5 });
    await back.endAsync();
    expect((await api('/api/v1/blocklist', { method: 'POST', body: '{"remote":"not-an-ip"}' })).status).toBe(
      400,
    );
    expect(
      (await api('/api/v1/blocklist', { method: 'POST', body: '{"clientId":"a","username":"b"}' })).status,
    ).toBe(400);
    expect((await api('/api/v1/blocklist/999', { method: 'DELETE' })).status).toBe(404);
  });

  it('publishes messages with QoS, retain and v5 properties', async () => {
    const received = new Promise<{ topic: string; payload: string; properties: unknown }>((resolve) =>
      watcher.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: String(payload), properties: packet.properties }),
      ),
    );
    const published = await api('/api/v1/publish', {
      method: 'POST',
      body: JSON.stringify({
        topic: 'api/one',
        payload: 'aGVsbG8=',
        encoding: 'base64',
        qos: 1,
        properties: { contentType: 'text/plain', userProperties: [['k', 'v']], correlationData: 'AQI=' },
      }),
    });
    expect(published.body).toEqual({ published: true, topic: 'api/one', bytes: 5 });
    const message = await received;
    expect(message).toMatchObject({ topic: 'api/one', payload: 'hello' });
    expect(message.properties).toMatchObject({ contentType: 'text/plain', userProperties: { k: 'v' } });
  });

  it('lists and deletes retained messages', async () => {
    for (const topic of ['stats/a', 'stats/b', 'other/c']) {
      await api('/api/v1/publish', {
        method: 'POST',
        body: JSON.stringify({ topic, payload: topic, retain: true }),
      });
    }
    const list = await api('/api/v1/retained?filter=stats/%2B');
    expect(list.body.total).toBe(2);
    expect(
      (await api('/api/v1/retained?contains=/b')).body.items.map((m: { topic: string }) => m.topic),
    ).toEqual(['stats/b']);
    expect(list.body.items[0]).toMatchObject({
      topic: 'stats/a',
      payload: Buffer.from('stats/a').toString('base64'),
    });
    expect((await api('/api/v1/retained?topic=stats/a', { method: 'DELETE' })).body).toEqual({
      deleted: 'stats/a',
    });
    expect((await api('/api/v1/retained?filter=stats/%23')).body.total).toBe(1);
    expect((await api('/api/v1/retained?topic=stats/a', { method: 'DELETE' })).status).toBe(404);
    expect((await api('/api/v1/retained?filter=a/%23/b')).status).toBe(400);
  });

  it('lists subscriptions', async () => {
    const subs = await api('/api/v1/subscriptions?clientId=watcher');
    expect(subs.body.items).toEqual([
      expect.objectContaining({ clientId: 'watcher', topicFilter: 'api/#', qos: 1 }),
      expect.objectContaining({ clientId: 'watcher', topicFilter: 'stats/+', qos: 1 }),
    ]);
    expect((await api('/api/v1/subscriptions?filter=api/%23')).body.total).toBe(1);
    // contains: a substring of the topic filter or of the client id.
    expect((await api('/api/v1/subscriptions?contains=stats')).body.total).toBe(1);
    expect((await api('/api/v1/subscriptions?contains=watch')).body.total).toBe(2);
  });

  it('answers bad requests with 4xx and a JSON error, never a crash', async () => {
    const cases: Array<[string, RequestInit, number, string]> = [
      ['/api/v1/publish', { method: 'POST', body: '{not json' }, 400, 'INVALID_JSON'],
      ['/api/v1/publish', { method: 'POST', body: '[]' }, 400, 'INVALID_BODY'],
      ['/api/v1/publish', { method: 'POST', body: '{"topic":"a/#"}' }, 400, 'INVALID_TOPIC'],
      ['/api/v1/publish', { method: 'POST', body: '{"topic":"a","qos":3}' }, 400, 'INVALID_QOS'],
      ['/api/v1/publish', { method: 'POST', body: '{"topic":"a","payload":5}' }, 400, 'INVALID_PAYLOAD'],
      ['/api/v1/publish', { method: 'POST', body: '{"topic":"a","extra":1}' }, 400, 'INVALID_BODY'],
      [
        '/api/v1/publish',
        { method: 'POST', body: '{"topic":"a","properties":{"bogus":1}}' },
        400,
        'INVALID_PROPERTIES',
      ],
      [
        '/api/v1/publish',
        { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        '/api/v1/publish',
        { method: 'POST', body: JSON.stringify({ topic: 'a', payload: 'x'.repeat(2_000_000) }) },
        413,
        'BODY_TOO_LARGE',
      ],
      ['/api/v1/publish', { method: 'GET' }, 405, 'METHOD_NOT_ALLOWED'],
      ['/api/v1/nothing', {}, 404, 'NOT_FOUND'],
      ['/api/v1/clients/%E0%A4%A', {}, 400, 'INVALID_PATH'],
      ['/nothing', {}, 404, 'NOT_FOUND'],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await api(path, init);
      expect({ path, status: response.status, code: response.body?.error?.code }).toEqual({
        path,
        status,
        code,
      });
      expect(typeof response.body.error.message).toBe('string');
    }
    expect((await api('/healthz', { token: null })).status).toBe(200);
  });

  it('disables the API without a token', async () => {
    const other = new HttpListener({ broker, id: 'http2', port: 0, blockList: http.blockList });
    await broker.addListener(other);
    const response = await fetch(`http://127.0.0.1:${other.port}/api/v1/info`);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('API_DISABLED');
  });

  it('answers /readyz 503 with the broker state while it is not running', async () => {
    const idle = new Broker({ logger: silentLogger, sysInterval: 0 });
    const probe = new HttpListener({ broker: idle, port: 0 });
    await probe.listen(); // served by hand: the broker itself is never started
    try {
      const response = await fetch(`http://127.0.0.1:${probe.port}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'new' });
    } finally {
      await probe.close();
    }
  });
});

describe('refused connections in the figures', () => {
  it('counts a connection over maxConnections in /stats and /metrics', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, maxConnections: 1 });
    broker.addHook(new AllowAllHook());
    const tcp = new TcpListener({ port: 0 });
    const http = new HttpListener({ broker, port: 0 });
    await broker.addListener(tcp);
    await broker.addListener(http);
    await broker.start();
    const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${tcp.port}`, { reconnectPeriod: 0 });
    try {
      const second = mqtt.connect(`mqtt://127.0.0.1:${tcp.port}`, {
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      await new Promise<void>((resolve) => second.once('close', () => resolve()));
      second.end(true);
      const base = `http://127.0.0.1:${http.port}`;
      const stats = (await (await fetch(`${base}/stats`)).json()) as { connectionsRefused: number };
      expect(stats.connectionsRefused).toBe(1);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^mqtt_connections_refused_total 1$/m);
    } finally {
      await first.endAsync();
      await broker.close();
    }
  });
});
