import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { startTestBroker, type TestBroker } from './helpers.js';

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
    expect((await c.expect('disconnect', 3000)).reasonCode).toBe(0x8d);
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
