import type { Packet } from '@x/packets';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import type { BrokerOptions } from '../src/index.js';
import { startTestBroker, type TestBroker } from './helpers.js';

type QoS = 0 | 1 | 2;

/** Sends a SUBSCRIBE (packet id 1) for one filter and returns the SUBACK. */
export async function subscribeRaw(c: RawClient, topicFilter: string, qos: QoS = 0, extra: object = {}) {
  c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos, ...extra }] });
  return c.expect('suback');
}

/** Sends a PUBLISH whose payload is its topic. */
export const publishRaw = (c: RawClient, topic: string, qos: QoS, packetId?: number, properties?: object) =>
  c.send({
    type: 'publish',
    topic,
    payload: Buffer.from(topic),
    qos,
    retain: false,
    dup: false,
    ...(packetId === undefined ? {} : { packetId }),
    ...(properties === undefined ? {} : { properties }),
  } as Packet);

/** Keeps the PUBLISH packets an MQTT.js client receives. */
export function collect(c: MqttClient): IPublishPacket[] {
  const got: IPublishPacket[] = [];
  c.on('message', (_t, _p, packet) => got.push(packet));
  return got;
}

/**
 * One broker for a `describe` block, started before its tests and closed after them, and clients
 * (raw or MQTT.js) closed after each test. Call it inside `describe`; `b` reads the started broker
 * when used.
 */
export function brokerFixture(options: BrokerOptions = {}) {
  let started: TestBroker | undefined;
  const running = () => {
    if (started === undefined) throw new Error('the broker of this describe block is not started yet');
    return started;
  };
  const b: TestBroker = {
    get broker() {
      return running().broker;
    },
    get port() {
      return running().port;
    },
    get url() {
      return running().url;
    },
    close: () => running().close(),
  };
  /** Clients to close after the test (push ones opened by hand too). */
  const open: Array<RawClient | MqttClient> = [];
  beforeAll(async () => {
    started = await startTestBroker(options);
  });
  afterEach(async () => {
    for (const c of open.splice(0)) {
      if (c instanceof RawClient) c.close();
      else await c.endAsync(true);
    }
  });
  afterAll(() => b.close());

  /** A raw client connected (CONNACK read) to `port`, closed after the test. */
  async function rawOn(port: number, clientId: string, extra: object = {}, version: 4 | 5 = 5) {
    const c = await RawClient.connect(port, { clientId, ...extra }, version);
    open.push(c);
    return c;
  }
  /** The same, to this block's broker. */
  const raw = (clientId: string, extra: object = {}, version: 4 | 5 = 5) =>
    rawOn(b.port, clientId, extra, version);
  /** An MQTT.js client connected to this block's broker, ended after the test. */
  async function js(options: mqtt.IClientOptions): Promise<MqttClient> {
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0, ...options });
    open.push(c);
    return c;
  }
  return { b, open, raw, rawOn, js, subscribe: subscribeRaw, publish: publishRaw };
}
