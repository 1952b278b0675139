import { AllowAllHook, Broker, type Logger, TcpListener } from '@x/broker';
import { until } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpListener } from '../src/index.js';

const TOKEN = 'trace-token';

interface Line {
  message: string;
  fields: Record<string, unknown>;
}

/** A logger keeping its info lines, as pino would write them. */
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const ignore = () => {};
  return {
    lines,
    debug: ignore,
    warn: ignore,
    error: ignore,
    info: (fields, message) => lines.push({ message, fields: fields as Record<string, unknown> }),
  };
}

describe('packet traces through the management API (HTTP and MQTT.js over TCP)', () => {
  const log = recordingLogger();
  let broker: Broker;
  let mqttUrl: string;
  let base: string;
  const clients: mqtt.MqttClient[] = [];

  const api = async (path: string, method = 'GET', body?: unknown, token: string | null = TOKEN) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${base}/api/v1/${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the answers are checked field by field
    return { status: response.status, body: (await response.json()) as any };
  };
  /** The `packet traced` lines of one trace, as `direction type topic?`. */
  const traced = (trace: number) =>
    log.lines
      .filter((l) => l.message === 'packet traced' && l.fields.trace === trace)
      .map((l) => `${l.fields.direction} ${l.fields.type}${l.fields.topic ? ` ${l.fields.topic}` : ''}`);

  async function connect(clientId: string): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(mqttUrl, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    broker = new Broker({ logger: log, sysInterval: 0 });
    broker.addHook(new AllowAllHook());
    const tcp = new TcpListener({ port: 0 });
    const http = new HttpListener({ broker, port: 0, token: TOKEN });
    await broker.addListener(tcp);
    await broker.addListener(http);
    await broker.start();
    mqttUrl = `mqtt://127.0.0.1:${tcp.port}`;
    base = `http://127.0.0.1:${http.port}`;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    const { body } = await api('traces');
    for (const trace of body.items) if (trace.active) await api(`traces/${trace.id}`, 'DELETE');
  });
  afterAll(() => broker.close());

  it('needs the bearer token', async () => {
    expect((await api('traces', 'POST', { clientId: 'x' }, null)).status).toBe(401);
    expect((await api('traces', 'GET', undefined, 'wrong')).status).toBe(401);
  });

  it('starts a trace on a running broker; the log gets one line per packet both ways; DELETE stops it', async () => {
    const started = await api('traces', 'POST', { clientId: 'dev-1', payloadBytes: 4 });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      clientId: 'dev-1',
      active: true,
      packets: 0,
      maxBytes: 1024 * 1024,
    });
    const id = started.body.id as number;
    expect(log.lines).toContainEqual({
      message: 'trace started',
      fields: expect.objectContaining({ trace: id }),
    });

    const client = await connect('dev-1');
    await client.subscribeAsync('dev/#', { qos: 1 });
    await client.publishAsync('dev/1', 'payload', { qos: 1 });
    await until(() => traced(id).includes('in puback'), 10_000, 'the PUBACK of the delivered message');
    expect(traced(id).slice(0, 5)).toEqual([
      'in connect',
      'out connack',
      'in subscribe',
      'out suback',
      'in publish dev/1',
    ]);
    // The delivery to itself and the PUBACK of its own PUBLISH leave in the same tick, in either order.
    expect(traced(id).slice(5).sort()).toEqual(['in puback', 'out puback', 'out publish dev/1']);
    const publishLine = log.lines.find((l) => l.fields.trace === id && l.fields.type === 'publish')!;
    expect(publishLine.fields).toMatchObject({
      clientId: 'dev-1',
      qos: 1,
      payloadSize: 7,
      payloadHex: Buffer.from('payl').toString('hex'),
      size: expect.any(Number),
    });

    const listed = await api('traces');
    expect(listed.body.items).toContainEqual(expect.objectContaining({ id, active: true }));
    expect((await api(`traces/${id}`)).body.packets).toBe(traced(id).length);

    const stopped = await api(`traces/${id}`, 'DELETE');
    expect(stopped.body).toMatchObject({ id, active: false, stopReason: 'stopped' });
    const count = traced(id).length;
    await client.publishAsync('dev/1', 'after', { qos: 1 });
    expect(traced(id)).toHaveLength(count);
  });

  it('stops a trace once its byte budget is spent, and says so in the log and the API', async () => {
    const { body } = await api('traces', 'POST', { clientId: 'dev-2', maxBytes: 800 });
    const client = await connect('dev-2');
    for (let i = 0; i < 20; i++) await client.publishAsync('dev/2', `message ${i}`, { qos: 1 });
    const after = await api(`traces/${body.id}`);
    expect(after.body).toMatchObject({ active: false, stopReason: 'max-bytes' });
    expect(after.body.bytes).toBeLessThanOrEqual(800);
    expect(traced(body.id).length).toBe(after.body.packets);
    expect(traced(body.id).length).toBeLessThan(40);
    expect(log.lines).toContainEqual({
      message: 'trace stopped',
      fields: expect.objectContaining({ trace: body.id, stopReason: 'max-bytes' }),
    });
  });

  it('traces by topic filter: only the PUBLISHes on matching topics, from every client', async () => {
    const { body } = await api('traces', 'POST', { topicFilter: 'alerts/#' });
    const subscriber = await connect('watch');
    await subscriber.subscribeAsync('#');
    const publisher = await connect('sender');
    await publisher.publishAsync('alerts/fire', 'hot', { qos: 1 });
    await publisher.publishAsync('news', 'cold', { qos: 1 });
    await until(() => traced(body.id).length === 2, 10_000, 'the two alert PUBLISHes');
    const lines = log.lines.filter((l) => l.message === 'packet traced' && l.fields.trace === body.id);
    expect(lines.map((l) => `${l.fields.clientId} ${l.fields.direction} ${l.fields.topic}`).sort()).toEqual([
      'sender in alerts/fire',
      'watch out alerts/fire',
    ]);
  });

  it('answers 400 for a bad request, 409 beyond four active traces, 404 for an unknown trace', async () => {
    expect((await api('traces', 'POST', {})).body.error.code).toBe('INVALID_TRACE');
    expect((await api('traces', 'POST', { clientId: 'a', file: '/etc/passwd' })).status).toBe(400);
    expect((await api('traces', 'POST', { topicFilter: '#/a' })).status).toBe(400);
    expect((await api('traces', 'POST', { clientId: 'a', durationMs: -1 })).status).toBe(400);
    for (const clientId of ['a', 'b', 'c', 'd']) {
      expect((await api('traces', 'POST', { clientId })).status).toBe(201);
    }
    const refused = await api('traces', 'POST', { clientId: 'e' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('TRACE_LIMIT');
    expect((await api('traces/999', 'DELETE')).status).toBe(404);
    expect((await api('traces/nope')).status).toBe(404);
  });
});
