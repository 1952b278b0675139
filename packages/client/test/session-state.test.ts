import {
  Decoder,
  encode,
  type Packet,
  type ProtocolVersion,
  type PublishPacket,
  ReasonCode,
} from '@x/packets';
import { validEntries } from '@x/packets/catalogue';
import { describe, expect, it } from 'vitest';
import { Connection, type ConnectionEvents } from '../src/connection.js';
import type { MqttClientError } from '../src/errors.js';
import { Inbox, type InboxOptions } from '../src/inbox.js';
import type { Message } from '../src/message.js';
import { Kind, Outbox } from '../src/outbox.js';

/**
 * The session state machines on their own: the Outbox (our publishes, QoS 1/2, in flight and queued)
 * and the Inbox (the server's publishes). A real Connection writes into a recording transport, so each
 * test sees the exact bytes that would go on the wire; packets in and out come from the codec's
 * catalogue (`@x/packets/catalogue`).
 */

/** A catalogue packet by entry name. */
function entry<T extends Packet['type']>(name: string): Extract<Packet, { type: T }> {
  const found = validEntries.find((e) => e.name === name);
  if (!found?.packet) throw new Error(`no catalogue entry ${name}`);
  // A copy: the state machines set packet ids and flags on what they are given.
  const packet = { ...found.packet } as Packet;
  if (packet.type === 'publish') packet.payload = Buffer.from(packet.payload);
  return packet as Extract<Packet, { type: T }>;
}

/** A catalogue entry's bytes, as hex. */
function bytesOf(name: string): string {
  const found = validEntries.find((e) => e.name === name);
  if (!found) throw new Error(`no catalogue entry ${name}`);
  return Buffer.from(found.bytes).toString('hex');
}

/** Incoming bytes are not used here: the tests call the state machines directly. */
const NO_EVENTS: ConnectionEvents = {
  packet: () => {},
  protocolError: () => {},
  drain: () => {},
  ack: () => {},
  awaiting: () => 0,
};

/** A Connection over a transport that records what it writes. */
function wire(version: ProtocolVersion) {
  const chunks: Buffer[] = [];
  const connection = new Connection(
    { write: (chunk) => chunks.push(Buffer.from(chunk)) > 0, end: () => {}, destroy: () => {} },
    {
      protocolVersion: version,
      maxIncomingPacketSize: undefined,
      gatherWritesFrom: Infinity,
      gatherReads: false,
    },
    NO_EVENTS,
  );
  return {
    connection,
    /** Everything written since the last call, decoded (packets are written at the end of a turn). */
    take(): Packet[] {
      connection.flush();
      const bytes = Buffer.concat(chunks.splice(0));
      return new Decoder({ protocolVersion: version }).push(bytes);
    },
    /** The same, as hex per packet. */
    takeHex(): string[] {
      return this.take().map((p) => encode(p, version).toString('hex'));
    },
  };
}

function outbox(version: ProtocolVersion, options: { queueLimit?: number } = {}) {
  let w = wire(version);
  let online = true;
  const reported: MqttClientError[] = [];
  const box = new Outbox(
    {
      protocolVersion: version,
      connection: () => (online ? w.connection : undefined),
      report: (error) => reported.push(error),
    },
    options.queueLimit ?? 1000,
  );
  return {
    box,
    get wire() {
      return w;
    },
    reported,
    publish(packet: PublishPacket) {
      return box.submit(Kind.PUBLISH, { ...packet, dup: false }) as Promise<{ reasonCode: number }>;
    },
    /** The connection is lost; a new one comes up with `reconnect`. */
    disconnect() {
      online = false;
      box.offline();
    },
    reconnect(sessionPresent: boolean) {
      w = wire(version);
      online = true;
      box.resume(w.connection, sessionPresent, false);
    },
  };
}

/** Settles a promise into a value to compare (or the error's code and reason code). */
async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return await promise;
  } catch (error) {
    const e = error as MqttClientError;
    return { error: e.code, reasonCode: e.reasonCode };
  }
}

const pending = Symbol('pending');
/** The promise's value if it has settled by the next turn, else `pending`. */
async function settledNow(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([outcome(promise), new Promise((r) => setImmediate(() => r(pending)))]);
}

describe('Outbox: our publishes', () => {
  it.each([4, 5] as const)('QoS 1 at level %i: PUBLISH, then PUBACK resolves it', async (v) => {
    const o = outbox(v);
    const done = o.publish(entry<'publish'>(`v${v}-publish-qos1`));
    // The first packet id is 1, as in the catalogue entry, so the bytes are the entry's.
    expect(o.wire.takeHex()).toEqual([bytesOf(`v${v}-publish-qos1`)]);
    expect(o.box.inflight).toBe(1);
    const ack = entry<'puback'>(v === 5 ? 'v5-puback-short' : 'v4-puback');
    o.box.onAck(o.wire.connection, 'puback', 1, ack.reasonCode ?? 0, ack.properties);
    expect(await outcome(done)).toEqual({ reasonCode: 0 });
    expect(o.box.inflight).toBe(0);
  });

  it.each([4, 5] as const)('QoS 2 at level %i: PUBLISH, PUBREC → PUBREL, PUBCOMP resolves it', async (v) => {
    const o = outbox(v);
    const publish = entry<'publish'>(`v${v}-publish-qos2-dup-retain`);
    const done = o.publish(publish);
    const [sent] = o.wire.take();
    expect(sent).toMatchObject({ type: 'publish', qos: 2, dup: false, retain: true, packetId: 1 });
    o.box.onAck(o.wire.connection, 'pubrec', 1, 0, undefined);
    expect(o.wire.take()).toEqual([
      v === 5 ? { type: 'pubrel', packetId: 1, reasonCode: 0 } : { type: 'pubrel', packetId: 1 },
    ]);
    expect(await settledNow(done)).toBe(pending);
    // A repeated PUBREC is answered again [MQTT-4.3.3-9]; the flow is unchanged.
    o.box.onAck(o.wire.connection, 'pubrec', 1, 0, undefined);
    expect(o.wire.take()).toHaveLength(1);
    o.box.onAck(o.wire.connection, 'pubcomp', 1, 0, undefined);
    expect(await outcome(done)).toEqual({ reasonCode: 0 });
    expect(o.box.inflight).toBe(0);
  });

  it('acknowledgements out of order settle the publish each one names', async () => {
    const o = outbox(5);
    const publish = entry<'publish'>('v5-publish-qos1');
    const done = [o.publish(publish), o.publish(publish), o.publish(publish)];
    expect(o.wire.take().map((p) => (p as PublishPacket).packetId)).toEqual([1, 2, 3]);
    const order: number[] = [];
    for (const [i, p] of done.entries()) p.then(() => order.push(i + 1));
    // v5-puback-reason-0x10 (No matching subscribers) is a success with a reason code.
    const noMatch = entry<'puback'>('v5-puback-reason-0x10');
    o.box.onAck(o.wire.connection, 'puback', 3, noMatch.reasonCode ?? 0, undefined);
    o.box.onAck(o.wire.connection, 'puback', 1, 0, undefined);
    o.box.onAck(o.wire.connection, 'puback', 2, 0, undefined);
    expect(await Promise.all(done.map(outcome))).toEqual([
      { reasonCode: 0 },
      { reasonCode: 0 },
      { reasonCode: ReasonCode.NoMatchingSubscribers, properties: undefined },
    ]);
    expect(order).toEqual([3, 1, 2]);
  });

  it('failure reason codes reject: PUBACK 0x87, PUBREC 0x80 (and no PUBREL after it)', async () => {
    const o = outbox(5);
    const q1 = o.publish(entry<'publish'>('v5-publish-qos1'));
    const q2 = o.publish(entry<'publish'>('v5-publish-qos2-dup-retain'));
    o.wire.take();
    const refused = entry<'puback'>('v5-puback-reason-0x87');
    o.box.onAck(o.wire.connection, 'puback', 1, refused.reasonCode ?? 0, refused.properties);
    const failed = entry<'pubrec'>('v5-pubrec-reason-string');
    o.box.onAck(o.wire.connection, 'pubrec', 2, failed.reasonCode ?? 0, failed.properties);
    expect(await outcome(q1)).toEqual({ error: 'PUBLISH_REJECTED', reasonCode: ReasonCode.NotAuthorized });
    expect(await outcome(q2)).toEqual({ error: 'PUBLISH_REJECTED', reasonCode: ReasonCode.UnspecifiedError });
    expect(o.wire.take()).toEqual([]);
    expect(o.box.inflight).toBe(0);
  });

  it('ignores acknowledgements for unknown ids or the wrong flow, and ends an unknown PUBREC', async () => {
    for (const v of [4, 5] as const) {
      const o = outbox(v);
      const q1 = o.publish(entry<'publish'>(`v${v}-publish-qos1`));
      const q2 = o.publish(entry<'publish'>(`v${v}-publish-qos2-dup-retain`));
      o.wire.take();
      o.box.onAck(o.wire.connection, 'puback', 42, 0, undefined); // nobody's id
      o.box.onAck(o.wire.connection, 'puback', 2, 0, undefined); // QoS 2 publish: needs PUBREC
      o.box.onAck(o.wire.connection, 'pubcomp', 2, 0, undefined); // PUBCOMP before PUBREC
      o.box.onAck(o.wire.connection, 'pubcomp', 1, 0, undefined); // QoS 1 publish: needs PUBACK
      expect(o.wire.take()).toEqual([]);
      expect(await settledNow(q1)).toBe(pending);
      expect(await settledNow(q2)).toBe(pending);
      expect(o.box.inflight).toBe(2);
      // An unknown PUBREC gets a PUBREL so the server's flow ends: v5 with 0x92 (the catalogue's
      // v5-pubrel-reason-0x92, packet id 7), v3.1.1 a plain one.
      o.box.onAck(o.wire.connection, 'pubrec', 7, 0, undefined);
      expect(o.wire.takeHex()).toEqual([v === 5 ? bytesOf('v5-pubrel-reason-0x92') : '62020007']);
      o.box.rejectAll(new Error('end'));
      await Promise.all([outcome(q1), outcome(q2)]);
    }
  });

  it('re-sends on reconnect with a session: PUBLISH with DUP, then PUBREL in PUBREC order', async () => {
    const o = outbox(5);
    const publish = entry<'publish'>('v5-publish-qos2-dup-retain');
    const a = o.publish(entry<'publish'>('v5-publish-qos1')); // id 1
    const b = o.publish(publish); // id 2
    const c = o.publish(publish); // id 3
    o.wire.take();
    o.box.onAck(o.wire.connection, 'pubrec', 3, 0, undefined);
    o.box.onAck(o.wire.connection, 'pubrec', 2, 0, undefined);
    o.wire.take();
    o.disconnect();
    // Submitted while offline: queued, sent after the re-sends.
    const d = o.publish(entry<'publish'>('v5-publish-qos1'));
    expect(o.box.queued).toBe(1);
    o.reconnect(true);
    const resent = o.wire.take();
    // [MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged PUBLISH again with DUP; PUBRELs in PUBREC order.
    expect(
      resent.map((p) => [p.type, (p as { packetId?: number }).packetId, (p as { dup?: boolean }).dup]),
    ).toEqual([
      ['publish', 1, true],
      ['pubrel', 3, undefined],
      ['pubrel', 2, undefined],
      ['publish', 4, false],
    ]);
    for (const id of [1, 4]) o.box.onAck(o.wire.connection, 'puback', id, 0, undefined);
    for (const id of [2, 3]) o.box.onAck(o.wire.connection, 'pubcomp', id, 0, undefined);
    expect(await Promise.all([a, b, c, d].map(outcome))).toEqual(Array(4).fill({ reasonCode: 0 }));
  });

  it('on reconnect without a session: PUBLISH again without DUP, released QoS 2 resolved', async () => {
    const o = outbox(5);
    const a = o.publish(entry<'publish'>('v5-publish-qos1'));
    const b = o.publish(entry<'publish'>('v5-publish-qos2-dup-retain'));
    o.wire.take();
    o.box.onAck(o.wire.connection, 'pubrec', 2, 0, undefined);
    o.wire.take();
    o.disconnect();
    o.reconnect(false);
    expect(
      o.wire.take().map((p) => [p.type, (p as PublishPacket).packetId, (p as PublishPacket).dup]),
    ).toEqual([['publish', 1, false]]);
    // The server took the QoS 2 message (PUBREC): its new session cannot complete it, it is done.
    expect(await outcome(b)).toEqual({ reasonCode: 0 });
    o.box.onAck(o.wire.connection, 'puback', 1, 0, undefined);
    expect(await outcome(a)).toEqual({ reasonCode: 0 });
  });

  it("keeps QoS 1/2 publishes within the server's Receive Maximum; QoS 0 is not counted", async () => {
    const o = outbox(5);
    o.box.sendQuota = 2;
    const publish = entry<'publish'>('v5-publish-qos1');
    const done = [o.publish(publish), o.publish(publish), o.publish(publish), o.publish(publish)];
    const qos0 = o.box.submit(Kind.PUBLISH, entry<'publish'>('v5-publish-qos0'));
    expect(o.wire.take().map((p) => p.type)).toEqual(['publish', 'publish']);
    expect([o.box.inflight, o.box.queued]).toEqual([2, 3]);
    o.box.onAck(o.wire.connection, 'puback', 2, 0, undefined);
    // One slot: the third QoS 1 goes; the QoS 0 behind it waits its turn in order.
    expect(o.wire.take().map((p) => [p.type, (p as PublishPacket).qos])).toEqual([['publish', 1]]);
    o.box.onAck(o.wire.connection, 'puback', 1, 0, undefined);
    expect(o.wire.take().map((p) => [p.type, (p as PublishPacket).qos])).toEqual([
      ['publish', 1],
      ['publish', 0],
    ]);
    expect(await outcome(qos0)).toEqual({ reasonCode: 0 });
    for (const id of [3, 4]) o.box.onAck(o.wire.connection, 'puback', id, 0, undefined);
    expect((await Promise.all(done.map(outcome))).length).toBe(4);
    expect([o.box.inflight, o.box.queued]).toEqual([0, 0]);
  });

  it('bounds the queue: beyond queueLimit a publish is refused with QUEUE_FULL', async () => {
    const o = outbox(5, { queueLimit: 2 });
    o.disconnect();
    const publish = entry<'publish'>('v5-publish-qos1');
    const queued = [o.publish(publish), o.publish(publish)];
    expect(await outcome(o.publish(publish))).toEqual({ error: 'QUEUE_FULL', reasonCode: undefined });
    o.box.rejectAll(new Error('end'));
    await Promise.all(queued.map(outcome));
  });
});

/** `slow`: each listener call returns a promise that `finish(index)` settles (the consumer's work). */
function inbox(version: ProtocolVersion, options: Partial<InboxOptions> = {}, slow = false) {
  const w = wire(version);
  const messages: Message[] = [];
  const finishers: (() => void)[] = [];
  const errors: MqttClientError[] = [];
  let online = true;
  const box = new Inbox(
    {
      protocolVersion: version,
      connection: () => (online ? w.connection : undefined),
      listeners: () => [
        (m: Message) => {
          messages.push(m);
          if (slow) return new Promise<void>((resolve) => finishers.push(resolve));
          return undefined;
        },
      ],
      intercept: () => false,
      protocolError: (_c, error) => errors.push(error),
      report: (error) => errors.push(error),
    },
    {
      manualAck: false,
      receiveMaximum: 65_535,
      receiveMaximumSlack: 0,
      topicAliasMaximum: 0,
      qos2ReplayGuard: 0,
      ...options,
    },
  );
  return {
    box,
    wire: w,
    messages,
    errors,
    finish: (index: number) => finishers[index]?.(),
    online: (up: boolean) => {
      online = up;
    },
  };
}

describe("Inbox: the server's publishes", () => {
  it.each([4, 5] as const)('QoS 1 at level %i: delivered once, PUBACK with its packet id', (v) => {
    const i = inbox(v);
    i.box.onPublish(i.wire.connection, entry<'publish'>(`v${v}-publish-qos1`));
    expect(i.messages.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([['a/b', 'x', 1]]);
    expect(i.wire.takeHex()).toEqual(['40020001']);
  });

  it.each([4, 5] as const)(
    'QoS 2 at level %i: PUBREC, a DUP re-delivery is not delivered twice, PUBREL → PUBCOMP',
    (v) => {
      const i = inbox(v);
      const publish = entry<'publish'>(`v${v}-publish-qos2-dup-retain`);
      const id = publish.packetId as number;
      i.box.onPublish(i.wire.connection, { ...publish, dup: false });
      i.box.onPublish(i.wire.connection, publish); // DUP before PUBREL [MQTT-4.3.3-10]
      expect(i.messages).toHaveLength(1);
      expect(i.wire.take()).toEqual([
        { type: 'pubrec', packetId: id, ...(v === 5 ? { reasonCode: 0 } : {}) },
        { type: 'pubrec', packetId: id, ...(v === 5 ? { reasonCode: 0 } : {}) },
      ]);
      i.box.onPubrel(i.wire.connection, id);
      expect(i.wire.take()).toEqual([
        { type: 'pubcomp', packetId: id, ...(v === 5 ? { reasonCode: 0 } : {}) },
      ]);
      // After PUBCOMP the id is free: the same id is a new message.
      i.box.onPublish(i.wire.connection, { ...publish, dup: false });
      expect(i.messages).toHaveLength(2);
    },
  );

  it('answers a PUBREL for an unknown id with PUBCOMP: v5 0x92, v3.1.1 plain [MQTT-4.3.3-11]', () => {
    const v5 = inbox(5);
    v5.box.onPubrel(v5.wire.connection, 7);
    expect(v5.wire.take()).toEqual([
      { type: 'pubcomp', packetId: 7, reasonCode: ReasonCode.PacketIdentifierNotFound },
    ]);
    const v4 = inbox(4);
    v4.box.onPubrel(v4.wire.connection, 42);
    expect(v4.wire.takeHex()).toEqual([bytesOf('v4-pubcomp')]);
  });

  it('with manual acks, acknowledges when the consumers are done, in arrival order', async () => {
    const i = inbox(5, { manualAck: true }, true);
    const publish = entry<'publish'>('v5-publish-qos1');
    for (const id of [1, 2, 3]) i.box.onPublish(i.wire.connection, { ...publish, packetId: id });
    expect(i.wire.take()).toEqual([]);
    // The third consumer finishes first: its PUBACK waits for the earlier ones [MQTT-4.6.0-2].
    i.finish(2);
    await new Promise((r) => setImmediate(r));
    expect(i.wire.take()).toEqual([]);
    i.finish(0);
    i.finish(1);
    await new Promise((r) => setImmediate(r));
    expect(i.wire.take().map((p) => (p as { packetId: number }).packetId)).toEqual([1, 2, 3]);
  });

  it('with manual acks, the re-send that crosses a PUBACK given after a reconnect is not new [MQTT-4.4.0-1]', async () => {
    const i = inbox(5, { manualAck: true }, true);
    const publish = entry<'publish'>('v5-publish-qos1');
    i.box.newConnection();
    i.box.onPublish(i.wire.connection, { ...publish, packetId: 1, dup: false });
    i.online(false);
    i.finish(0); // done while offline: the PUBACK waits
    await new Promise((r) => setImmediate(r));
    i.online(true);
    i.box.newConnection();
    i.box.sessionResumed();
    expect(i.wire.take()).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0 }]);
    // The server re-sent it with the CONNACK, before our PUBACK reached it: acknowledged again only.
    i.box.onPublish(i.wire.connection, { ...publish, packetId: 1, dup: true });
    expect(i.messages).toHaveLength(1);
    expect(i.wire.take()).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0 }]);
    // Once it has our PUBACK the server may use the id again, for a new message (DUP 0).
    i.box.onPublish(i.wire.connection, { ...publish, packetId: 1, dup: false });
    expect(i.messages).toHaveLength(2);
  });

  it('a server past the Receive Maximum we announced is a protocol error [MQTT-3.3.4-9]', () => {
    const i = inbox(5, { manualAck: true, receiveMaximum: 2 }, true);
    const publish = entry<'publish'>('v5-publish-qos1');
    for (const id of [1, 2, 3]) i.box.onPublish(i.wire.connection, { ...publish, packetId: id });
    expect(i.messages).toHaveLength(2);
    expect(i.errors.map((e) => [e.code, e.reasonCode, e.clause])).toEqual([
      ['PROTOCOL_ERROR', ReasonCode.ReceiveMaximumExceeded, 'MQTT-3.3.4-9'],
    ]);
    expect(i.box.overruns).toBe(0);
  });

  it('receiveMaximumSlack takes and counts that many QoS 1/2 PUBLISH packets beyond it, then refuses', () => {
    const i = inbox(5, { manualAck: true, receiveMaximum: 2, receiveMaximumSlack: 2 }, true);
    const qos1 = entry<'publish'>('v5-publish-qos1');
    for (const id of [1, 2]) i.box.onPublish(i.wire.connection, { ...qos1, packetId: id });
    expect(i.box.overruns).toBe(0);
    // QoS 0 takes no part in the Receive Maximum.
    i.box.onPublish(i.wire.connection, { ...qos1, qos: 0, packetId: undefined });
    for (const id of [3, 4]) i.box.onPublish(i.wire.connection, { ...qos1, packetId: id });
    expect(i.messages).toHaveLength(5);
    expect(i.box.overruns).toBe(2);
    expect(i.box.overrunPeak).toBe(2);
    expect(i.errors).toEqual([]);
    i.box.onPublish(i.wire.connection, { ...qos1, packetId: 5 });
    expect(i.messages).toHaveLength(5);
    expect(i.errors.map((e) => [e.code, e.reasonCode, e.clause])).toEqual([
      ['PROTOCOL_ERROR', ReasonCode.ReceiveMaximumExceeded, 'MQTT-3.3.4-9'],
    ]);
  });
});
