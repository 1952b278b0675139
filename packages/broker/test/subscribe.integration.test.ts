import type { Packet } from '@x/packets';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { brokerFixture, collect } from './broker-fixture.js';
import { sleep, startTestBroker, until } from './helpers.js';

// Reason codes the spec allows per packet (tables 3-1, 3-4 … 3-11 and 2-6 of MQTT 5.0).
const SUBACK_CODES = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];

describe('SUBSCRIBE, UNSUBSCRIBE and retained messages (sections 3.3.1.3, 3.8 to 3.11, 4.7, 4.8)', () => {
  const { b, open, js, rawOn } = brokerFixture();
  const raw = (clientId: string, version: 4 | 5 = 5, extra: object = {}) =>
    rawOn(b.port, clientId, extra, version);

  it('MQTT-3.8.4-1 MQTT-3.8.4-2 MQTT-3.8.4-5 MQTT-3.8.4-6 MQTT-3.9.3-1: SUBACK has the packet id and one granted QoS per filter in order', async () => {
    const c = await raw('suback');
    c.send({
      type: 'subscribe',
      packetId: 42,
      subscriptions: [
        { topicFilter: 's/2', qos: 2 },
        { topicFilter: 's/0', qos: 0 },
        { topicFilter: 's/1', qos: 1 },
      ],
    });
    expect(await c.expect('suback')).toMatchObject({ packetId: 42, reasonCodes: [2, 0, 1] });
  });

  it('MQTT-4.7.1-1 MQTT-4.7.1-2 MQTT-3.8.4-7: invalid filters get a failure code per filter (v5 0x8F, v3.1.1 0x80), others succeed', async () => {
    const c5 = await raw('badfilter5');
    c5.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: 'a/#/b', qos: 0 },
        { topicFilter: 'ok', qos: 1 },
      ],
    });
    expect((await c5.expect('suback')).reasonCodes).toEqual([0x8f, 1]);
    const c4 = await raw('badfilter4', 4);
    c4.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { topicFilter: 'a+', qos: 0 },
        { topicFilter: 'ok', qos: 1 },
      ],
    });
    expect((await c4.expect('suback')).reasonCodes).toEqual([0x80, 1]);
  });

  it('MQTT-3.8.4-3: subscribing again to the same filter replaces the subscription (no duplicate delivery)', async () => {
    const c = await js({ clientId: 'replace', protocolVersion: 4 });
    const got = collect(c);
    await c.subscribeAsync('rep/t', { qos: 0 });
    await c.subscribeAsync('rep/t', { qos: 1 });
    b.broker.publish('rep/t', 'x', { qos: 1 });
    await until(() => got.length >= 1);
    await sleep(50);
    expect(got.map((p) => p.qos)).toEqual([1]);
  });

  it('MQTT-3.3.4-2 MQTT-3.3.4-3 MQTT-3.3.4-4: overlapping subscriptions give one copy at the highest QoS with every subscription identifier', async () => {
    const c = await RawClient.connect(b.port, { clientId: 'overlap' });
    open.push(c);
    c.send({
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: 'ov/#', qos: 0 }],
      properties: { subscriptionIdentifier: 11 },
    });
    await c.expect('suback');
    c.send({
      type: 'subscribe',
      packetId: 2,
      subscriptions: [{ topicFilter: 'ov/+', qos: 2 }],
      properties: { subscriptionIdentifier: 22 },
    });
    await c.expect('suback');
    b.broker.publish('ov/x', 'x', { qos: 2 });
    const p = await c.expect('publish');
    expect(p.qos).toBe(2);
    expect([...(p.properties?.subscriptionIdentifiers ?? [])].sort()).toEqual([11, 22]);
    const rest = await c.idle(100);
    expect(rest.filter((x) => x.type === 'publish')).toEqual([]);
  });

  it('MQTT-3.10.4-2 MQTT-3.10.4-4 MQTT-3.10.4-5: UNSUBSCRIBE stops delivery and is answered with UNSUBACK (v5 codes per filter)', async () => {
    const c = await raw('unsub');
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'u/t', qos: 0 }] });
    await c.expect('suback');
    c.send({ type: 'unsubscribe', packetId: 5, topicFilters: ['u/t', 'never/subscribed'] });
    expect(await c.expect('unsuback')).toMatchObject({ packetId: 5, reasonCodes: [0, 0x11] });
    b.broker.publish('u/t', 'x');
    const rest = await c.idle(100);
    expect(rest.filter((x) => x.type === 'publish')).toEqual([]);
  });

  it('MQTT-3.3.1-5: a retained message is stored and sent with RETAIN 1 to new subscribers', async () => {
    const pub = await js({ clientId: 'ret-pub', protocolVersion: 4 });
    await pub.publishAsync('ret/a', 'first', { qos: 1, retain: true });
    await pub.publishAsync('ret/a', 'second', { qos: 1, retain: true }); // replaces
    const sub = await js({ clientId: 'ret-sub', protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('ret/#', { qos: 1 });
    await until(() => got.length === 1);
    expect([got[0]!.payload.toString(), got[0]!.retain]).toEqual(['second', true]);
  });

  it('MQTT-3.3.1-6 MQTT-3.3.1-7: an empty retained payload deletes the retained message (and is still forwarded)', async () => {
    const live = await js({ clientId: 'ret-del-live', protocolVersion: 4 });
    const liveGot = collect(live);
    await live.subscribeAsync('retdel/t');
    const pub = await js({ clientId: 'ret-del', protocolVersion: 4 });
    await pub.publishAsync('retdel/t', 'x', { qos: 1, retain: true });
    await pub.publishAsync('retdel/t', '', { qos: 1, retain: true });
    await until(() => liveGot.length === 2);
    expect(b.broker.retained.get('retdel/t')).toBeUndefined();
    const sub = await js({ clientId: 'ret-del-sub', protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('retdel/t');
    await sleep(100);
    expect(got).toEqual([]);
  });

  it('MQTT-3.3.1-12 MQTT-3.3.1-13: RETAIN is 0 on live delivery unless Retain As Published', async () => {
    const plain = await js({ clientId: 'rap-0', protocolVersion: 5 });
    const rap = await js({ clientId: 'rap-1', protocolVersion: 5 });
    const gotPlain = collect(plain);
    const gotRap = collect(rap);
    await plain.subscribeAsync('rap/t', { qos: 0 });
    await rap.subscribeAsync('rap/t', { qos: 0, rap: true });
    b.broker.publish('rap/t', 'x', { retain: true });
    await until(() => gotPlain.length === 1 && gotRap.length === 1);
    expect(gotPlain[0]!.retain).toBe(false);
    expect(gotRap[0]!.retain).toBe(true);
  });

  it('MQTT-3.3.1-9 MQTT-3.3.1-10 MQTT-3.3.1-11: Retain Handling 0, 1 and 2', async () => {
    b.broker.publish('rh/t', 'kept', { retain: true });
    const c = await raw('rh');
    const count = async () => (await c.idle(80)).filter((p) => p.type === 'publish').splice(0).length;
    const sub = (packetId: number, retainHandling: 0 | 1 | 2) =>
      c.send({
        type: 'subscribe',
        packetId,
        subscriptions: [{ topicFilter: 'rh/t', qos: 0, retainHandling }],
      });
    sub(1, 1); // new subscription: sent
    await c.expect('suback');
    expect(await count()).toBe(1);
    c.received.length = 0;
    sub(2, 1); // existing subscription: not sent
    await c.expect('suback');
    expect(await count()).toBe(0);
    sub(3, 0); // always sent
    await c.expect('suback');
    expect(await count()).toBe(1);
    c.received.length = 0;
    sub(4, 2); // never sent
    await c.expect('suback');
    expect(await count()).toBe(0);
  });

  it('MQTT-3.8.3-3: No Local: a client does not receive its own messages', async () => {
    const c = await js({ clientId: 'nolocal', protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync('nl/t', { qos: 0, nl: true });
    const other = await js({ clientId: 'nolocal-other', protocolVersion: 5 });
    await c.publishAsync('nl/t', 'mine');
    await other.publishAsync('nl/t', 'theirs');
    await until(() => got.length === 1);
    await sleep(50);
    expect(got.map((p) => p.payload.toString())).toEqual(['theirs']);
  });

  it('MQTT-3.8.3-4: No Local on a shared subscription is a protocol error (DISCONNECT 0x82)', async () => {
    const c = await raw('share-nl');
    // Our encoder refuses to write this packet, so it goes as bytes: options byte 0x04 = No Local.
    c.sendBytes([0x82, 16, 0, 1, 0, 0, 10, ...Buffer.from('$share/g/t'), 0x04]);
    expect((await c.expect('disconnect')).reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('section 4.8.2 shared subscriptions: each message goes to one member of the group; retained are not sent', async () => {
    b.broker.publish('sh/t', 'retained', { retain: true });
    const members = await Promise.all(
      [1, 2, 3].map((i) => js({ clientId: `share-${i}`, protocolVersion: 5 })),
    );
    const got = members.map(collect);
    for (const m of members) await m.subscribeAsync('$share/grp/sh/t', { qos: 1 });
    const normal = await js({ clientId: 'share-normal', protocolVersion: 5 });
    const gotNormal = collect(normal);
    await normal.subscribeAsync('sh/t', { qos: 1 });
    await sleep(50);
    expect(got.flat()).toEqual([]); // no retained message for shared subscriptions
    gotNormal.length = 0;
    for (let i = 0; i < 30; i++) b.broker.publish('sh/t', String(i), { qos: 1 });
    await until(() => got.flat().length === 30 && gotNormal.length === 30);
    expect(got.map((g) => g.length)).toEqual([10, 10, 10]); // round robin
    const all = got.flat().map((p) => Number(p.payload.toString()));
    expect(new Set(all).size).toBe(30);
  });

  it('MQTT-4.7.2-1 MQTT-3.3.2-3: filters starting with a wildcard do not match $ topics; $SYS is published', async () => {
    const sys = await startTestBroker({ sysInterval: 100 });
    try {
      const c = await mqtt.connectAsync(sys.url, { clientId: 'sys', reconnectPeriod: 0 });
      const got: string[] = [];
      c.on('message', (t) => got.push(t));
      await c.subscribeAsync('#');
      await c.subscribeAsync('$SYS/broker/clients/connected');
      await until(() => got.includes('$SYS/broker/clients/connected'));
      await sleep(150);
      expect(got.every((t) => t === '$SYS/broker/clients/connected')).toBe(true);
      await c.endAsync();
    } finally {
      await sys.close();
    }
  });

  it('MQTT-3.3.4-3 subscription identifiers: sent back with each matching message (v5)', async () => {
    const c = await js({ clientId: 'subid', protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync('sid/t', { qos: 0, properties: { subscriptionIdentifier: 1234 } });
    b.broker.publish('sid/t', 'x');
    await until(() => got.length === 1);
    expect(got[0]!.properties?.subscriptionIdentifier).toEqual(1234);
  });

  it('ACL: refused subscriptions get 0x87 (v5) or 0x80 (v3.1.1); refused publishes are acked but not routed (v3.1.1)', async () => {
    const acl = await startTestBroker({}, [
      { onConnectAuthenticate: () => true, onAclCheck: (_c, topic) => !topic.startsWith('secret') },
    ]);
    try {
      const c5 = await RawClient.connect(acl.port, { clientId: 'acl5' });
      c5.send({
        type: 'subscribe',
        packetId: 1,
        subscriptions: [
          { topicFilter: 'secret/x', qos: 0 },
          { topicFilter: 'open', qos: 0 },
        ],
      });
      expect((await c5.expect('suback')).reasonCodes).toEqual([0x87, 0]);
      const c4 = await RawClient.connect(acl.port, { clientId: 'acl4' }, 4);
      c4.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'secret/x', qos: 0 }] });
      expect((await c4.expect('suback')).reasonCodes).toEqual([0x80]);
      c4.send({
        type: 'publish',
        topic: 'secret/x',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 2,
      });
      expect((await c4.expect('puback')).packetId).toBe(2);
      c4.close();
      c5.close();
    } finally {
      await acl.close();
    }
  });
});

describe('more server-side MUSTs (sections 3 and 4)', () => {
  const { b, raw, subscribe } = brokerFixture();
  const publishes = async (c: RawClient, ms = 80) => (await c.idle(ms)).filter((p) => p.type === 'publish');
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

describe('server-side MUSTs not covered elsewhere (sections 3 and 4)', () => {
  const { b, open, rawOn, subscribe } = brokerFixture({ maxPacketSize: 1024 * 1024 });
  const raw = (clientId: string, extra: object = {}, port = b.port) => rawOn(port, clientId, extra);

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
