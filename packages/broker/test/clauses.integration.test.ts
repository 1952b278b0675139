import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook } from '../src/index.js';
import { sleep, startTestBroker, type TestBroker, until } from './helpers.js';

/** More server-side MUSTs of sections 3 and 4, each checked byte-precisely with a raw client. */
describe('more server-side MUSTs (sections 3 and 4)', () => {
  let b: TestBroker;
  const open: RawClient[] = [];
  beforeAll(async () => {
    b = await startTestBroker();
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(() => b.close());

  async function raw(clientId: string, extra: object = {}, version: 4 | 5 = 5): Promise<RawClient> {
    const c = await RawClient.connect(b.port, { clientId, ...extra }, version);
    open.push(c);
    return c;
  }
  async function subscribe(c: RawClient, topicFilter: string, qos: 0 | 1 | 2 = 0, extra: object = {}) {
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos, ...extra }] });
    return c.expect('suback');
  }
  const publishes = async (c: RawClient, ms = 80) => (await c.idle(ms)).filter((p) => p.type === 'publish');

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

  it('MQTT-3.1.2-28: Response Information only for clients that request it', async () => {
    const withInfo = await startTestBroker({ responseInformation: 'replies/' });
    try {
      const asking = await RawClient.open(withInfo.port, 5);
      asking.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'ri-1',
        clean: true,
        keepalive: 0,
        properties: { requestResponseInformation: true },
      });
      expect((await asking.expect('connack')).properties?.responseInformation).toBe('replies/');
      const silent = await RawClient.open(withInfo.port, 5);
      silent.send({ type: 'connect', protocolVersion: 5, clientId: 'ri-2', clean: true, keepalive: 0 });
      expect((await silent.expect('connack')).properties?.responseInformation).toBeUndefined();
      asking.close();
      silent.close();
    } finally {
      await withInfo.close();
    }
  });

  it('MQTT-3.1.3-5: client ids of 1 to 23 characters [0-9a-zA-Z] are accepted (and longer ones too)', async () => {
    await raw('0123456789abcdefghijKLM');
    await raw('a');
    await raw('a-much-longer-client-identifier-with-dashes');
  });

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

  it('MQTT-3.1.4-6: after a refused CONNECT nothing else from that connection is processed', async () => {
    const refusing = await startTestBroker({}, [{ onConnectAuthenticate: () => false }]);
    const seen: string[] = [];
    refusing.broker.inline.subscribe('#', (m) => seen.push(m.topic));
    try {
      const c = await RawClient.open(refusing.port, 5);
      c.send({ type: 'connect', protocolVersion: 5, clientId: 'refused', clean: true, keepalive: 0 });
      c.send({
        type: 'publish',
        topic: 'sneaky',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
      });
      expect((await c.expect('connack')).reasonCode).toBe(0x87);
      await c.waitClosed();
      await sleep(50);
      expect(seen).toEqual([]);
    } finally {
      await refusing.close();
    }
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

  it('MQTT-3.2.2-9 MQTT-3.2.2-10 MQTT-3.2.2-11 MQTT-3.2.2-12: Maximum QoS is announced, enforced and granted down', async () => {
    const q1 = await startTestBroker({ maximumQoS: 1 });
    try {
      const c = await RawClient.connect(q1.port, { clientId: 'maxqos' });
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'mq/t', qos: 2 }] });
      expect((await c.expect('suback')).reasonCodes).toEqual([1]); // accepted, granted lower
      c.send({
        type: 'publish',
        topic: 'mq/t',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 1,
      });
      expect((await c.expect('disconnect')).reasonCode).toBe(0x9b);
      const probe = await RawClient.open(q1.port, 5);
      probe.send({ type: 'connect', protocolVersion: 5, clientId: 'probe', clean: true, keepalive: 0 });
      expect((await probe.expect('connack')).properties?.maximumQoS).toBe(1);
      probe.close();
      const will = await RawClient.open(q1.port, 5);
      will.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'will-q2',
        clean: true,
        keepalive: 0,
        will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false },
      });
      expect((await will.expect('connack')).reasonCode).toBe(0x9b);
      await will.waitClosed();
    } finally {
      await q1.close();
    }
  });

  it('MQTT-3.2.2-13 MQTT-3.2.2-14: with retain unavailable, a retained will is refused (0x9A) and a retained PUBLISH disconnects (0x9A)', async () => {
    const noRetain = await startTestBroker({ retainAvailable: false });
    try {
      const will = await RawClient.open(noRetain.port, 5);
      will.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'will-ret',
        clean: true,
        keepalive: 0,
        will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true },
      });
      expect((await will.expect('connack')).reasonCode).toBe(0x9a);
      const c = await RawClient.connect(noRetain.port, { clientId: 'pub-ret' });
      c.send({ type: 'publish', topic: 'r', payload: Buffer.from('x'), qos: 0, retain: true, dup: false });
      expect((await c.expect('disconnect')).reasonCode).toBe(0x9a);
      await c.waitClosed();
    } finally {
      await noRetain.close();
    }
  });

  it('MQTT-3.2.2-19 MQTT-3.2.2-20: a reason string that would exceed the client Maximum Packet Size is left out', async () => {
    const c = await raw('small-mps', { properties: { maximumPacketSize: 20 } });
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'small-mps', clean: true, keepalive: 0 });
    const d = await c.expect('disconnect');
    expect(d.reasonCode).toBe(0x82);
    expect(d.properties?.reasonString).toBeUndefined();
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

  it('MQTT-3.8.4-4: re-subscribing with Retain Handling 0 re-sends the retained messages', async () => {
    b.broker.publish('rs/t', 'kept', { retain: true });
    const c = await raw('resub');
    await subscribe(c, 'rs/t');
    expect((await publishes(c)).length).toBe(1);
    c.received.length = 0;
    await subscribe(c, 'rs/t');
    expect((await publishes(c)).length).toBe(1);
  });

  it('MQTT-3.10.4-1: UNSUBSCRIBE compares filters character by character (a/+ does not remove a/#)', async () => {
    const c = await raw('bytewise');
    await subscribe(c, 'bw/#');
    c.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['bw/+'] });
    expect((await c.expect('unsuback')).reasonCodes).toEqual([0x11]);
    b.broker.publish('bw/x', 'still');
    expect(Buffer.from((await c.expect('publish')).payload).toString()).toBe('still');
  });

  it('MQTT-3.10.4-3: messages in flight when unsubscribing are still completed', async () => {
    const c = await raw('unsub-inflight');
    await subscribe(c, 'ui/t', 1);
    b.broker.publish('ui/t', 'x', { qos: 1 });
    const p = await c.expect('publish');
    c.send({ type: 'unsubscribe', packetId: 3, topicFilters: ['ui/t'] });
    await c.expect('unsuback');
    expect(b.broker.sessions.get('unsub-inflight')!.inflightCount).toBe(1);
    c.send({ type: 'puback', packetId: p.packetId! });
    await until(() => b.broker.sessions.get('unsub-inflight')!.inflightCount === 0);
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

  it('MQTT-4.12.0-1: an unsupported Authentication Method gets CONNACK 0x8C and close', async () => {
    const c = await RawClient.open(b.port, 5);
    c.send({
      type: 'connect',
      protocolVersion: 5,
      clientId: 'bad-method',
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: 'KERBEROS' },
    });
    expect((await c.expect('connack')).reasonCode).toBe(0x8c);
    await c.waitClosed();
  });

  it('MQTT-4.12.0-6 MQTT-4.12.0-7: without an Authentication Method no AUTH is sent and a client AUTH is a protocol error', async () => {
    const c = await RawClient.open(b.port, 5);
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'no-method', clean: true, keepalive: 0 });
    const ack = await c.expect('connack');
    expect(ack.properties?.authenticationMethod).toBeUndefined();
    c.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'X' } });
    expect((await c.expect('disconnect')).reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('MQTT-4.12.1-2: a failed re-authentication disconnects the client', async () => {
    const auth = await startTestBroker({}, [
      {
        onConnectAuthenticate: () => true,
        onAuthPacket: (_c, p) =>
          Buffer.from(p.properties?.authenticationData ?? []).toString() === 'ok' ? { ok: true } : false,
      },
      new AllowAllHook(),
    ]);
    try {
      const c = await RawClient.connect(auth.port, {
        clientId: 'reauth',
        properties: { authenticationMethod: 'M' },
      });
      c.send({
        type: 'auth',
        reasonCode: 0x19,
        properties: { authenticationMethod: 'M', authenticationData: Buffer.from('no') },
      });
      expect((await c.expect('disconnect')).reasonCode).toBe(0x87);
      await c.waitClosed();
    } finally {
      await auth.close();
    }
  });

  it('MQTT-4.8.2-6 section 4.8.2: a shared-subscription member refusing a message with PUBACK ≥ 0x80 does not get it again, nor does anyone else', async () => {
    const m = await raw('shared-refuser');
    await subscribe(m, '$share/g1/sr/t', 1);
    b.broker.publish('sr/t', 'x', { qos: 1 });
    const p = await m.expect('publish');
    m.send({ type: 'puback', packetId: p.packetId!, reasonCode: 0x80 });
    expect((await publishes(m, 100)).length).toBe(0);
    await until(() => b.broker.sessions.get('shared-refuser')!.inflightCount === 0);
  });
});

describe('robustness', () => {
  it('a hook that throws costs the connection (v5 DISCONNECT 0x83), never the broker', async () => {
    const b = await startTestBroker({}, [
      new AllowAllHook(),
      {
        onPublish: (_c, p) => {
          if (p.topic === 'boom') throw new Error('hook failure');
          return p;
        },
      },
    ]);
    try {
      const c = await RawClient.connect(b.port, { clientId: 'boom' });
      c.send({
        type: 'publish',
        topic: 'boom',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
      });
      expect((await c.expect('disconnect')).reasonCode).toBe(0x83);
      await c.waitClosed();
      const d = await RawClient.connect(b.port, { clientId: 'fine' });
      d.send({
        type: 'publish',
        topic: 'ok',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
      });
      expect((await d.expect('puback')).packetId).toBe(1);
      d.close();
    } finally {
      await b.close();
    }
  });

  it('a rejected asynchronous authentication refuses the CONNECT (0x80) and the broker carries on', async () => {
    const b = await startTestBroker({}, [
      { onConnectAuthenticate: () => Promise.reject(new Error('auth backend down')) },
    ]);
    try {
      const c = await RawClient.open(b.port, 5);
      c.send({ type: 'connect', protocolVersion: 5, clientId: 'rej', clean: true, keepalive: 0 });
      expect((await c.expect('connack')).reasonCode).toBe(0x80);
      await c.waitClosed();
    } finally {
      await b.close();
    }
  });
});
