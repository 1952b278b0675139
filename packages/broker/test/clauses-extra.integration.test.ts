import type { Packet } from '@x/packets';
import { invalidEntries } from '@x/packets/catalogue';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

/**
 * Server-side MUSTs of sections 3 and 4 not named by the other test files (see MUST-COVERAGE.md),
 * each checked over a real socket with a raw client.
 */

// Reason codes the spec allows per packet (tables 3-1, 3-4 … 3-11 and 2-6 of MQTT 5.0).
const CONNACK_CODES = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9f,
];
const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_CODES = [0x00, 0x92];
const SUBACK_CODES = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_CODES = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
];

const streamable = invalidEntries.filter(
  (e) => !e.prefix && !e.trailing && (e.maxPacketSize ?? 1024 * 1024) >= 1024 * 1024,
);
const citing = (clause: string) =>
  streamable.filter((e) => e.clause === clause || e.error?.clause === clause);

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  let b: TestBroker;
  const open: RawClient[] = [];
  beforeAll(async () => {
    b = await startTestBroker({ maxPacketSize: 1024 * 1024 });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(() => b.close());

  async function raw(clientId: string, extra: object = {}, port = b.port): Promise<RawClient> {
    const c = await RawClient.connect(port, { clientId, ...extra }, 5);
    open.push(c);
    return c;
  }
  async function subscribe(c: RawClient, topicFilter: string, qos: 0 | 1 | 2 = 0, extra: object = {}) {
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos, ...extra }] });
    return c.expect('suback');
  }
  const publish = (c: RawClient, topic: string, qos: 0 | 1 | 2, packetId?: number, properties?: object) =>
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

  /** Sends a malformed catalogue entry after (or instead of, for a CONNECT) a valid CONNECT. */
  async function sendMalformed(bytes: Uint8Array, isConnect: boolean): Promise<RawClient> {
    const c = isConnect ? await RawClient.open(b.port, 5) : await raw('');
    open.push(c);
    c.sendBytes(bytes);
    await c.waitClosed();
    return c;
  }

  // Format rules on client packets that the server enforces by treating a violation as malformed
  // or as a protocol error ([MQTT-3.1.4-1] [MQTT-4.13.1-1]), each with the catalogue entries citing it.
  it.each([
    ['MQTT-3.1.2-11', 'Will QoS not 0 with Will Flag 0'],
    ['MQTT-3.1.2-12', 'Will QoS 3'],
    ['MQTT-3.1.2-13', 'Will Retain with Will Flag 0'],
    ['MQTT-3.3.2-8', 'Topic Alias 0'],
    ['MQTT-3.8.1-1', 'SUBSCRIBE flags other than 0010'],
    ['MQTT-3.8.3-2', 'SUBSCRIBE without a topic filter'],
    ['MQTT-3.8.3-5', 'reserved subscription option bits set'],
    ['MQTT-3.10.1-1', 'UNSUBSCRIBE flags other than 0010'],
    ['MQTT-3.10.3-2', 'UNSUBSCRIBE without a topic filter'],
    ['MQTT-4.7.3-1', 'empty topic name or filter'],
  ])('%s: %s is refused and the connection closed (v5: with the reason code first)', async (clause) => {
    const entries = citing(clause).filter((e) => e.protocolVersion === 5);
    expect(entries.length, `catalogue entries citing ${clause}`).toBeGreaterThan(0);
    for (const entry of entries) {
      const isConnect = entry.bytes[0]! >> 4 === 1;
      const c = await sendMalformed(entry.bytes, isConnect);
      const reply = c.received.find((p) => p.type === (isConnect ? 'connack' : 'disconnect'));
      if (isConnect && reply === undefined) continue; // closing without CONNACK is allowed
      expect(reply, entry.name).toBeDefined();
      expect((reply as { reasonCode: number }).reasonCode, entry.name).toBe(entry.error!.reasonCode);
    }
  });

  it('MQTT-3.6.1-1: a PUBREL with flags other than 0010 is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0x60, 0x02, 0x00, 0x01]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-3.14.1-1: a DISCONNECT with reserved flag bits set is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0xe1, 0x00]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-3.15.1-1: an AUTH with reserved flag bits set is malformed (DISCONNECT 0x81, close)', async () => {
    const c = await sendMalformed(new Uint8Array([0xf1, 0x00]), false);
    expect(c.received.map((p) => p.type)).toEqual(['disconnect']);
    expect((c.received[0] as { reasonCode: number }).reasonCode).toBe(0x81);
  });

  it('MQTT-4.7.0-1 MQTT-3.3.2-1: a topic name with a wildcard or without valid UTF-8 is refused', async () => {
    // PUBLISH, topic "a/+", no properties (our encoder refuses to write it)
    const wild = await sendMalformed(new Uint8Array([0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00]), false);
    expect((wild.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
      0x90,
    );
    // PUBLISH, topic "a" followed by 0xFF (not UTF-8), no properties
    const bad = await sendMalformed(new Uint8Array([0x30, 0x05, 0x00, 0x02, 0x61, 0xff, 0x00]), false);
    expect((bad.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
      0x81,
    );
  });

  it('MQTT-4.7.3-2: a topic name containing U+0000 is malformed', async () => {
    const c = await sendMalformed(new Uint8Array([0x30, 0x06, 0x00, 0x03, 0x61, 0x00, 0x62, 0x00]), false);
    expect((c.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(0x81);
  });

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

  it('MQTT-3.9.3-2 MQTT-3.10.4-6 MQTT-3.11.3-1 MQTT-3.11.3-2: SUBACK/UNSUBACK codes come from their tables, UNSUBACK in filter order', async () => {
    const c = await raw('unsub-order');
    c.send({
      type: 'subscribe',
      packetId: 3,
      subscriptions: [
        { topicFilter: 'uo/a', qos: 0 },
        { topicFilter: 'uo/#/bad', qos: 1 },
        { topicFilter: 'uo/c', qos: 2 },
      ],
    });
    const suback = await c.expect('suback');
    for (const code of suback.reasonCodes) expect(SUBACK_CODES).toContain(code);
    c.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['uo/none', 'uo/c', 'uo/a', 'uo/c'] });
    const unsuback = await c.expect('unsuback');
    expect(unsuback.packetId).toBe(4);
    // processed as a sequence: the second uo/c finds nothing left to remove
    expect(unsuback.reasonCodes).toEqual([0x11, 0x00, 0x00, 0x11]);
    for (const code of unsuback.reasonCodes ?? []) expect(UNSUBACK_CODES).toContain(code);
    b.broker.publish('uo/a', 'x');
    b.broker.publish('uo/c', 'x');
    expect((await c.idle(50)).filter((p) => p.type === 'publish')).toEqual([]);
  });

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

  it('MQTT-4.7.3-4: matching does not normalize topics (Unicode forms and case stay distinct)', async () => {
    const c = await raw('norm');
    const nfc = 'norm/caf\u00e9';
    const nfd = 'norm/cafe\u0301';
    await subscribe(c, nfc);
    b.broker.publish(nfd, 'nfd');
    b.broker.publish('NORM/caf\u00e9', 'upper');
    b.broker.publish(nfc, 'nfc');
    const got = await c.expect('publish');
    expect(got.topic).toBe(nfc);
    expect((await c.idle(40)).filter((p) => p.type === 'publish')).toEqual([]);
  });

  it('MQTT-4.8.2-1 MQTT-4.8.2-2: malformed shared subscription filters fail in the SUBACK', async () => {
    const c = await raw('share-bad');
    c.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: ['$share//t', '$share/g+/t', '$share/g', '$share/g/', '$share/ok/t'].map(
        (topicFilter) => ({
          topicFilter,
          qos: 0 as const,
        }),
      ),
    });
    const codes = (await c.expect('suback')).reasonCodes;
    expect(codes.slice(0, 4).every((code) => code >= 0x80)).toBe(true);
    expect(codes[4]).toBe(0);
  });

  it('MQTT-4.8.2-3: a shared subscription member gets the message at its granted QoS', async () => {
    const c = await raw('share-qos');
    await subscribe(c, '$share/q/sq/t', 0);
    b.broker.publish('sq/t', 'x', { qos: 2 });
    const got = await c.expect('publish');
    expect(got.qos).toBe(0);
  });
  /** A v5 CONNECT: flags byte and payload bytes as given, Keep Alive 0, no properties. */
  const rawConnect = (flags: number, payload: number[]) => {
    const body = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, flags, 0x00, 0x00, 0x00, ...payload];
    return new Uint8Array([0x10, body.length, ...body]);
  };
  const str = (...bytes: number[]) => [0x00, bytes.length, ...bytes];

  it.each([
    [
      'MQTT-3.1.2-9 MQTT-3.1.3-1',
      'Will Flag 1 without a Will Topic and Payload',
      rawConnect(0x06, [...str(0x61), 0x00]),
    ],
    [
      'MQTT-3.1.2-16',
      'a User Name without the User Name Flag',
      rawConnect(0x02, [...str(0x61), ...str(0x75)]),
    ],
    ['MQTT-3.1.2-17', 'User Name Flag 1 without a User Name', rawConnect(0x82, str(0x61))],
    [
      'MQTT-3.1.2-18',
      'a Password without the Password Flag',
      rawConnect(0x82, [...str(0x61), ...str(0x75), ...str(0x70)]),
    ],
    ['MQTT-3.1.2-19', 'Password Flag 1 without a Password', rawConnect(0xc2, [...str(0x61), ...str(0x75)])],
    ['MQTT-3.1.3-3', 'no Client Identifier at all', rawConnect(0x02, [])],
    ['MQTT-3.1.3-4', 'a Client Identifier that is not UTF-8', rawConnect(0x02, str(0x61, 0xff))],
    [
      'MQTT-3.1.3-11',
      'a Will Topic that is not UTF-8',
      rawConnect(0x06, [...str(0x61), 0x00, ...str(0x61, 0xff), ...str(0x78)]),
    ],
    ['MQTT-3.1.3-12', 'a User Name that is not UTF-8', rawConnect(0x82, [...str(0x61), ...str(0x75, 0xc0)])],
  ])('%s: a CONNECT with %s is refused and the connection closed', async (_clause, _what, bytes) => {
    const c = await sendMalformed(bytes, true);
    expect(c.received.map((p) => p.type)).not.toContain('disconnect');
    const connack = c.received.find((p) => p.type === 'connack') as { reasonCode: number } | undefined;
    if (connack !== undefined) expect(connack.reasonCode).toBeGreaterThanOrEqual(0x80);
  });

  it.each([
    // SUBSCRIBE id 1, no properties, filter "a\xff", options 0
    ['MQTT-3.8.3-1', 'SUBSCRIBE filter', [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0xff, 0x00], 0x81],
    // UNSUBSCRIBE id 1, no properties, filter "a\xff"
    ['MQTT-3.10.3-1', 'UNSUBSCRIBE filter', [0xa2, 0x07, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0xff], 0x81],
    // PUBLISH "t", Content Type "a\xff"
    [
      'MQTT-3.3.2-19',
      'Content Type',
      [0x30, 0x09, 0x00, 0x01, 0x74, 0x05, 0x03, 0x00, 0x02, 0x61, 0xff],
      0x81,
    ],
    // PUBLISH "t", Response Topic "a\xff"
    [
      'MQTT-3.3.2-13',
      'Response Topic',
      [0x30, 0x09, 0x00, 0x01, 0x74, 0x05, 0x08, 0x00, 0x02, 0x61, 0xff],
      0x81,
    ],
  ])(
    '%s: a %s that is not UTF-8 is malformed (DISCONNECT 0x81, close)',
    async (_clause, _what, bytes, code) => {
      const c = await sendMalformed(new Uint8Array(bytes), false);
      expect((c.received.find((p) => p.type === 'disconnect') as { reasonCode: number }).reasonCode).toBe(
        code,
      );
    },
  );

  it('MQTT-3.3.2-14: a Response Topic with a wildcard is a protocol error (DISCONNECT 0x82, close)', async () => {
    // PUBLISH "t", Response Topic "a/#"
    const bytes = [0x30, 0x0a, 0x00, 0x01, 0x74, 0x06, 0x08, 0x00, 0x03, 0x61, 0x2f, 0x23];
    const c = await sendMalformed(new Uint8Array(bytes), false);
    const d = c.received.find((p) => p.type === 'disconnect') as { reasonCode: number };
    expect(d.reasonCode).toBe(0x82);
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

  it('MQTT-4.8.2-4: a shared message in flight to a member is completed with that member when it reconnects', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const a = await raw('sh-a', conn);
    await subscribe(a, '$share/g4/sh4/t', 1);
    const other = await raw('sh-b');
    await subscribe(other, '$share/g4/sh4/t', 1);
    // Publish until member A holds one (the group may choose B first).
    let held: Extract<Packet, { type: 'publish' }> | undefined;
    for (let i = 0; i < 10 && held === undefined; i++) {
      b.broker.publish('sh4/t', `m${i}`, { qos: 1 });
      await until(
        () =>
          a.received.some((p) => p.type === 'publish') || other.received.some((p) => p.type === 'publish'),
        2000,
        'a delivery',
      );
      if (a.received.some((p) => p.type === 'publish')) held = await a.expect('publish');
      else {
        const got = await other.expect('publish');
        other.send({ type: 'puback', packetId: got.packetId!, reasonCode: 0 } as Packet);
      }
    }
    expect(held).toBeDefined();
    a.close(); // no PUBACK
    await until(() => b.broker.sessions.get('sh-a')?.client === undefined, 2000, 'offline session');
    const again = await RawClient.open(b.port, 5);
    open.push(again);
    again.send({ type: 'connect', protocolVersion: 5, clientId: 'sh-a', keepalive: 0, ...conn });
    await again.expect('connack');
    const resent = await again.expect('publish');
    expect(Buffer.from(resent.payload).toString()).toBe(Buffer.from(held!.payload).toString());
    expect(resent.dup).toBe(true);
    const elsewhere = other.received.filter((p) => p.type === 'publish');
    expect(
      elsewhere.map((p) => Buffer.from((p as { payload: Uint8Array }).payload).toString()),
    ).not.toContain(Buffer.from(held!.payload).toString());
    b.broker.endSession('sh-a');
  });

  it('MQTT-4.8.2-5: a shared message in flight to a member whose session ends goes to no other member', async () => {
    const conn = { clean: false, properties: { sessionExpiryInterval: 1 } };
    const a = await raw('sh5-a', conn);
    await subscribe(a, '$share/g5/sh5/t', 1);
    b.broker.publish('sh5/t', 'only-a', { qos: 1 }); // A is the only member
    await a.expect('publish');
    const other = await raw('sh5-b');
    await subscribe(other, '$share/g5/sh5/t', 1);
    a.close(); // no PUBACK
    await until(() => !b.broker.sessions.has('sh5-a'), 3000, 'session expired');
    expect((await other.idle(50)).filter((p) => p.type === 'publish')).toEqual([]);
  });
});
