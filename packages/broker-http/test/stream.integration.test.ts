import { request as httpRequest, type IncomingMessage } from 'node:http';
import { AllowAllHook, Broker, silentLogger, TcpListener } from '@x/broker';
import { sleep, until } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsSample, StreamMessage } from '../src/index.js';
import { HttpListener } from '../src/index.js';

const TOKEN = 'stream-token';

interface ServerEvent {
  event: string;
  data: unknown;
}

/** An open event stream: the response, the events parsed so far, and a way to close it. */
interface OpenStream {
  response: IncomingMessage;
  events: ServerEvent[];
  close(): void;
}

describe('server-sent event streams', () => {
  let broker: Broker;
  let http: HttpListener;
  let mqttUrl: string;

  const open = (path: string, options: { read?: boolean; token?: string } = {}) =>
    new Promise<OpenStream>((resolve, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port: http.port,
          path,
          headers: { authorization: `Bearer ${options.token ?? TOKEN}` },
        },
        (response) => {
          const events: ServerEvent[] = [];
          let buffer = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            buffer += chunk;
            for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const name = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (name && data) events.push({ event: name, data: JSON.parse(data) });
            }
          });
          if (options.read === false) response.pause();
          resolve({ response, events, close: () => request.destroy() });
        },
      );
      request.on('error', (error) => {
        if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
      });
      request.end();
    });

  beforeAll(async () => {
    broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    broker.addHook(new AllowAllHook());
    const tcp = new TcpListener({ host: '127.0.0.1', port: 0 });
    http = new HttpListener({
      broker,
      port: 0,
      token: TOKEN,
      maxStreams: 3,
      maxStreamBuffer: 16 * 1024,
      maxStreamPayload: 64,
    });
    await broker.addListener(tcp);
    await broker.addListener(http);
    await broker.start();
    mqttUrl = `mqtt://127.0.0.1:${tcp.port}`;
  });
  afterAll(() => broker.close());

  it('needs the token', async () => {
    const stream = await open('/api/v1/stream?filter=%23', { token: 'wrong' });
    expect(stream.response.statusCode).toBe(401);
    stream.close();
  });

  it('refuses a missing or invalid filter with 400', async () => {
    for (const path of ['/api/v1/stream', '/api/v1/stream?filter=a/%23/b']) {
      const stream = await open(path);
      expect(stream.response.statusCode).toBe(400);
      stream.close();
    }
  });

  it('sends retained messages first, then what clients publish to the filter, cut to the payload limit', async () => {
    broker.publish('feed/kept', 'old news', { retain: true, qos: 1 });
    const stream = await open('/api/v1/stream?filter=feed/%2B');
    expect(stream.response.statusCode).toBe(200);
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await until(() => stream.events.length >= 2, 2000, 'ready and the retained message');
    expect(stream.events[0]).toEqual({ event: 'ready', data: { filter: 'feed/+' } });
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'stream-publisher', reconnectPeriod: 0 });
    await client.publishAsync('feed/a', 'fresh', { qos: 2 });
    await client.publishAsync('other/b', 'not for this stream', { qos: 0 });
    await client.publishAsync('feed/bin', Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 });
    // "é" is two bytes: the cut at 64 bytes falls inside one and steps back to keep valid text.
    await client.publishAsync('feed/long', `${'x'.repeat(63)}é and more`, { qos: 0 });
    await until(() => stream.events.length >= 5, 2000, 'the published messages');
    await client.endAsync();
    const messages = stream.events.filter((e) => e.event === 'message').map((e) => e.data as StreamMessage);
    expect(
      messages.map((m) => [m.topic, m.qos, m.retain, m.encoding, m.payload, m.bytes, m.truncated]),
    ).toEqual([
      ['feed/kept', 1, true, 'utf8', 'old news', 8, false],
      ['feed/a', 2, false, 'utf8', 'fresh', 5, false],
      ['feed/bin', 1, false, 'base64', Buffer.from([0xff, 0x00, 0xfe]).toString('base64'), 3, false],
      ['feed/long', 0, false, 'utf8', 'x'.repeat(63), 74, true],
    ]);
    stream.close();
    await until(() => !broker.inline.hasSubscriptions, 2000, 'the stream to unsubscribe');
  });

  it('drops what a reader that does not read cannot take, and tells it how many once it reads', async () => {
    const stream = await open('/api/v1/stream?filter=flood/%23', { read: false });
    await sleep(50);
    const payload = 'y'.repeat(60);
    // Far more than the socket buffers and the 16 KiB stream buffer hold together.
    for (let i = 0; i < 100_000; i++) broker.publish(`flood/${i}`, payload);
    stream.response.resume();
    await until(
      () => stream.events.some((e) => e.event === 'dropped'),
      5000,
      'a dropped event after the reader resumed',
    );
    const dropped = stream.events.filter((e) => e.event === 'dropped').at(-1)!.data as { dropped: number };
    const delivered = stream.events.filter((e) => e.event === 'message').length;
    expect(dropped.dropped).toBeGreaterThan(0);
    expect(delivered).toBeGreaterThan(0);
    expect(delivered + dropped.dropped).toBeLessThanOrEqual(100_000);
    stream.close();
    await until(() => !broker.inline.hasSubscriptions, 2000, 'the stream to unsubscribe');
  });

  it('streams the figures: 15 minutes of history, then a sample a second', async () => {
    const stream = await open('/api/v1/stream/stats');
    expect(stream.response.statusCode).toBe(200);
    await until(() => stream.events.some((e) => e.event === 'sample'), 2500, 'a sample');
    expect(stream.events[0]!.event).toBe('history');
    const history = stream.events[0]!.data as StatsSample[];
    expect(history.length).toBeGreaterThanOrEqual(1);
    const sample = stream.events.find((e) => e.event === 'sample')!.data as StatsSample;
    expect(sample.t).toBeGreaterThan(history.at(-1)!.t);
    expect(sample.rss).toBeGreaterThan(0);
    expect(sample.connections).toBe(0);
    stream.close();
    // A second stream finds the history the first one started.
    const again = await open('/api/v1/stream/stats');
    await until(() => again.events.length > 0, 2000, 'the history');
    expect((again.events[0]!.data as StatsSample[]).length).toBeGreaterThanOrEqual(2);
    again.close();
  });

  it('holds at most maxStreams open, answering 429 past it', async () => {
    const streams = await Promise.all([1, 2, 3].map(() => open('/api/v1/stream/stats')));
    expect(streams.map((s) => s.response.statusCode)).toEqual([200, 200, 200]);
    const refused = await open('/api/v1/stream/stats');
    expect(refused.response.statusCode).toBe(429);
    refused.close();
    for (const s of streams) s.close();
    await sleep(100);
    const after = await open('/api/v1/stream/stats');
    expect(after.response.statusCode).toBe(200);
    after.close();
  });

  it('answers 404 at / without a dashboard', async () => {
    const response = await fetch(`http://127.0.0.1:${http.port}/`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such endpoint: /' } });
  });
});
