import { requireServer, startBroker, startMosquitto, until } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, connect, type Message, openNodeTransport, type Transport } from '../src/index.js';

interface Server {
  url: string;
  stop(): Promise<void>;
}

const mosquitto = requireServer('mosquitto');

describe.skipIf(mosquitto.skip)(
  `manual acknowledgement across a reconnect, Mosquitto ${mosquitto.reason}`,
  () => {
    crossing(() => startMosquitto());
  },
);

describe('manual acknowledgement across a reconnect, our broker', () => {
  crossing(async () => {
    const running = await startBroker();
    return { url: running.url, stop: () => running.close() };
  });
});

/**
 * A consumer finishes messages while the link is down. On the resumed session the server re-sends
 * them (DUP) right after CONNACK [MQTT-4.4.0-1], before it reads the acknowledgements the client
 * sends then: the two cross on the wire. The re-sends are the same messages, not new ones.
 * (Found as QoS 1 duplicates through the bridge to Mosquitto, whose links dropped on a Receive
 * Maximum overrun.)
 */
function crossing(start: () => Promise<Server>): void {
  let server: Server;
  let publisher: Client;

  beforeAll(async () => {
    server = await start();
    publisher = await connect(server.url, { reconnect: false });
  });
  afterAll(async () => {
    await publisher?.end();
    await server?.stop();
  });

  it.each([1, 2] as const)('QoS %i: delivered once, acknowledged once the consumer is done', async (qos) => {
    let socket: Transport | undefined;
    const consumer = await connect(server.url, {
      clientId: `crossing-q${qos}`,
      protocolVersion: 5,
      clean: false,
      sessionExpiryInterval: 60,
      manualAck: true,
      reconnect: { initialDelay: 20, maxDelay: 100 },
      transport: async (endpoint, options, handlers) => {
        socket = await openNodeTransport(endpoint, options, handlers);
        return socket;
      },
    });
    const received: string[] = [];
    const holds: (() => void)[] = [];
    consumer.on('message', (message: Message) => {
      received.push(message.text());
      return new Promise<void>((resolve) => holds.push(resolve));
    });
    await consumer.subscribe(`crossing/q${qos}`, { qos });
    const sent = ['a', 'b', 'c'];
    await Promise.all(sent.map((text) => publisher.publish(`crossing/q${qos}`, text, { qos })));
    await until(() => received.length === sent.length, 10_000, 'the messages');

    // The link drops while the consumer holds them: no acknowledgement has gone out yet.
    const offline = new Promise((resolve) => consumer.once('offline', resolve));
    const back = new Promise((resolve) => consumer.once('connect', resolve));
    socket?.destroy();
    await offline;
    for (const done of holds.splice(0)) done(); // finished offline: acknowledged on the next connection
    await back;

    // Published after the reconnect, so it arrives after the server's re-sends.
    await publisher.publish(`crossing/q${qos}`, 'marker', { qos });
    await until(() => received.includes('marker'), 10_000, 'the marker');
    for (const done of holds.splice(0)) done();
    expect(received).toEqual([...sent, 'marker']);
    await consumer.end();
  });
}
