import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { AllowAllHook, type Delivery, type Hook } from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

/** A hook that records the QoS notifications it is given, in order. */
function recorder(): Hook & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    onQosPublish: (clientId, packetId, message, resend) =>
      calls.push(`publish ${clientId} ${packetId} ${message.topic}${resend ? ' resend' : ''}`),
    onQosPubrec: (clientId, packetId) => calls.push(`pubrec ${clientId} ${packetId}`),
    onQosComplete: (clientId, packetId) => calls.push(`complete ${clientId} ${packetId}`),
    onMessageQueued: (clientId: string, delivery: Delivery, requeued: boolean) =>
      calls.push(
        `queued ${clientId} ${delivery.message.topic} q${delivery.qos}${requeued ? ' requeued' : ''}`,
      ),
  };
}

describe('notification hooks onQosPubrec and onMessageQueued (MQTT.js over TCP)', () => {
  let running: TestBroker | undefined;
  const clients: mqtt.MqttClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await running?.close();
    running = undefined;
  });

  /** Connected, collecting received topics from the start (queued ones come with the CONNACK). */
  function connect(options: mqtt.IClientOptions): Promise<mqtt.MqttClient & { got: string[] }> {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(running!.url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
      const got: string[] = [];
      c.on('message', (topic) => got.push(topic));
      clients.push(c);
      c.once('connect', () => resolve(Object.assign(c, { got })));
      c.once('error', reject);
    });
  }

  it('onQosPubrec: once per outbound QoS 2 flow, between its PUBLISH and its completion; never for QoS 1', async () => {
    const hook = recorder();
    running = await startTestBroker({}, [hook, new AllowAllHook()]);
    const sub = await connect({ clientId: 'q2', protocolVersion: 5 });
    const got = sub.got;
    await sub.subscribeAsync('t/#', { qos: 2 });
    running.broker.publish('t/two', 'x', { qos: 2 });
    running.broker.publish('t/one', 'y', { qos: 1 });
    await until(() => hook.calls.filter((c) => c.startsWith('complete')).length === 2, 3000, 'completions');
    expect(got.sort()).toEqual(['t/one', 't/two']);
    const id = (topic: string) => hook.calls.find((c) => c.endsWith(topic))!.split(' ')[2];
    const two = id('t/two');
    const one = id('t/one');
    const flow2 = hook.calls.filter((c) => c.split(' ')[2] === two);
    expect(flow2).toEqual([`publish q2 ${two} t/two`, `pubrec q2 ${two}`, `complete q2 ${two}`]);
    expect(hook.calls.filter((c) => c.split(' ')[2] === one)).toEqual([
      `publish q2 ${one} t/one`,
      `complete q2 ${one}`,
    ]);
    expect(hook.calls.some((c) => c.startsWith('queued'))).toBe(false);
  });

  it('onMessageQueued: QoS 1/2 deliveries to an offline session (not QoS 0), and beyond a full in-flight window', async () => {
    const hook = recorder();
    running = await startTestBroker({}, [hook, new AllowAllHook()]);
    const first = await connect({
      clientId: 'away',
      protocolVersion: 5,
      clean: true,
      properties: { sessionExpiryInterval: 60 },
    });
    await first.subscribeAsync('a/#', { qos: 2 });
    await first.endAsync();
    await until(() => running!.broker.sessions.get('away')?.client === undefined, 3000, 'offline');
    running.broker.publish('a/0', 'zero', { qos: 0 });
    running.broker.publish('a/1', 'one', { qos: 1 });
    running.broker.publish('a/2', 'two', { qos: 2 });
    expect(hook.calls).toEqual(['queued away a/1 q1', 'queued away a/2 q2']);

    hook.calls.length = 0;
    const again = await connect({
      clientId: 'away',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    const got = again.got;
    await until(() => got.length === 2, 3000, 'queued deliveries');
    expect(got).toEqual(['a/1', 'a/2']);
    // Sent from the queue: no new queueing.
    expect(hook.calls.some((c) => c.startsWith('queued'))).toBe(false);

    // Receive Maximum 1: while the first is in flight the next ones wait in the queue.
    hook.calls.length = 0;
    const narrow = await connect({
      clientId: 'narrow',
      protocolVersion: 5,
      properties: { receiveMaximum: 1 },
    });
    await narrow.subscribeAsync('n/#', { qos: 1 });
    const narrowGot = narrow.got;
    running.broker.publish('n/1', '1', { qos: 1 });
    running.broker.publish('n/2', '2', { qos: 1 });
    running.broker.publish('n/3', '3', { qos: 1 });
    expect(hook.calls.filter((c) => c.startsWith('queued'))).toEqual([
      'queued narrow n/2 q1',
      'queued narrow n/3 q1',
    ]);
    await until(() => narrowGot.length === 3, 3000, 'window deliveries');
    expect(narrowGot).toEqual(['n/1', 'n/2', 'n/3']);
  });

  it('onMessageQueued is not called for a delivery a full queue refuses', async () => {
    const hook = recorder();
    const dropped: string[] = [];
    running = await startTestBroker({ maxQueuedMessages: 1 }, [
      hook,
      {
        onPublishDropped: (clientId, message, reason) =>
          dropped.push(`${clientId} ${message.topic} ${reason}`),
      },
      new AllowAllHook(),
    ]);
    const c = await connect({
      clientId: 'full',
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
    });
    await c.subscribeAsync('f/#', { qos: 1 });
    await c.endAsync();
    await until(() => running!.broker.sessions.get('full')?.client === undefined, 3000, 'offline');
    running.broker.publish('f/1', '1', { qos: 1 });
    running.broker.publish('f/2', '2', { qos: 1 });
    expect(hook.calls).toEqual(['queued full f/1 q1']);
    expect(dropped).toEqual(['full f/2 queue-full']);
  });
});
