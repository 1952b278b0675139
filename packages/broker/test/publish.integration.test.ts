import type { Packet } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { brokerFixture, collect } from './broker-fixture.js';
import { sleep, startTestBroker, until } from './helpers.js';

// Reason codes the spec allows per packet (tables 3-1, 3-4 … 3-11 and 2-6 of MQTT 5.0).
const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_CODES = [0x00, 0x92];

describe('PUBLISH and the QoS flows (sections 3.3 to 3.7, 4.3, 4.4)', () => {
  const { b, open, js, rawOn } = brokerFixture({ maxPacketSize: 4096, receiveMaximum: 5 });
  const raw = (clientId: string, version: 4 | 5 = 5, extra: object = {}) =>
    rawOn(b.port, clientId, extra, version);

  it('MQTT-3.3.4-1 MQTT-4.3.2-4: QoS 1 PUBLISH is acknowledged with PUBACK carrying its packet id', async () => {
    const c = await raw('q1');
    c.send({
      type: 'publish',
      topic: 'q/1',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 7,
    });
    expect(await c.expect('puback')).toMatchObject({ packetId: 7 });
  });

  it('MQTT-4.3.3-8 MQTT-4.3.3-10 MQTT-4.3.3-11: QoS 2 is PUBREC/PUBREL/PUBCOMP and a re-sent PUBLISH is not delivered twice', async () => {
    const sub = await js({ clientId: 'q2-sub', protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('q/2', { qos: 2 });
    const c = await raw('q2-pub');
    const publish = {
      type: 'publish',
      topic: 'q/2',
      payload: Buffer.from('once'),
      qos: 2,
      retain: false,
      packetId: 9,
    } as const;
    c.send({ ...publish, dup: false });
    expect(await c.expect('pubrec')).toMatchObject({ packetId: 9 });
    c.send({ ...publish, dup: true }); // a retry before PUBREL
    expect(await c.expect('pubrec')).toMatchObject({ packetId: 9 });
    c.send({ type: 'pubrel', packetId: 9 });
    expect(await c.expect('pubcomp')).toMatchObject({ packetId: 9 });
    await sleep(100);
    expect(got.map((p) => p.payload.toString())).toEqual(['once']);
  });

  it('MQTT-4.3.3-11: PUBREL for an unknown packet id still gets PUBCOMP (v5 0x92)', async () => {
    const c = await raw('pubrel-unknown');
    c.send({ type: 'pubrel', packetId: 77 });
    expect(await c.expect('pubcomp')).toMatchObject({ packetId: 77, reasonCode: 0x92 });
  });

  it('MQTT-3.8.4-8: delivered QoS is the minimum of published and granted QoS', async () => {
    const sub = await js({ clientId: 'minqos', protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('min/#', { qos: 1 });
    const pub = await js({ clientId: 'minqos-pub', protocolVersion: 4 });
    await pub.publishAsync('min/2', 'a', { qos: 2 });
    await pub.publishAsync('min/0', 'b', { qos: 0 });
    await until(() => got.length === 2);
    expect(got.map((p) => [p.topic, p.qos])).toEqual([
      ['min/2', 1],
      ['min/0', 0],
    ]);
  });

  it('MQTT-4.6.0-6: messages to a subscriber keep the order they were published in', async () => {
    const sub = await js({ clientId: 'order', protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('order/t', { qos: 1 });
    const pub = await js({ clientId: 'order-pub', protocolVersion: 5 });
    for (let i = 0; i < 50; i++) pub.publish('order/t', String(i), { qos: 1 });
    await until(() => got.length === 50);
    expect(got.map((p) => Number(p.payload.toString()))).toEqual([...Array(50).keys()]);
  });

  it('MQTT-3.3.1-1 MQTT-4.4.0-1 MQTT-4.3.2-3 MQTT-4.3.3-3: unacknowledged messages are re-sent with DUP on session resume', async () => {
    const c1 = await RawClient.connect(b.port, { clientId: 'redeliver', clean: false }, 4);
    c1.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'redo/+', qos: 2 }] });
    await c1.expect('suback');
    const pub = await js({ clientId: 'redeliver-pub', protocolVersion: 4 });
    await pub.publishAsync('redo/1', 'one', { qos: 1 });
    await pub.publishAsync('redo/2', 'two', { qos: 2 });
    const p1 = await c1.expect('publish');
    const p2 = await c1.expect('publish');
    expect([p1.dup, p2.dup]).toEqual([false, false]);
    c1.close(); // no acks
    await until(() => b.broker.client('redeliver') === undefined);
    const c2 = await RawClient.open(b.port, 4);
    open.push(c2);
    c2.send({ type: 'connect', protocolVersion: 4, clientId: 'redeliver', clean: false, keepalive: 0 });
    expect((await c2.expect('connack')).sessionPresent).toBe(true);
    const r1 = await c2.expect('publish');
    const r2 = await c2.expect('publish');
    expect([r1.dup, r1.packetId, r1.topic]).toEqual([true, p1.packetId, 'redo/1']);
    expect([r2.dup, r2.packetId, r2.topic]).toEqual([true, p2.packetId, 'redo/2']);
    // PUBREC then the resumed flow continues with PUBREL/PUBCOMP
    c2.send({ type: 'puback', packetId: r1.packetId! });
    c2.send({ type: 'pubrec', packetId: r2.packetId! });
    expect(await c2.expect('pubrel')).toMatchObject({ packetId: r2.packetId });
    c2.send({ type: 'pubcomp', packetId: r2.packetId! });
    await until(() => b.broker.sessions.get('redeliver')?.inflightCount === 0);
  });

  it('MQTT-4.4.0-1: a PUBREL in flight is re-sent as PUBREL on resume', async () => {
    const c1 = await RawClient.connect(b.port, { clientId: 'relresume', clean: false }, 4);
    c1.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'rel/t', qos: 2 }] });
    await c1.expect('suback');
    b.broker.publish('rel/t', 'x', { qos: 2 });
    const p = await c1.expect('publish');
    c1.send({ type: 'pubrec', packetId: p.packetId! });
    await c1.expect('pubrel');
    c1.close();
    await until(() => b.broker.client('relresume') === undefined);
    const c2 = await RawClient.open(b.port, 4);
    open.push(c2);
    c2.send({ type: 'connect', protocolVersion: 4, clientId: 'relresume', clean: false, keepalive: 0 });
    await c2.expect('connack');
    expect(await c2.expect('pubrel')).toMatchObject({ packetId: p.packetId });
    c2.send({ type: 'pubcomp', packetId: p.packetId! });
    await until(() => b.broker.sessions.get('relresume')?.inflightCount === 0);
  });

  it('MQTT-3.3.2-4: v3.1.1 subscribers receive v5 publishes downgraded (no properties), v5 ones keep them unaltered', async () => {
    const v4 = await js({ clientId: 'down-4', protocolVersion: 4 });
    const v5 = await js({ clientId: 'down-5', protocolVersion: 5 });
    const got4 = collect(v4);
    const got5 = collect(v5);
    await v4.subscribeAsync('down/t', { qos: 1 });
    await v5.subscribeAsync('down/t', { qos: 1 });
    const pub = await js({ clientId: 'down-pub', protocolVersion: 5 });
    await pub.publishAsync('down/t', 'hello', {
      qos: 1,
      properties: {
        contentType: 'text/plain',
        userProperties: { a: '1', b: ['2', '3'] },
        responseTopic: 'reply/here',
        correlationData: Buffer.from('corr'),
        payloadFormatIndicator: true,
      },
    });
    await until(() => got4.length === 1 && got5.length === 1);
    expect(got4[0]!.payload.toString()).toBe('hello');
    expect(got4[0]!.properties).toBeUndefined();
    // MQTT-3.3.2-15 MQTT-3.3.2-16 MQTT-3.3.2-17 MQTT-3.3.2-18 MQTT-3.3.2-20: passed on unaltered
    const props = got5[0]!.properties!;
    expect(props.contentType).toBe('text/plain');
    expect(props.userProperties).toEqual({ a: '1', b: ['2', '3'] });
    expect(props.responseTopic).toBe('reply/here');
    expect(Buffer.from(props.correlationData!).toString()).toBe('corr');
    expect(props.payloadFormatIndicator).toBe(true);
  });

  it('section 3.3.2.3.2: a payload marked UTF-8 that is not is refused with PUBACK 0x99', async () => {
    const c = await raw('pfi');
    c.send({
      type: 'publish',
      topic: 'pfi/t',
      payload: Buffer.from([0xff, 0xfe]),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 3,
      properties: { payloadFormatIndicator: true },
    });
    expect(await c.expect('puback')).toMatchObject({ packetId: 3, reasonCode: 0x99 });
  });

  it('MQTT-3.3.2-5 MQTT-3.3.2-6: expired messages are not delivered; the remaining expiry is sent', async () => {
    const sub = await RawClient.connect(b.port, {
      clientId: 'exp-sub',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'exp/+', qos: 1 }] });
    await sub.expect('suback');
    sub.close();
    await until(() => b.broker.client('exp-sub') === undefined);
    b.broker.publish('exp/short', 'gone', { qos: 1, properties: { messageExpiryInterval: 1 } });
    b.broker.publish('exp/long', 'kept', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await sleep(1100);
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({
      type: 'connect',
      protocolVersion: 5,
      clientId: 'exp-sub',
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 0 },
    });
    await again.expect('connack');
    const p = await again.expect('publish');
    expect(p.topic).toBe('exp/long');
    expect(p.properties?.messageExpiryInterval).toBeLessThanOrEqual(99);
    expect(p.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(97);
    const rest = await again.idle(100);
    expect(rest.filter((x) => x.type === 'publish')).toEqual([]);
  });

  it('MQTT-3.3.2-7: client → server topic aliases are resolved and per connection', async () => {
    const sub = await js({ clientId: 'alias-sub', protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('alias/t', { qos: 0 });
    const c = await raw('alias-pub');
    c.send({
      type: 'publish',
      topic: 'alias/t',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 3 },
    });
    c.send({
      type: 'publish',
      topic: '',
      payload: Buffer.from('2'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 3 },
    });
    await until(() => got.length === 2);
    expect(got.map((p) => [p.topic, p.payload.toString(), p.properties?.topicAlias])).toEqual([
      ['alias/t', '1', undefined],
      ['alias/t', '2', undefined],
    ]);
  });

  it('MQTT-3.3.2-9: a topic alias above our Topic Alias Maximum is DISCONNECT 0x94', async () => {
    const c = await raw('alias-bad');
    c.send({
      type: 'publish',
      topic: 'a',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 10 },
    });
    // 10 (the default maximum, as Mosquitto's) is allowed; ask a broker with a smaller maximum instead
    await sleep(50);
    expect(c.closed).toBe(false);
    const small = await startTestBroker({ topicAliasMaximum: 2 });
    try {
      const d = await RawClient.connect(small.port, { clientId: 'alias-bad' });
      d.send({
        type: 'publish',
        topic: 'a',
        payload: Buffer.from('1'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { topicAlias: 3 },
      });
      expect((await d.expect('disconnect')).reasonCode).toBe(0x94);
      await d.waitClosed();
    } finally {
      await small.close();
    }
  });

  it('an unknown topic alias with an empty topic is a protocol error (DISCONNECT 0x82)', async () => {
    const c = await raw('alias-unknown');
    c.send({
      type: 'publish',
      topic: '',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 4 },
    });
    expect((await c.expect('disconnect')).reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('MQTT-3.1.2-26 MQTT-3.3.2-11: server → client topic aliases when enabled, never above the client maximum', async () => {
    const aliasing = await startTestBroker({ topicAliasesToClients: true });
    try {
      const c = await RawClient.connect(aliasing.port, {
        clientId: 'talias',
        properties: { topicAliasMaximum: 2 },
      });
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'ta/#', qos: 0 }] });
      await c.expect('suback');
      aliasing.broker.publish('ta/x', '1');
      aliasing.broker.publish('ta/x', '2');
      const first = await c.expect('publish');
      const second = await c.expect('publish');
      expect([first.topic, first.properties?.topicAlias]).toEqual(['ta/x', 1]);
      expect([second.topic, second.properties?.topicAlias]).toEqual(['', 1]);
      c.close();
    } finally {
      await aliasing.close();
    }
  });

  it('MQTT-3.3.2-11: once the client Topic Alias Maximum is reached, the least recently used alias is reassigned', async () => {
    const aliasing = await startTestBroker({ topicAliasesToClients: true });
    try {
      const c = await RawClient.connect(aliasing.port, {
        clientId: 'talias-lru',
        properties: { topicAliasMaximum: 2 },
      });
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'lru/#', qos: 0 }] });
      await c.expect('suback');
      const sent = ['a', 'b', 'a', 'c', 'c', 'b', 'a', 'a'].map((t) => `lru/${t}`);
      for (const topic of sent) aliasing.broker.publish(topic, topic);
      // What a client sees: [topic name as sent, alias], and the topic it resolves through its own map.
      const wire: Array<[string, number | undefined]> = [];
      const mapping = new Map<number, string>();
      const resolved: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const p = await c.expect('publish');
        const alias = p.properties?.topicAlias;
        wire.push([p.topic, alias]);
        if (alias !== undefined && p.topic !== '') mapping.set(alias, p.topic);
        resolved.push(p.topic !== '' ? p.topic : mapping.get(alias!)!);
        expect(Buffer.from(p.payload).toString()).toBe(resolved[i]);
      }
      expect(resolved).toEqual(sent);
      expect(wire).toEqual([
        ['lru/a', 1],
        ['lru/b', 2],
        ['', 1],
        ['lru/c', 2], // b was the least recently used
        ['', 2],
        ['lru/b', 1], // now a is
        ['lru/a', 2],
        ['', 2],
      ]);
      c.close();
    } finally {
      await aliasing.close();
    }
  });

  it('MQTT-3.1.2-24 MQTT-3.1.2-25: a message larger than the client Maximum Packet Size is not sent to it', async () => {
    const small = await RawClient.connect(b.port, { clientId: 'mps', properties: { maximumPacketSize: 64 } });
    open.push(small);
    small.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'mps/t', qos: 1 }] });
    await small.expect('suback');
    const before = b.broker.stats.publishDropped;
    b.broker.publish('mps/t', 'x'.repeat(100), { qos: 1 });
    b.broker.publish('mps/t', 'small', { qos: 1 });
    const p = await small.expect('publish');
    expect(Buffer.from(p.payload).toString()).toBe('small');
    expect(b.broker.stats.publishDropped).toBe(before + 1);
  });

  it('section 3.2.2.3.6 Maximum Packet Size: a packet above ours is DISCONNECT 0x95', async () => {
    const c = await raw('too-big');
    c.send({ type: 'publish', topic: 'big', payload: Buffer.alloc(5000), qos: 0, retain: false, dup: false });
    expect((await c.expect('disconnect')).reasonCode).toBe(0x95);
    await c.waitClosed();
  });

  it('section 3.3.4: more unacknowledged QoS 2 PUBLISHes than our Receive Maximum is DISCONNECT 0x93', async () => {
    const c = await raw('recvmax');
    for (let i = 1; i <= 6; i++) {
      c.send({
        type: 'publish',
        topic: 'rm/t',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: i,
      });
    }
    expect((await c.expect('disconnect')).reasonCode).toBe(0x93);
    await c.waitClosed();
  });

  it('MQTT-3.3.4-9 MQTT-4.9.0-1 MQTT-4.9.0-2 MQTT-4.3.2-1: the broker sends no more QoS 1/2 than the client Receive Maximum', async () => {
    const c = await RawClient.connect(b.port, { clientId: 'window', properties: { receiveMaximum: 2 } });
    open.push(c);
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'win/t', qos: 1 }] });
    await c.expect('suback');
    for (let i = 0; i < 5; i++) b.broker.publish('win/t', String(i), { qos: 1 });
    const early = await c.idle(100);
    expect(early.filter((p) => p.type === 'publish').length).toBe(2);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await c.expect('publish');
      expect(Buffer.from(p.payload).toString()).toBe(String(i));
      ids.push(p.packetId!);
      c.send({ type: 'puback', packetId: p.packetId! });
    }
    expect(new Set(ids).size).toBeGreaterThan(1);
  });

  it('MQTT-3.3.1-2: DUP on a QoS 0 PUBLISH is malformed: connection closed', async () => {
    const c = await raw('dup0', 4);
    c.sendBytes([0x38, 5, 0, 1, 0x61, 0x62, 0x63]);
    await c.waitClosed();
  });

  it('MQTT-3.3.1-4: QoS 3 is malformed: v5 DISCONNECT 0x81 then close', async () => {
    const c = await raw('qos3');
    c.sendBytes([0x36, 6, 0, 1, 0x61, 0, 1, 0]);
    const d = await c.expect('disconnect').catch(() => undefined);
    if (d) expect(d.reasonCode).toBe(0x81);
    await c.waitClosed();
  });

  it('MQTT-3.3.2-2: a topic name with wildcards is refused (v5 DISCONNECT 0x90)', async () => {
    const c = await raw('wild');
    c.sendBytes([0x30, 6, 0, 3, 0x61, 0x2f, 0x23, 0, 0x78]);
    const d = await c.expect('disconnect').catch(() => undefined);
    if (d) expect([0x90, 0x81]).toContain(d.reasonCode);
    await c.waitClosed();
  });

  it('publishes from the host application reach MQTT.js subscribers; inline subscribers get client messages', async () => {
    const sub = await js({ clientId: 'host-sub', protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('host/#', { qos: 1 });
    const inline: string[] = [];
    b.broker.inline.subscribe('host/#', (m) =>
      inline.push(`${m.topic}=${Buffer.from(m.payload).toString()}`),
    );
    b.broker.publish('host/a', 'from-app', { qos: 1, properties: { userProperties: [['k', 'v']] } });
    await sub.publishAsync('host/b', 'from-client', { qos: 0 });
    await until(() => got.length === 2 && inline.length === 2);
    expect(got[0]!.properties?.userProperties).toEqual({ k: 'v' });
    expect(inline.sort()).toEqual(['host/a=from-app', 'host/b=from-client']);
    b.broker.inline.unsubscribe('host/#');
  });

  it('inject() handles a packet as if the client sent it, bypassing ACL', async () => {
    const denied = await startTestBroker({}, [
      { onConnectAuthenticate: () => true, onAclCheck: (_c, _t, access) => access !== 'write' },
    ]);
    try {
      const c = await RawClient.connect(denied.port, { clientId: 'inj' });
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'inj/t', qos: 0 }] });
      await c.expect('suback');
      c.send({
        type: 'publish',
        topic: 'inj/t',
        payload: Buffer.from('by-client'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
      });
      expect((await c.expect('puback')).reasonCode).toBe(0x87);
      denied.broker.inject('inj', {
        type: 'publish',
        topic: 'inj/t',
        payload: Buffer.from('injected'),
        qos: 0,
        retain: false,
        dup: false,
      });
      const p = await c.expect('publish');
      expect(Buffer.from(p.payload).toString()).toBe('injected');
      c.close();
    } finally {
      await denied.close();
    }
  });

  it('a hook that publishes during a fan-out does not disturb the shared encodings (re-entrancy)', async () => {
    const nested = await startTestBroker();
    try {
      let fired = false;
      nested.broker.addHook({
        onQosPublish: (_id, _packetId, message) => {
          if (message.topic === 're/outer' && !fired) {
            fired = true;
            nested.broker.publish('re/inner', 'inner', { qos: 1 });
          }
        },
      });
      const subs = await Promise.all(
        ['r1', 'r2', 'r3'].map((id) => RawClient.connect(nested.port, { clientId: id })),
      );
      for (const c of subs) {
        c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 're/#', qos: 1 }] });
        await c.expect('suback');
      }
      nested.broker.publish('re/outer', 'outer', { qos: 1 });
      for (const c of subs) {
        const topics: string[] = [];
        for (let i = 0; i < 2; i++) {
          const p = await c.expect('publish');
          topics.push(`${p.topic}=${Buffer.from(p.payload).toString()}`);
        }
        expect(topics.sort()).toEqual(['re/inner=inner', 're/outer=outer']);
        c.close();
      }
    } finally {
      await nested.close();
    }
  });
});

describe('more server-side MUSTs (sections 3 and 4)', () => {
  const { b, raw, subscribe } = brokerFixture();
  it('MQTT-3.1.3-10 MQTT-3.3.2-17 MQTT-3.3.2-18: user properties keep their order (publishes and wills)', async () => {
    const sub = await raw('order-sub');
    await subscribe(sub, 'uprops/#');
    const userProperties: Array<[string, string]> = [
      ['z', '1'],
      ['a', '2'],
      ['z', '3'],
    ];
    const pub = await raw('order-pub', {
      will: {
        topic: 'uprops/will',
        payload: Buffer.from('w'),
        qos: 0,
        retain: false,
        properties: { userProperties },
      },
    });
    pub.send({
      type: 'publish',
      topic: 'uprops/msg',
      payload: Buffer.from('m'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties },
    });
    expect((await sub.expect('publish')).properties?.userProperties).toEqual(userProperties);
    pub.close();
    const will = await sub.expect('publish');
    expect(will.topic).toBe('uprops/will');
    expect(will.properties?.userProperties).toEqual(userProperties);
  });

  it('MQTT-3.1.2-27 MQTT-3.3.2-11: no topic alias towards a client that allows none', async () => {
    const aliasing = await startTestBroker({ topicAliasesToClients: true });
    try {
      const c = await RawClient.connect(aliasing.port, { clientId: 'no-alias' });
      await subscribe(c, 'na/t');
      aliasing.broker.publish('na/t', '1');
      aliasing.broker.publish('na/t', '2');
      const [p1, p2] = [await c.expect('publish'), await c.expect('publish')];
      expect([p1.topic, p1.properties?.topicAlias, p2.topic, p2.properties?.topicAlias]).toEqual([
        'na/t',
        undefined,
        'na/t',
        undefined,
      ]);
      c.close();
    } finally {
      await aliasing.close();
    }
  });

  it('MQTT-3.3.1-3: the DUP flag of an incoming PUBLISH is not propagated', async () => {
    const sub = await raw('dup-sub');
    await subscribe(sub, 'dup/t', 1);
    const pub = await raw('dup-pub');
    pub.send({
      type: 'publish',
      topic: 'dup/t',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      dup: true,
      packetId: 5,
    });
    expect((await sub.expect('publish')).dup).toBe(false);
  });

  it('MQTT-3.3.1-8: a PUBLISH with RETAIN 0 neither stores nor replaces the retained message', async () => {
    b.broker.publish('r0/t', 'retained', { retain: true });
    const pub = await raw('r0-pub');
    pub.send({
      type: 'publish',
      topic: 'r0/t',
      payload: Buffer.from('live'),
      qos: 0,
      retain: false,
      dup: false,
    });
    pub.send({
      type: 'publish',
      topic: 'r0/new',
      payload: Buffer.from('live'),
      qos: 0,
      retain: false,
      dup: false,
    });
    await sleep(50);
    expect(Buffer.from(b.broker.retained.get('r0/t')!.payload).toString()).toBe('retained');
    expect(b.broker.retained.get('r0/new')).toBeUndefined();
  });

  it('MQTT-3.3.4-3 MQTT-3.3.4-4: a publish carries only its receiver’s subscription identifiers (one copy, all of them)', async () => {
    const a = await raw('sid-a');
    await subscribe(a, 'sid/hop', 0, {});
    a.send({
      type: 'subscribe',
      packetId: 2,
      subscriptions: [{ topicFilter: 'sid/+', qos: 0 }],
      properties: { subscriptionIdentifier: 7 },
    });
    await a.expect('suback');
    const bSub = await raw('sid-b');
    await subscribe(bSub, 'sid/hop');
    b.broker.publish('sid/hop', 'x');
    expect((await a.expect('publish')).properties?.subscriptionIdentifiers).toEqual([7]);
    expect((await bSub.expect('publish')).properties?.subscriptionIdentifiers).toBeUndefined();
  });

  it('MQTT-4.3.2-5 MQTT-4.3.3-12: after PUBACK / PUBCOMP the same packet id starts a new message', async () => {
    const sub = await raw('newid-sub');
    await subscribe(sub, 'newid/t', 2);
    const pub = await raw('newid-pub');
    const send = (qos: 1 | 2, text: string) =>
      pub.send({
        type: 'publish',
        topic: 'newid/t',
        payload: Buffer.from(text),
        qos,
        retain: false,
        dup: false,
        packetId: 9,
      });
    send(1, 'a');
    await pub.expect('puback');
    send(1, 'b');
    await pub.expect('puback');
    send(2, 'c');
    await pub.expect('pubrec');
    pub.send({ type: 'pubrel', packetId: 9 });
    await pub.expect('pubcomp');
    send(2, 'd');
    await pub.expect('pubrec');
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await sub.expect('publish');
      got.push(Buffer.from(p.payload).toString());
      if (p.qos === 1) sub.send({ type: 'puback', packetId: p.packetId! });
      else sub.send({ type: 'pubrec', packetId: p.packetId! });
    }
    expect(got).toEqual(['a', 'b', 'c', 'd']);
  });

  it('section 4.3.3: a QoS 2 PUBREC with a failure code ends the flow (no PUBREL), freeing the window', async () => {
    const c = await raw('pubrec-fail', { properties: { receiveMaximum: 1 } });
    await subscribe(c, 'prf/t', 2);
    b.broker.publish('prf/t', '1', { qos: 2 });
    b.broker.publish('prf/t', '2', { qos: 2 });
    const p1 = await c.expect('publish');
    c.send({ type: 'pubrec', packetId: p1.packetId!, reasonCode: 0x80 });
    const p2 = await c.expect('publish');
    expect(Buffer.from(p2.payload).toString()).toBe('2');
    expect(c.received.some((p) => p.type === 'pubrel')).toBe(false);
  });
});

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn, subscribe, publish } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

  it('MQTT-3.3.2-15 MQTT-3.3.2-16 MQTT-3.3.2-20: Response Topic, Correlation Data and Content Type are forwarded unaltered', async () => {
    const sub = await raw('rr-sub');
    await subscribe(sub, 'rr/t');
    const pub = await raw('rr-pub');
    const properties = {
      responseTopic: 'rr/reply/é',
      correlationData: Buffer.from([0, 1, 2, 255]),
      contentType: 'application/x-test; charset=utf-8',
    };
    publish(pub, 'rr/t', 0, undefined, properties);
    const got = await sub.expect('publish');
    expect(got.properties?.responseTopic).toBe(properties.responseTopic);
    expect(Buffer.from(got.properties?.correlationData ?? [])).toEqual(properties.correlationData);
    expect(got.properties?.contentType).toBe(properties.contentType);
  });

  it('MQTT-3.3.2-12: Topic Aliases from 1 up to the announced maximum are accepted', async () => {
    const c = await RawClient.open(b.port, 5);
    open.push(c);
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'alias-all', clean: true, keepalive: 0 });
    const max = (await c.expect('connack')).properties?.topicAliasMaximum ?? 0;
    expect(max).toBeGreaterThan(0);
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'alias/#', qos: 1 }] });
    await c.expect('suback');
    // the edges and a few in between (the maximum can be 65535: not all of them)
    const aliases = [...new Set([1, 2, 3, Math.ceil(max / 2), max - 1, max])].filter((a) => a >= 1);
    for (const alias of aliases) publish(c, `alias/${alias}`, 0, undefined, { topicAlias: alias });
    for (const [i, alias] of aliases.entries()) publish(c, '', 1, i + 1, { topicAlias: alias });
    for (let i = 1; i <= aliases.length; i++) expect((await c.expect('puback')).packetId).toBe(i);
    await until(
      () => c.received.filter((p) => p.type === 'publish').length >= 2 * aliases.length,
      2000,
      'publishes',
    );
    const topics = c.received.filter((p) => p.type === 'publish').map((p) => (p as { topic: string }).topic);
    const expected = aliases.map((a) => `alias/${a}`);
    expect(topics).toEqual([...expected, ...expected]);
    expect(c.closed).toBe(false);
  });

  it('MQTT-3.3.4-5: a shared and a non-shared match give two copies, each with its own Subscription Identifier', async () => {
    const c = await raw('two-copies');
    c.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: 'copies/t', qos: 0 }],
      properties: { subscriptionIdentifier: 1 },
    } as Packet);
    await c.expect('suback');
    c.send({
      type: 'subscribe',
      packetId: 2,
      subscriptions: [{ topicFilter: '$share/g/copies/t', qos: 0 }],
      properties: { subscriptionIdentifier: 2 },
    } as Packet);
    await c.expect('suback');
    b.broker.publish('copies/t', 'x');
    await until(() => c.received.filter((p) => p.type === 'publish').length >= 2, 2000, 'two copies');
    const ids = c.received
      .filter((p) => p.type === 'publish')
      .map(
        (p) =>
          (p as { properties?: { subscriptionIdentifiers?: number[] } }).properties?.subscriptionIdentifiers,
      );
    expect(ids.sort()).toEqual([[1], [2]]);
  });

  it('MQTT-3.3.4-10 MQTT-4.9.0-3: with the send quota at 0, other packets are still answered', async () => {
    const c = await raw('quota0', { properties: { receiveMaximum: 1 } });
    await subscribe(c, 'quota/t', 1);
    b.broker.publish('quota/t', 'one', { qos: 1 });
    b.broker.publish('quota/t', 'two', { qos: 1 });
    const first = await c.expect('publish');
    c.send({ type: 'pingreq' });
    await c.expect('pingresp');
    c.send({ type: 'subscribe', packetId: 7, subscriptions: [{ topicFilter: 'quota/other', qos: 1 }] });
    expect((await c.expect('suback')).packetId).toBe(7);
    c.send({ type: 'unsubscribe', packetId: 8, topicFilters: ['quota/other'] });
    expect((await c.expect('unsuback')).packetId).toBe(8);
    publish(c, 'quota/own', 1, 9);
    expect((await c.expect('puback')).packetId).toBe(9);
    expect(c.received.filter((p) => p.type === 'publish')).toEqual([]); // still at quota 0
    c.send({ type: 'puback', packetId: first.packetId!, reasonCode: 0 } as Packet);
    expect(Buffer.from((await c.expect('publish')).payload).toString()).toBe('two');
  });

  it('MQTT-3.4.2-1 MQTT-3.5.2-1 MQTT-3.6.2-1 MQTT-3.7.2-1: PUBACK, PUBREC, PUBREL and PUBCOMP use codes from their tables', async () => {
    const sub = await raw('codes-sub');
    await subscribe(sub, 'codes/sub', 2);
    const pub = await raw('codes-pub');
    publish(pub, 'codes/nobody', 1, 1);
    publish(pub, 'codes/sub', 1, 2);
    publish(pub, 'codes/nobody', 2, 3);
    publish(pub, 'codes/sub', 2, 4);
    for (let i = 0; i < 2; i++) expect(PUBACK_CODES).toContain((await pub.expect('puback')).reasonCode ?? 0);
    for (let i = 0; i < 2; i++) {
      const rec = await pub.expect('pubrec');
      expect(PUBACK_CODES).toContain(rec.reasonCode ?? 0);
      pub.send({ type: 'pubrel', packetId: rec.packetId, reasonCode: 0 } as Packet);
      expect(PUBREL_CODES).toContain((await pub.expect('pubcomp')).reasonCode ?? 0);
    }
    pub.send({ type: 'pubrel', packetId: 99, reasonCode: 0 } as Packet);
    expect(PUBREL_CODES).toContain((await pub.expect('pubcomp')).reasonCode ?? 0);
    // Outbound QoS 2: the PUBREL the broker sends.
    await sub.expect('publish');
    const out = await sub.expect('publish');
    sub.send({ type: 'pubrec', packetId: out.packetId!, reasonCode: 0 } as Packet);
    const rel = await sub.expect('pubrel');
    expect(rel.packetId).toBe(out.packetId);
    expect(PUBREL_CODES).toContain(rel.reasonCode ?? 0);
  });

  it('MQTT-3.4.2-2 MQTT-3.4.2-3 MQTT-3.5.2-2 MQTT-3.5.2-3 MQTT-3.6.2-2 MQTT-3.6.2-3 MQTT-3.7.2-2 MQTT-3.7.2-3 MQTT-3.9.2-1 MQTT-3.9.2-2 MQTT-3.11.2-1 MQTT-3.11.2-2: Reason String and User Properties that would exceed the client Maximum Packet Size are left out', async () => {
    const note = 'n'.repeat(200);
    const hook: Hook = {
      onPacketEncode: (_client, packet) =>
        ['puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback'].includes(packet.type)
          ? ({ ...packet, properties: { reasonString: note, userProperties: [['k', note]] } } as Packet)
          : packet,
    };
    const annotated = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const c = await raw('mps-acks', { properties: { maximumPacketSize: 128 } }, annotated.port);
      await subscribe(c, 'mps/t', 2);
      publish(c, 'mps/x', 1, 2);
      publish(c, 'mps/y', 2, 3);
      const acks: Packet[] = [await c.expect('puback'), await c.expect('pubrec')];
      c.send({ type: 'pubrel', packetId: 3, reasonCode: 0 } as Packet);
      acks.push(await c.expect('pubcomp'));
      annotated.broker.publish('mps/t', 'x', { qos: 2 });
      const out = await c.expect('publish');
      c.send({ type: 'pubrec', packetId: out.packetId!, reasonCode: 0 } as Packet);
      acks.push(await c.expect('pubrel'));
      c.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['mps/t'] });
      acks.push(await c.expect('unsuback'));
      for (const a of acks) {
        const p = (a as { properties?: { reasonString?: string; userProperties?: unknown } }).properties;
        expect(p?.reasonString, a.type).toBeUndefined();
        expect(p?.userProperties, a.type).toBeUndefined();
      }
      // a client with room gets them (the hook works)
      const roomy = await raw('mps-roomy', {}, annotated.port);
      expect((await subscribe(roomy, 'mps/t')).properties?.reasonString).toBe(note);
    } finally {
      await annotated.close();
    }
  });

  it('MQTT-4.3.1-1 MQTT-4.3.2-2 MQTT-4.3.3-1 MQTT-4.3.3-2: outgoing QoS 0/1/2 have DUP 0, the right QoS and fresh non-zero packet ids', async () => {
    const c = await raw('out-qos');
    await subscribe(c, 'oq/t', 2);
    b.broker.publish('oq/t', 'q0', { qos: 0 });
    b.broker.publish('oq/t', 'q1', { qos: 1 });
    b.broker.publish('oq/t', 'q2a', { qos: 2 });
    b.broker.publish('oq/t', 'q2b', { qos: 2 });
    await until(() => c.received.filter((p) => p.type === 'publish').length >= 4, 2000, 'four publishes');
    const got = c.received.filter((p) => p.type === 'publish') as Array<Extract<Packet, { type: 'publish' }>>;
    expect(got.map((p) => [Buffer.from(p.payload).toString(), p.qos, p.dup])).toEqual([
      ['q0', 0, false],
      ['q1', 1, false],
      ['q2a', 2, false],
      ['q2b', 2, false],
    ]);
    expect(got[0]!.packetId).toBeUndefined();
    const ids = got.slice(1).map((p) => p.packetId);
    for (const id of ids) expect(id).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(3);
  });

  it('MQTT-4.3.3-4 MQTT-4.3.3-5 MQTT-4.3.3-6: after PUBREC the broker sends PUBREL, re-sends only the PUBREL until PUBCOMP', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const c = await raw('rel-only', conn);
    await subscribe(c, 'ro/t', 2);
    b.broker.publish('ro/t', 'x', { qos: 2 });
    const p = await c.expect('publish');
    c.send({ type: 'pubrec', packetId: p.packetId!, reasonCode: 0 } as Packet);
    expect((await c.expect('pubrel')).packetId).toBe(p.packetId);
    c.close();
    await until(() => b.broker.sessions.get('rel-only')?.client === undefined, 2000, 'offline session');
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'rel-only', keepalive: 0, ...conn });
    await again.expect('connack');
    expect((await again.expect('pubrel')).packetId).toBe(p.packetId);
    again.send({ type: 'pubcomp', packetId: p.packetId!, reasonCode: 0 } as Packet);
    expect((await again.idle(60)).filter((x) => x.type === 'publish' || x.type === 'pubrel')).toEqual([]);
    b.broker.endSession('rel-only');
  });

  it('MQTT-4.4.0-2: a PUBACK ≥ 0x80 from the client acknowledges the message: it is not re-sent on resume', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const c = await raw('nack', conn);
    await subscribe(c, 'nack/t', 1);
    b.broker.publish('nack/t', 'x', { qos: 1 });
    const p = await c.expect('publish');
    c.send({ type: 'puback', packetId: p.packetId!, reasonCode: 0x80 } as Packet);
    await until(() => b.broker.sessions.get('nack')?.inflightCount === 0, 2000, 'acknowledged');
    c.close();
    await until(() => b.broker.sessions.get('nack')?.client === undefined, 2000, 'offline session');
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'nack', keepalive: 0, ...conn });
    expect((await again.expect('connack')).sessionPresent).toBe(true);
    expect((await again.idle(60)).filter((x) => x.type === 'publish')).toEqual([]);
    b.broker.endSession('nack');
  });

  it('MQTT-4.6.0-5: messages from one publisher reach a subscriber in publish order', async () => {
    const sub = await raw('ord-sub');
    await subscribe(sub, 'ord/t', 1);
    const pub = await raw('ord-pub');
    for (let i = 1; i <= 30; i++) {
      const qos = i % 2 === 0 ? 1 : 0; // same topic, mixed QoS: one ordered stream
      pub.send({
        type: 'publish',
        topic: 'ord/t',
        payload: Buffer.from(String(i)),
        qos,
        retain: false,
        dup: false,
        ...(qos === 1 ? { packetId: i } : {}),
      } as Packet);
    }
    await until(() => sub.received.filter((p) => p.type === 'publish').length >= 30, 3000, '30 publishes');
    const order = sub.received
      .filter((p) => p.type === 'publish')
      .map((p) => Number(Buffer.from((p as { payload: Uint8Array }).payload).toString()));
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('MQTT-4.3.3-9: after a PUBREC ≥ 0x80 the same packet id is a new publication', async () => {
    let denials = 1;
    const hook: Hook = {
      onAclCheck: (_client, topic, access) => {
        if (access === 'write' && topic === 'deny/t' && denials > 0) {
          denials--;
          return false;
        }
        return true;
      },
    };
    const acl = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const sub = await raw('deny-sub', {}, acl.port);
      await subscribe(sub, 'deny/t', 2);
      const pub = await raw('deny-pub', {}, acl.port);
      publish(pub, 'deny/t', 2, 5);
      expect((await pub.expect('pubrec')).reasonCode).toBeGreaterThanOrEqual(0x80);
      publish(pub, 'deny/t', 2, 5);
      const rec = await pub.expect('pubrec');
      expect(rec.packetId).toBe(5);
      expect(rec.reasonCode ?? 0).toBeLessThan(0x80);
      expect((await sub.expect('publish')).topic).toBe('deny/t');
    } finally {
      await acl.close();
    }
  });

  it('MQTT-4.3.3-7: a QoS 2 message already sent is not expired: it is re-sent on resume after its expiry', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const c = await raw('q2-expiry', conn);
    await subscribe(c, 'q2e/t', 2);
    b.broker.publish('q2e/t', 'x', { qos: 2, properties: { messageExpiryInterval: 1 } });
    const first = await c.expect('publish');
    c.close();
    await until(() => b.broker.sessions.get('q2-expiry')?.client === undefined, 2000, 'offline session');
    await new Promise((r) => setTimeout(r, 1100)); // the expiry itself is what is under test
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'q2-expiry', keepalive: 0, ...conn });
    await again.expect('connack');
    const resent = await again.expect('publish');
    expect(resent.packetId).toBe(first.packetId);
    expect(resent.dup).toBe(true);
    b.broker.endSession('q2-expiry');
  });

  it('MQTT-4.3.3-13: the inbound QoS 2 exchange completes after the message expiry passed', async () => {
    const pub = await raw('q2-in-expiry');
    publish(pub, 'q2in/t', 2, 11, { messageExpiryInterval: 1 });
    expect((await pub.expect('pubrec')).reasonCode ?? 0).toBeLessThan(0x80);
    await new Promise((r) => setTimeout(r, 1100)); // the expiry itself is what is under test
    pub.send({ type: 'pubrel', packetId: 11, reasonCode: 0 } as Packet);
    const comp = await pub.expect('pubcomp');
    expect(comp.packetId).toBe(11);
    expect(comp.reasonCode ?? 0).toBe(0);
  });
});
