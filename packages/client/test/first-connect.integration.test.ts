import { freePort, type RunningBroker, startBroker } from '@x/test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnackError, connect, MqttClientError } from '../src/index.js';

const fast = { initialDelay: 30, maxDelay: 150 } as const;

/** `retryFirstConnect`: connect() waits for a broker that is not up yet, with the reconnect backoff. */
describe('retryFirstConnect against our broker', () => {
  let broker: RunningBroker | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  it('keeps retrying until the broker comes up, then resolves with a working client', async () => {
    const port = await freePort();
    let settled = false;
    const pending = connect(`mqtt://127.0.0.1:${port}`, {
      retryFirstConnect: true,
      reconnect: fast,
      connectTimeout: 2_000,
    }).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(settled).toBe(false);
    broker = await startBroker({ port });
    const client = await pending;
    expect(client.connected).toBe(true);
    await client.subscribe('first/connect', { qos: 1 });
    const received = new Promise<string>((resolve) => client.on('message', (m) => resolve(m.text())));
    await client.publish('first/connect', 'it waited', { qos: 1 });
    expect(await received).toBe('it waited');
    await client.end();
  });

  it('without it the first failure rejects at once', async () => {
    const port = await freePort();
    await expect(connect(`mqtt://127.0.0.1:${port}`, { reconnect: fast })).rejects.toMatchObject({
      code: 'TRANSPORT_ERROR',
    });
  });

  it('rejects on a refusal that cannot change (bad credentials) instead of retrying', async () => {
    broker = await startBroker({
      hooks: [
        { onConnectAuthenticate: (_client, packet) => packet.username === 'right', onAclCheck: () => true },
      ],
    });
    const started = Date.now();
    const failure = await connect(broker.url, {
      retryFirstConnect: true,
      reconnect: fast,
      username: 'wrong',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnackError);
    expect((failure as ConnackError).reasonCode).toBeGreaterThanOrEqual(0x80);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('rejects with CLIENT_CLOSED when the signal aborts while it retries', async () => {
    const port = await freePort();
    const controller = new AbortController();
    const pending = connect(`mqtt://127.0.0.1:${port}`, {
      retryFirstConnect: true,
      reconnect: fast,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 200);
    await expect(pending).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('gives up after reconnect.maxAttempts rounds with CLIENT_CLOSED carrying the last failure', async () => {
    const port = await freePort();
    const failure = await connect(`mqtt://127.0.0.1:${port}`, {
      retryFirstConnect: true,
      reconnect: { ...fast, maxAttempts: 3 },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MqttClientError);
    expect(failure).toMatchObject({
      code: 'CLIENT_CLOSED',
      message: expect.stringContaining('3 connect attempts'),
    });
    expect((failure as Error).cause).toMatchObject({ code: 'TRANSPORT_ERROR' });
  });

  it('is refused without reconnecting', async () => {
    await expect(
      connect('mqtt://127.0.0.1:1', { retryFirstConnect: true, reconnect: false }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('retryFirstConnect'),
    });
  });
});
