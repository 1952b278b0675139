import type { Packet } from '@x/packets';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { brokerFixture } from './broker-fixture.js';
import { sleep, startTestBroker, type TestBroker, until } from './helpers.js';

// Reason codes the spec allows per packet (tables 3-1, 3-4 … 3-11 and 2-6 of MQTT 5.0).
const CONNACK_CODES = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9f,
];

const CONNECT_V4 = [0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 1, 0x61];

describe('CONNECT and CONNACK (sections 3.1, 3.2)', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ maxKeepAlive: 60, connectTimeout: 300, sweepInterval: 100 });
  });
  afterAll(() => b.close());

  it('MQTT-3.1.0-1: a first packet other than CONNECT closes the connection', async () => {
    const c = await RawClient.open(b.port, 4);
    c.sendBytes([0xc0, 0]); // PINGREQ
    await c.waitClosed();
    expect(c.received).toEqual([]);
  });

  it('MQTT-3.1.0-2 MQTT-4.13.2-1: a second CONNECT is a protocol error (v5: DISCONNECT 0x82, then close)', async () => {
    const c = await RawClient.connect(b.port, { clientId: 'twice' });
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'twice', clean: true, keepalive: 0 });
    const d = await c.expect('disconnect');
    expect(d.reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('MQTT-3.1.2-1: a wrong protocol name closes the connection', async () => {
    const c = await RawClient.open(b.port, 4);
    c.sendBytes([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x58, 4, 2, 0, 10, 0, 1, 0x61]); // "MQTX"
    await c.waitClosed();
  });

  it('MQTT-3.1.2-2: an unsupported protocol level gets CONNACK 0x01 (v3.1.1 form) and close', async () => {
    const c = await RawClient.open(b.port, 4);
    c.sendBytes([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 2, 0, 10, 0, 1, 0x61]);
    const ack = await c.expect('connack');
    expect(ack.reasonCode).toBe(1);
    await c.waitClosed();
  });

  it('MQTT-3.1.2-3: the reserved CONNECT flag set is malformed: connection closed', async () => {
    const c = await RawClient.open(b.port, 4);
    c.sendBytes([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 3, 0, 10, 0, 1, 0x61]);
    await c.waitClosed();
  });

  it('MQTT-3.2.0-1 MQTT-3.2.0-2 MQTT-3.1.4-5: the first packet from the server is one CONNACK (0x00)', async () => {
    const c = await RawClient.open(b.port, 4);
    c.sendBytes(CONNECT_V4);
    const ack = await c.expect('connack');
    expect(ack).toEqual({ type: 'connack', sessionPresent: false, reasonCode: 0 });
    c.close();
  });

  it('MQTT-3.1.3-8: a refused client id (v3.1.1: empty without clean session) gets CONNACK 0x02, then close', async () => {
    const c = await RawClient.open(b.port, 4);
    c.send({ type: 'connect', protocolVersion: 4, clientId: '', clean: false, keepalive: 0 });
    expect((await c.expect('connack')).reasonCode).toBe(2);
    await c.waitClosed();
  });

  it('MQTT-3.1.3-6 MQTT-3.1.3-7 MQTT-3.2.2-16: v5 empty client id gets an Assigned Client Identifier', async () => {
    const c = await RawClient.open(b.port, 5);
    c.send({ type: 'connect', protocolVersion: 5, clientId: '', clean: true, keepalive: 0 });
    const ack = await c.expect('connack');
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.assignedClientIdentifier).toMatch(/^auto-/);
    c.close();
  });

  it('MQTT-3.1.3-6: an empty client id with clean session is accepted and given a unique id (v3.1.1)', async () => {
    const c = await RawClient.open(b.port, 4);
    c.send({ type: 'connect', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 });
    expect((await c.expect('connack')).reasonCode).toBe(0);
    c.close();
  });

  it('MQTT-3.1.2-4 MQTT-3.2.2-2: clean start discards the session (session present 0)', async () => {
    const a = await mqtt.connectAsync(b.url, { clientId: 'clean-1', clean: false, protocolVersion: 4 });
    await a.subscribeAsync('x/clean', { qos: 1 });
    await a.endAsync();
    const c = await RawClient.open(b.port, 4);
    c.send({ type: 'connect', protocolVersion: 4, clientId: 'clean-1', clean: true, keepalive: 0 });
    expect((await c.expect('connack')).sessionPresent).toBe(false);
    expect(b.broker.sessions.get('clean-1')?.subscriptions.size).toBe(0);
    c.close();
  });

  it('MQTT-3.1.2-5 MQTT-3.2.2-3: a persistent session resumes with session present 1', async () => {
    const a = await mqtt.connectAsync(b.url, { clientId: 'persist-1', clean: false, protocolVersion: 4 });
    await a.subscribeAsync('x/persist', { qos: 1 });
    await a.endAsync();
    const c = await RawClient.open(b.port, 4);
    c.send({ type: 'connect', protocolVersion: 4, clientId: 'persist-1', clean: false, keepalive: 0 });
    expect((await c.expect('connack')).sessionPresent).toBe(true);
    expect(b.broker.sessions.get('persist-1')?.subscriptions.has('x/persist')).toBe(true);
    c.close();
  });

  it('MQTT-3.1.4-3: a second connection with the same id takes over (v5 old one gets DISCONNECT 0x8E)', async () => {
    const first = await RawClient.connect(b.port, { clientId: 'takeover' });
    const second = await RawClient.connect(b.port, { clientId: 'takeover' });
    expect((await first.expect('disconnect')).reasonCode).toBe(0x8e);
    await first.waitClosed();
    expect(second.closed).toBe(false);
    expect(b.broker.client('takeover')).toBeDefined();
    second.close();
  });

  it('MQTT-3.1.2-22 MQTT-3.2.2-22: no packet within 1.5 × the client Keep Alive closes the connection (v5: 0x8D)', async () => {
    const c = await RawClient.connect(b.port, { clientId: 'ka', keepalive: 1 });
    const started = Date.now();
    expect((await c.expect('disconnect', 8000)).reasonCode).toBe(0x8d);
    await c.waitClosed();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('MQTT-3.12.4-1: PINGREQ is answered with PINGRESP and keeps the connection alive', async () => {
    const c = await RawClient.connect(b.port, { clientId: 'ping', keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      c.send({ type: 'pingreq' });
      await c.expect('pingresp');
    }
    expect(c.closed).toBe(false);
    c.close();
  });

  it('MQTT-3.2.2-21: Server Keep Alive tells the client the keep-alive in force', async () => {
    const c = await RawClient.open(b.port, 5);
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'ska', clean: true, keepalive: 120 });
    const ack = await c.expect('connack');
    expect(ack.properties?.serverKeepAlive).toBe(60);
    c.close();
  });

  it('closes sockets that never send CONNECT (connect timeout)', async () => {
    const c = await RawClient.open(b.port, 4);
    await c.waitClosed(2000);
  });

  it('announces its limits in CONNACK (maximum packet size, topic alias maximum)', async () => {
    const c = await RawClient.open(b.port, 5);
    c.send({ type: 'connect', protocolVersion: 5, clientId: 'limits', clean: true, keepalive: 0 });
    const ack = await c.expect('connack');
    expect(ack.properties?.maximumPacketSize).toBe(1024 * 1024);
    expect(ack.properties?.topicAliasMaximum).toBe(10);
    c.close();
  });

  it('MQTT.js v3.1.1 and v5 connect to the same listener', async () => {
    const v4 = await mqtt.connectAsync(b.url, { protocolVersion: 4, clientId: 'js-4' });
    const v5 = await mqtt.connectAsync(b.url, { protocolVersion: 5, clientId: 'js-5' });
    const v3 = await mqtt.connectAsync(b.url, { protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'js-3' });
    expect(b.broker.connectedCount).toBeGreaterThanOrEqual(3);
    await Promise.all([v3.endAsync(), v4.endAsync(), v5.endAsync()]);
  });
});

describe('authentication', () => {
  it('MQTT-3.2.2-6 MQTT-3.2.2-7: with no authentication hook every CONNECT is refused (v5 0x87, v3 5) and logged', async () => {
    const lines: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_f: object, m: string) => lines.push(m),
      error() {},
    };
    const b = await startTestBroker({ logger }, []);
    try {
      const v5 = await RawClient.open(b.port, 5);
      v5.send({ type: 'connect', protocolVersion: 5, clientId: 'n5', clean: true, keepalive: 0 });
      expect(await v5.expect('connack')).toMatchObject({ reasonCode: 0x87, sessionPresent: false });
      await v5.waitClosed();
      const v4 = await RawClient.open(b.port, 4);
      v4.send({ type: 'connect', protocolVersion: 4, clientId: 'n4', clean: true, keepalive: 0 });
      expect((await v4.expect('connack')).reasonCode).toBe(5);
      await v4.waitClosed();
      expect(lines.some((l) => l.includes('no authentication hook'))).toBe(true);
    } finally {
      await b.close();
    }
  });

  it('an asynchronous auth hook decides; packets sent right after CONNECT wait for it', async () => {
    const hook: Hook = {
      onConnectAuthenticate: async (_client, packet) => {
        await new Promise((r) => setTimeout(r, 50));
        if (packet.username === 'good') return true;
        return { ok: false, reasonCode: 0x86, reasonString: 'bad credentials' };
      },
    };
    const b = await startTestBroker({}, [hook]);
    try {
      const bad = await RawClient.open(b.port, 5);
      bad.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'a1',
        clean: true,
        keepalive: 0,
        username: 'x',
      });
      const refused = await bad.expect('connack');
      expect(refused.reasonCode).toBe(0x86);
      expect(refused.properties?.reasonString).toBe('bad credentials');
      const bad4 = await RawClient.open(b.port, 4);
      bad4.send({
        type: 'connect',
        protocolVersion: 4,
        clientId: 'a2',
        clean: true,
        keepalive: 0,
        username: 'x',
      });
      expect((await bad4.expect('connack')).reasonCode).toBe(4);

      const good = await RawClient.open(b.port, 5);
      good.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'a3',
        clean: true,
        keepalive: 0,
        username: 'good',
      });
      good.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'auth/t', qos: 0 }] });
      expect((await good.expect('connack')).reasonCode).toBe(0);
      expect((await good.expect('suback')).reasonCodes).toEqual([0]);
      good.close();
    } finally {
      await b.close();
    }
  });

  it('MQTT-4.12.0-2 MQTT-4.12.0-5 MQTT-4.12.1-1: enhanced authentication and re-authentication with AUTH through a hook', async () => {
    const hook: Hook = {
      onConnectAuthenticate: (client) =>
        client.authenticationMethod === 'demo'
          ? { continue: true, authenticationData: Buffer.from('challenge') }
          : true,
      onAuthPacket: (_client, packet) =>
        Buffer.from(packet.properties?.authenticationData ?? []).toString() === 'response'
          ? { ok: true }
          : { ok: false, reasonCode: 0x87 },
    };
    const b = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const c = await RawClient.open(b.port, 5);
      c.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'enh',
        clean: true,
        keepalive: 0,
        properties: { authenticationMethod: 'demo' },
      });
      const challenge = await c.expect('auth');
      expect(challenge.reasonCode).toBe(0x18);
      expect(Buffer.from(challenge.properties?.authenticationData ?? []).toString()).toBe('challenge');
      c.send({
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'demo', authenticationData: Buffer.from('response') },
      });
      const ack = await c.expect('connack');
      expect(ack.reasonCode).toBe(0);
      expect(ack.properties?.authenticationMethod).toBe('demo');
      // Re-authentication while connected.
      c.send({
        type: 'auth',
        reasonCode: 0x19,
        properties: { authenticationMethod: 'demo', authenticationData: Buffer.from('response') },
      });
      expect((await c.expect('auth')).reasonCode).toBe(0);
      c.close();
    } finally {
      await b.close();
    }
  });

  it('an onAccept hook can refuse connections before any packet', async () => {
    const b = await startTestBroker({}, [{ onAccept: () => false }, new AllowAllHook()]);
    try {
      const c = await RawClient.open(b.port, 4);
      await c.waitClosed();
    } finally {
      await b.close();
    }
  });
});

describe('more server-side MUSTs (sections 3 and 4)', () => {
  const { raw } = brokerFixture();
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
});

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn, publish } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

  it('MQTT-3.2.2-1 MQTT-3.2.2-8: CONNACK flag bits 7-1 are 0 and the reason code is from table 3-1', async () => {
    const first = await RawClient.open(b.port, 5);
    open.push(first);
    const bytes: number[] = [];
    first.socket.on('data', (chunk: Buffer) => bytes.push(...chunk));
    first.send({
      type: 'connect',
      protocolVersion: 5,
      clientId: 'flags-1',
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 60 },
    });
    await first.expect('connack');
    first.close();
    await until(() => b.broker.sessions.get('flags-1')?.client === undefined, 2000, 'offline session');
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    const bytes2: number[] = [];
    again.socket.on('data', (chunk: Buffer) => bytes2.push(...chunk));
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'flags-1', clean: false, keepalive: 0 });
    const connack = await again.expect('connack');
    expect(connack.sessionPresent).toBe(true);
    expect(bytes[2]).toBe(0x00);
    expect(bytes2[2]).toBe(0x01); // session present only, bits 7-1 clear
    expect(CONNACK_CODES).toContain(bytes2[3]);
    b.broker.endSession('flags-1');
  });

  it('MQTT-3.1.4-2 MQTT-3.14.0-1: a refused CONNECT gets CONNACK ≥ 0x80 from table 3-1, no DISCONNECT, then close', async () => {
    const hook: Hook = {
      onConnectAuthenticate: (_client, packet) =>
        packet.username === 'ok' ? true : { ok: false, reasonCode: 0x86, reasonString: 'no' },
    };
    const refusing = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const c = await RawClient.open(refusing.port, 5);
      open.push(c);
      c.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'ref',
        clean: true,
        keepalive: 0,
        username: 'x',
      });
      await c.waitClosed();
      expect(c.received.map((p) => p.type)).toEqual(['connack']);
      const code = (c.received[0] as { reasonCode: number }).reasonCode;
      expect(code).toBe(0x86);
      expect(CONNACK_CODES).toContain(code);
    } finally {
      await refusing.close();
    }
  });

  it('MQTT-3.1.2-29: with Request Problem Information 0 no Reason String or User Property is sent on other packets', async () => {
    const hook: Hook = {
      // A hook that would annotate every acknowledgement: the broker must strip it for this client.
      onPacketEncode: (_client, packet) =>
        packet.type === 'suback' || packet.type === 'puback' || packet.type === 'unsuback'
          ? ({ ...packet, properties: { reasonString: 'note', userProperties: [['k', 'v']] } } as Packet)
          : packet,
    };
    const annotated = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const quiet = await raw('rpi0', { properties: { requestProblemInformation: false } }, annotated.port);
      const chatty = await raw('rpi1', {}, annotated.port);
      for (const c of [quiet, chatty]) {
        c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'rpi/#', qos: 1 }] });
        publish(c, 'rpi/t', 1, 2);
        c.send({ type: 'unsubscribe', packetId: 3, topicFilters: ['rpi/#'] });
      }
      const props = async (c: RawClient) => [
        (await c.expect('puback')).properties,
        (await c.expect('unsuback')).properties,
      ];
      expect((await chatty.expect('suback')).properties?.reasonString).toBe('note');
      for (const p of await props(chatty)) expect(p?.reasonString).toBe('note');
      const suback = await quiet.expect('suback');
      expect(suback.properties?.reasonString).toBeUndefined();
      expect(suback.properties?.userProperties).toBeUndefined();
      for (const p of await props(quiet)) {
        expect(p?.reasonString).toBeUndefined();
        expect(p?.userProperties).toBeUndefined();
      }
    } finally {
      await annotated.close();
    }
  });
});
