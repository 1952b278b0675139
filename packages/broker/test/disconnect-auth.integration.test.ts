import type { Packet } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { brokerFixture } from './broker-fixture.js';
import { startTestBroker } from './helpers.js';

/** DISCONNECT, AUTH and enhanced authentication (sections 3.14, 3.15, 4.12), and what a failing hook costs. */

// Reason codes the spec allows per packet (tables 3-1, 3-4 … 3-11 and 2-6 of MQTT 5.0).
const DISCONNECT_CODES = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
];
describe('more server-side MUSTs (sections 3 and 4)', () => {
  const { b } = brokerFixture();

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

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

  it('MQTT-3.14.2-1 MQTT-3.14.2-2: the takeover DISCONNECT uses a table code and carries no Session Expiry Interval', async () => {
    const first = await raw('take', { properties: { sessionExpiryInterval: 30 } });
    await raw('take', { properties: { sessionExpiryInterval: 30 } });
    const d = await first.expect('disconnect');
    expect(d.reasonCode).toBe(0x8e);
    expect(DISCONNECT_CODES).toContain(d.reasonCode);
    expect(d.properties?.sessionExpiryInterval).toBeUndefined();
    await first.waitClosed();
    b.broker.endSession('take');
  });

  it('MQTT-3.14.2-3 MQTT-3.14.2-4: a server DISCONNECT leaves out Reason String and User Properties that would not fit', async () => {
    const note = 'n'.repeat(200);
    const hook: Hook = {
      onPacketEncode: (_client, packet) =>
        packet.type === 'disconnect'
          ? ({ ...packet, properties: { reasonString: note, userProperties: [['k', note]] } } as Packet)
          : packet,
    };
    const annotated = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const small = await raw('mps-disc', { properties: { maximumPacketSize: 64 } }, annotated.port);
      await raw('mps-disc', {}, annotated.port);
      const d = await small.expect('disconnect');
      expect(d.reasonCode).toBe(0x8e);
      expect(d.properties?.reasonString).toBeUndefined();
      expect(d.properties?.userProperties).toBeUndefined();
      const roomy = await raw('roomy-disc', {}, annotated.port);
      await raw('roomy-disc', {}, annotated.port);
      expect((await roomy.expect('disconnect')).properties?.reasonString).toBe(note);
    } finally {
      await annotated.close();
    }
  });

  it('MQTT-3.15.2-1 MQTT-3.15.2-2 MQTT-3.15.2-3 MQTT-4.12.0-4: AUTH uses a table code and drops what does not fit; a rejected exchange gets CONNACK ≥ 0x80 and close', async () => {
    const note = 'n'.repeat(200);
    const hook: Hook = {
      onConnectAuthenticate: () => ({ continue: true, authenticationData: Buffer.from('challenge') }),
      onAuthPacket: (_client, packet) =>
        Buffer.from(packet.properties?.authenticationData ?? []).toString() === 'response'
          ? { ok: true }
          : { ok: false, reasonCode: 0x87 },
      onPacketEncode: (_client, packet) =>
        packet.type === 'auth'
          ? ({
              ...packet,
              properties: { ...packet.properties, reasonString: note, userProperties: [['k', note]] },
            } as Packet)
          : packet,
    };
    const auth = await startTestBroker({}, [hook, new AllowAllHook()]);
    try {
      const start = async (clientId: string, maximumPacketSize?: number) => {
        const c = await RawClient.open(auth.port, 5);
        open.push(c);
        c.send({
          type: 'connect',
          protocolVersion: 5,
          clientId,
          clean: true,
          keepalive: 0,
          properties: { authenticationMethod: 'demo', ...(maximumPacketSize ? { maximumPacketSize } : {}) },
        });
        return c;
      };
      const small = await start('auth-small', 100);
      const challenge = await small.expect('auth');
      expect([0x00, 0x18, 0x19]).toContain(challenge.reasonCode ?? 0);
      expect(challenge.properties?.authenticationMethod).toBe('demo');
      expect(challenge.properties?.reasonString).toBeUndefined();
      expect(challenge.properties?.userProperties).toBeUndefined();
      small.send({
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'demo', authenticationData: Buffer.from('response') },
      } as Packet);
      expect((await small.expect('connack')).reasonCode).toBe(0);

      const rejected = await start('auth-rejected');
      expect((await rejected.expect('auth')).properties?.reasonString).toBe(note); // room: kept
      rejected.send({
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'demo', authenticationData: Buffer.from('wrong') },
      } as Packet);
      expect((await rejected.expect('connack')).reasonCode).toBe(0x87);
      await rejected.waitClosed();
    } finally {
      await auth.close();
    }
  });
});
