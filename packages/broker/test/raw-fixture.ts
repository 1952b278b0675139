import type { Packet } from '@x/packets';
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

/**
 * One broker for a `describe` block, started before its tests and closed after them, and raw
 * clients closed after each test. Call it inside `describe`; `b` reads the started broker when used.
 */
export function rawBrokerFixture(options: BrokerOptions = {}) {
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
  /** Raw clients to close after the test (push ones opened by hand too). */
  const open: RawClient[] = [];
  beforeAll(async () => {
    started = await startTestBroker(options);
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
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
  return { b, open, raw, rawOn, subscribe: subscribeRaw, publish: publishRaw };
}
