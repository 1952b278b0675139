import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { sleep, startTestBroker, type TestBroker, until } from './helpers.js';

describe('PUBLISH and the QoS flows (sections 3.3 to 3.7, 4.3, 4.4)', () => {
  let b: TestBroker;
  const open: Array<MqttClient | RawClient> = [];
  beforeAll(async () => {
    b = await startTestBroker({ maxPacketSize: 4096, receiveMaximum: 5 });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) {
      if (c instanceof RawClient) c.close();
      else await c.endAsync(true);
    }
  });
  afterAll(() => b.close());

  async function js(options: mqtt.IClientOptions): Promise<MqttClient> {
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0, ...options });
    open.push(c);
    return c;
  }
  async function raw(clientId: string, version: 4 | 5 = 5, extra: object = {}): Promise<RawClient> {
    const c = await RawClient.connect(b.port, { clientId, ...extra }, version);
    open.push(c);
    return c;
  }
  function collect(c: MqttClient): IPublishPacket[] {
    const got: IPublishPacket[] = [];
    c.on('message', (_t, _p, packet) => got.push(packet));
    return got;
  }

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
