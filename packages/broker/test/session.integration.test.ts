import type { Packet } from '@x/packets';
import mqtt, { type IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { brokerFixture } from './broker-fixture.js';
import { sleep, startTestBroker, until } from './helpers.js';

describe('sessions and wills (sections 3.1.2.4 to 3.1.3.3, 3.14, 4.1)', () => {
  const { b, open } = brokerFixture({ sweepInterval: 100 });

  async function watcher(filter: string): Promise<IPublishPacket[]> {
    const c = await mqtt.connectAsync(b.url, {
      clientId: `watch-${filter}`,
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
    open.push(c);
    const got: IPublishPacket[] = [];
    c.on('message', (_t, _p, packet) => got.push(packet));
    await c.subscribeAsync(filter, { qos: 1 });
    return got;
  }
  const will = (topic: string, extra: object = {}) => ({
    topic,
    payload: Buffer.from(`will of ${topic}`),
    qos: 1 as const,
    retain: false,
    ...extra,
  });

  it('MQTT-3.1.2-7 MQTT-3.1.2-8: the will is published when the connection drops without DISCONNECT', async () => {
    const got = await watcher('will/drop');
    const c = await RawClient.connect(b.port, { clientId: 'w-drop', will: will('will/drop') }, 4);
    c.close();
    await until(() => got.length === 1);
    expect(got[0]!.payload.toString()).toBe('will of will/drop');
  });

  it('MQTT-3.1.2-10 MQTT-3.14.4-3: a normal DISCONNECT deletes the will', async () => {
    const got = await watcher('will/normal');
    const c = await RawClient.connect(b.port, { clientId: 'w-normal', will: will('will/normal') });
    c.send({ type: 'disconnect', reasonCode: 0 });
    await c.waitClosed();
    await sleep(150);
    expect(got).toEqual([]);
  });

  it('DISCONNECT 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const got = await watcher('will/with');
    const c = await RawClient.connect(b.port, { clientId: 'w-with', will: will('will/with') });
    c.send({ type: 'disconnect', reasonCode: 0x04 });
    await until(() => got.length === 1);
  });

  it('a server-initiated close (protocol error) publishes the will', async () => {
    const got = await watcher('will/violation');
    const c = await RawClient.connect(b.port, { clientId: 'w-viol', will: will('will/violation') });
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'w-viol', clean: true, keepalive: 0 });
    await c.waitClosed();
    await until(() => got.length === 1);
  });

  it('MQTT-3.1.2-15: will retain sets a retained message', async () => {
    const c = await RawClient.connect(
      b.port,
      { clientId: 'w-ret', will: will('will/retained', { retain: true }) },
      4,
    );
    c.close();
    await until(() => b.broker.retained.get('will/retained') !== undefined);
    const got = await watcher('will/retained');
    await until(() => got.length === 1);
    expect(got[0]!.retain).toBe(true);
  });

  it('MQTT-3.1.3-9: the will waits for the Will Delay Interval and is cancelled by a reconnection', async () => {
    const got = await watcher('will/delay');
    const props = { properties: { sessionExpiryInterval: 60 } };
    const c = await RawClient.connect(b.port, {
      clientId: 'w-delay',
      clean: false,
      ...props,
      will: will('will/delay', { properties: { willDelayInterval: 1 } }),
    });
    c.close();
    await sleep(300);
    expect(got).toEqual([]);
    const again = await RawClient.connect(b.port, { clientId: 'w-delay', clean: false, ...props });
    open.push(again);
    await sleep(1200);
    expect(got).toEqual([]);
  });

  it('the delayed will is published after the delay', async () => {
    const got = await watcher('will/delay2');
    const c = await RawClient.connect(b.port, {
      clientId: 'w-delay2',
      properties: { sessionExpiryInterval: 60 },
      will: will('will/delay2', { properties: { willDelayInterval: 1 } }),
    });
    const closedAt = Date.now();
    c.close();
    await until(() => got.length === 1, 3000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(900);
  });

  it('the will is published when the session ends before the will delay (session expiry 0)', async () => {
    const got = await watcher('will/expiry');
    const c = await RawClient.connect(b.port, {
      clientId: 'w-expiry',
      will: will('will/expiry', { properties: { willDelayInterval: 30 } }),
    });
    c.close();
    await until(() => got.length === 1, 1000);
  });

  it('MQTT-3.1.4-3 takeover: the old connection’s will (no delay) is published', async () => {
    const got = await watcher('will/takeover');
    await RawClient.connect(b.port, { clientId: 'w-take', will: will('will/takeover') }, 4);
    const second = await RawClient.connect(b.port, { clientId: 'w-take' }, 4);
    open.push(second);
    await until(() => got.length === 1);
  });

  it('MQTT-3.1.2-23 session expiry: a session lasts its Session Expiry Interval, then is discarded', async () => {
    const c = await RawClient.connect(b.port, {
      clientId: 's-exp',
      properties: { sessionExpiryInterval: 1 },
    });
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'sexp/t', qos: 1 }] });
    await c.expect('suback');
    c.close();
    await sleep(200);
    expect(b.broker.sessions.has('s-exp')).toBe(true);
    await until(() => !b.broker.sessions.has('s-exp'), 2500);
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 's-exp', clean: false, keepalive: 0 });
    expect((await again.expect('connack')).sessionPresent).toBe(false);
  });

  it('section 3.14.2.2.2: setting a session expiry at DISCONNECT after 0 at CONNECT is a protocol error', async () => {
    const c = await RawClient.connect(b.port, { clientId: 's-disc' });
    c.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    expect((await c.expect('disconnect')).reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('DISCONNECT can shorten the session expiry to end the session now', async () => {
    const c = await RawClient.connect(b.port, {
      clientId: 's-short',
      properties: { sessionExpiryInterval: 100 },
    });
    c.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await c.waitClosed();
    await until(() => !b.broker.sessions.has('s-short'));
  });

  it('MQTT-3.1.2-5 MQTT-4.1.0-1 (v3.1.1 clean session 0): QoS 1/2 messages are queued while offline and delivered on return', async () => {
    const sub = await mqtt.connectAsync(b.url, {
      clientId: 'offline-q',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await sub.subscribeAsync('off/+', { qos: 2 });
    await sub.endAsync();
    b.broker.publish('off/0', 'q0', { qos: 0 });
    b.broker.publish('off/1', 'q1', { qos: 1 });
    b.broker.publish('off/2', 'q2', { qos: 2 });
    const back = mqtt.connect(b.url, {
      clientId: 'offline-q',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    open.push(back);
    const got: string[] = [];
    back.on('message', (t, p) => got.push(`${t}=${p}`));
    await until(() => got.length === 2);
    await sleep(50);
    expect(got).toEqual(['off/1=q1', 'off/2=q2']);
  });

  it('queueQos0Messages: QoS 0 messages are queued for an offline session too, in order with QoS 1/2', async () => {
    const keeping = await startTestBroker({ queueQos0Messages: true });
    try {
      const opts = { clientId: 'offline-q0', clean: false, protocolVersion: 4 as const, reconnectPeriod: 0 };
      const sub = await mqtt.connectAsync(keeping.url, opts);
      await sub.subscribeAsync('off0/+', { qos: 2 });
      await sub.endAsync();
      keeping.broker.publish('off0/a', 'q0', { qos: 0 });
      keeping.broker.publish('off0/b', 'q1', { qos: 1 });
      keeping.broker.publish('off0/c', 'q0 again', { qos: 0 });
      const back = mqtt.connect(keeping.url, opts);
      open.push(back);
      const got: string[] = [];
      back.on('message', (t, p, packet) => got.push(`${t}=${p}@${packet.qos}`));
      await until(() => got.length === 3);
      expect(got).toEqual(['off0/a=q0@0', 'off0/b=q1@1', 'off0/c=q0 again@0']);
    } finally {
      await keeping.close();
    }
  });

  it('the offline queue is bounded: beyond maxQueuedMessages messages are dropped and counted', async () => {
    const small = await startTestBroker({ maxQueuedMessages: 5 });
    try {
      const dropped: string[] = [];
      small.broker.addHook({ onPublishDropped: (id, _m, reason) => dropped.push(`${id}:${reason}`) });
      const c = await RawClient.connect(small.port, { clientId: 'bounded', clean: false }, 4);
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'bq/t', qos: 1 }] });
      await c.expect('suback');
      c.close();
      await until(() => small.broker.client('bounded') === undefined);
      for (let i = 0; i < 20; i++) small.broker.publish('bq/t', String(i), { qos: 1 });
      const session = small.broker.sessions.get('bounded')!;
      expect(session.queuedCount).toBe(5);
      expect(dropped.length).toBe(15);
      expect(dropped[0]).toBe('bounded:queue-full');
      expect(small.broker.stats.publishDropped).toBe(15);
      const back = await RawClient.open(small.port, 4);
      back.send({ type: 'connect', protocolVersion: 4, clientId: 'bounded', clean: false, keepalive: 0 });
      await back.expect('connack');
      const payloads: string[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await back.expect('publish');
        payloads.push(Buffer.from(p.payload).toString());
        back.send({ type: 'puback', packetId: p.packetId! });
      }
      expect(payloads).toEqual(['0', '1', '2', '3', '4']);
      back.close();
    } finally {
      await small.close();
    }
  });

  it('graceful close: v5 clients get DISCONNECT 0x8B and wills are sent', async () => {
    const other = await startTestBroker();
    const got: string[] = [];
    other.broker.inline.subscribe('bye/#', (m) => got.push(m.topic));
    const c = await RawClient.connect(other.port, { clientId: 'g5', will: will('bye/g5', { qos: 0 }) });
    await other.close();
    expect((await c.expect('disconnect')).reasonCode).toBe(0x8b);
    await c.waitClosed();
    expect(got).toEqual(['bye/g5']);
  });
});

describe('more server-side MUSTs (sections 3 and 4)', () => {
  const { b, open } = brokerFixture();

  it('MQTT-3.1.2-6: clean start 0 without an existing session creates a new one (session present 0)', async () => {
    const c = await RawClient.open(b.port, 5);
    open.push(c);
    c.send({
      type: 'connect',
      protocolVersion: 5,
      clientId: 'fresh-session',
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 10 },
    });
    expect((await c.expect('connack')).sessionPresent).toBe(false);
    expect(b.broker.sessions.has('fresh-session')).toBe(true);
  });
});

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn, subscribe, publish } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

  it('MQTT-3.1.3-2 MQTT-3.1.4-4: the client id picks the session; Clean Start 1 replaces it', async () => {
    const a = await raw('sid-a', { clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscribe(a, 'sid/a', 1);
    a.close();
    await until(() => b.broker.sessions.get('sid-a')?.client === undefined, 2000, 'offline session');
    b.broker.publish('sid/a', 'queued', { qos: 1 });
    // Another id does not see sid-a's state.
    const other = await RawClient.open(b.port, 5);
    open.push(other);
    other.send({ type: 'connect', protocolVersion: 5, clientId: 'sid-b', clean: false, keepalive: 0 });
    expect((await other.expect('connack')).sessionPresent).toBe(false);
    expect((await other.idle(50)).filter((p) => p.type === 'publish')).toEqual([]);
    // Clean Start 1 with sid-a's id discards its session: no queued message, no subscription.
    const fresh = await RawClient.open(b.port, 5);
    open.push(fresh);
    fresh.send({ type: 'connect', protocolVersion: 5, clientId: 'sid-a', clean: true, keepalive: 0 });
    expect((await fresh.expect('connack')).sessionPresent).toBe(false);
    b.broker.publish('sid/a', 'live', { qos: 1 });
    expect((await fresh.idle(80)).filter((p) => p.type === 'publish')).toEqual([]);
  });

  it('MQTT-3.1.2-14: a will with Will Retain 0 is published non-retained', async () => {
    const sub = await raw('will0-sub');
    await subscribe(sub, 'will0/t', 0, { retainAsPublished: true });
    const dying = await raw('will0-dying', {
      will: { topic: 'will0/t', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    dying.close();
    const got = await sub.expect('publish');
    expect(Buffer.from(got.payload).toString()).toBe('gone');
    expect(got.retain).toBe(false);
    const late = await raw('will0-late');
    await subscribe(late, 'will0/t');
    expect((await late.idle(50)).filter((p) => p.type === 'publish')).toEqual([]);
  });

  it('MQTT-4.5.0-1 MQTT-4.1.0-2: a message is added to an offline matching session; the session ends after its expiry', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 1 } };
    const c = await raw('offline', conn);
    await subscribe(c, 'off/t', 1);
    c.close();
    await until(() => b.broker.sessions.get('offline')?.client === undefined, 2000, 'offline session');
    const pub = await raw('offline-pub');
    publish(pub, 'off/t', 1, 1);
    await pub.expect('puback');
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'offline', keepalive: 0, ...conn });
    expect((await again.expect('connack')).sessionPresent).toBe(true);
    const got = await again.expect('publish');
    expect(got.topic).toBe('off/t');
    again.send({ type: 'puback', packetId: got.packetId!, reasonCode: 0 } as Packet);
    again.close();
    await until(() => !b.broker.sessions.has('offline'), 3000, 'session expired');
  });
});
