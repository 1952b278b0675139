import {
  type Delivery,
  decodeStoredPublish,
  decodeStoredWill,
  encodeStoredMessage,
  encodeStoredWill,
  type Message,
  type SessionSubscription,
  type StoredSession,
  storedMessage,
  storedMessageBound,
} from '@x/broker';
import {
  NEED_MORE,
  type ProtocolVersion,
  type QoS,
  readRemainingLength,
  vbiSize,
  type Will,
  writeVbi,
} from '@x/packets';

/**
 * How the Redis store writes state as bytes. A message is a small fixed header followed by the
 * message as an MQTT 5 PUBLISH packet, as every store keeps it (@x/broker's stored-publish.ts):
 * topic, binary payload and every v5 property (user properties in order, correlation data, content
 * type, …) round-trip exactly, and the format is specified by the MQTT standard rather than by this
 * file.
 *
 * ```
 * offset 0   format version (1)
 *        1   flags: bits 0-1 QoS of the delivery, bit 2 retain flag of the delivery,
 *                   bit 3 the QoS 2 flow has reached PUBREL (already delivered),
 *                   bit 4 subscription identifiers follow the packet
 *        2   expiresAt, float64 big-endian, epoch ms (0: never)
 *        10  order, float64 big-endian (in-flight messages: when first sent)
 *        18  the message as a v5 PUBLISH packet (its own QoS and retain flag)
 *        …   (bit 4) the delivery's subscription identifiers, each a Variable Byte Integer
 * ```
 * A queued delivery's order field holds its seq; an in-flight one's, when it was first sent.
 * Sessions and subscriptions are small JSON objects with short keys.
 */
const FORMAT = 1;
const HEADER = 18;
const HAS_SUBSCRIPTION_IDS = 16;

/** Encoded PUBLISH bytes per message: a message queued for many sessions is encoded once. */
const publishBytes = new WeakMap<Message, Buffer>();
/** Upper bounds of those bytes, per message likewise. */
const publishBounds = new WeakMap<Message, number>();

export interface MessageRecord {
  /** The message with the delivery's QoS, retain flag and subscription identifiers. */
  delivery: Delivery;
  /** True when a QoS 2 delivery had reached PUBREL. */
  released: boolean;
  order: number;
}

/** Encodes a delivery of `message` (with the delivery's QoS and retain flag) as a record. */
export function encodeMessage(
  message: Message,
  qos: QoS,
  retain: boolean,
  order = 0,
  released = false,
  subscriptionIds?: readonly number[],
): Buffer {
  let body = publishBytes.get(message);
  if (body === undefined) {
    body = encodeStoredMessage(message);
    publishBytes.set(message, body);
  }
  const ids = subscriptionIds !== undefined && subscriptionIds.length > 0 ? subscriptionIds : undefined;
  let trailer = 0;
  if (ids !== undefined) for (const id of ids) trailer += vbiSize(id);
  const record = Buffer.allocUnsafe(HEADER + body.length + trailer);
  record[0] = FORMAT;
  record[1] = qos | (retain ? 4 : 0) | (released ? 8 : 0) | (ids !== undefined ? HAS_SUBSCRIPTION_IDS : 0);
  record.writeDoubleBE(message.expiresAt, 2);
  record.writeDoubleBE(order, 10);
  body.copy(record, HEADER);
  if (ids !== undefined) {
    let at = HEADER + body.length;
    for (const id of ids) at = writeVbi(record, at, id);
  }
  return record;
}

/**
 * A delivery's record as {@link encodeMessage} will write it, encoded only when its batch is sent
 * (a `LazyValue` of write-batch.ts). Under a stream to an online subscriber most queue and in-flight
 * records are deleted by the subscriber's PUBACK before their batch leaves: those, and their
 * message's PUBLISH bytes when no record of it is left, are never encoded.
 */
export class PendingRecord {
  readonly bytes: number;
  readonly #message: Message;
  readonly #qos: QoS;
  readonly #retain: boolean;
  readonly #order: number;
  readonly #released: boolean;
  readonly #subscriptionIds: readonly number[] | undefined;

  constructor(
    message: Message,
    qos: QoS,
    retain: boolean,
    order: number,
    released: boolean,
    subscriptionIds: readonly number[] | undefined,
  ) {
    this.#message = message;
    this.#qos = qos;
    this.#retain = retain;
    this.#order = order;
    this.#released = released;
    this.#subscriptionIds = subscriptionIds;
    let bound = publishBounds.get(message);
    if (bound === undefined) {
      bound = storedMessageBound(message);
      publishBounds.set(message, bound);
    }
    // A subscription identifier takes at most 4 bytes.
    this.bytes = HEADER + bound + 4 * (subscriptionIds?.length ?? 0);
  }

  encode(): Buffer {
    return encodeMessage(
      this.#message,
      this.#qos,
      this.#retain,
      this.#order,
      this.#released,
      this.#subscriptionIds,
    );
  }
}

/** Reads the Variable Byte Integer at `at` of a record; throws when the record ends inside it. */
function readVbi(record: Buffer, at: number): number {
  const value = readRemainingLength(record, at, record.length, at);
  if (value === NEED_MORE) throw new Error('stored message ends inside a variable byte integer');
  return value;
}

/** Decodes a record; throws on bytes that are not one. */
export function decodeMessage(record: Buffer): MessageRecord {
  if (record.length < HEADER + 2 || record[0] !== FORMAT) {
    throw new Error(`not a stored message (format ${record[0]}, ${record.length} bytes)`);
  }
  const flags = record[1]!;
  const qos = flags & 3;
  if (qos > 2) throw new Error(`stored message with QoS ${qos}`);
  const expiresAt = record.readDoubleBE(2);
  const order = record.readDoubleBE(10);
  // The packet's own length (fixed header + Remaining Length) tells where a trailer starts.
  const remaining = readVbi(record, HEADER + 1);
  const end = HEADER + 1 + vbiSize(remaining) + remaining;
  if (end > record.length) throw new Error('stored message shorter than its packet');
  const packet = decodeStoredPublish(record.subarray(HEADER, end));
  const message = storedMessage(
    packet.topic,
    packet.payload,
    packet.qos,
    packet.retain,
    packet.properties,
    expiresAt,
  );
  let subscriptionIds: number[] | undefined;
  if ((flags & HAS_SUBSCRIPTION_IDS) !== 0) {
    subscriptionIds = [];
    for (let at = end; at < record.length; ) {
      const id = readVbi(record, at);
      subscriptionIds.push(id);
      at += vbiSize(id);
    }
  }
  return {
    delivery: { message, qos: qos as QoS, retain: (flags & 4) !== 0, subscriptionIds },
    released: (flags & 8) !== 0,
    order,
  };
}

/** A retained message as stored (its own QoS, retain set). */
export function encodeRetained(message: Message): Buffer {
  return encodeMessage(message, message.qos, true);
}

/**
 * A session's record. `w`/`wd`: the will of the connection that has the session and its Will Delay
 * Interval; `p`/`pd`/`pa`: a will waiting for its delay, its Will Delay Interval and when it is due
 * (epoch ms). Wills are v5 PUBLISH packets (base64); the delay is not a PUBLISH property, so it is
 * carried beside them.
 */
export function encodeSession(session: StoredSession): string {
  const record: Record<string, unknown> = {
    v: session.protocolVersion,
    e: session.expiryInterval,
    d: session.disconnectedAt,
  };
  if (session.will !== undefined) {
    record.w = encodeStoredWill(session.will).toString('base64');
    const delay = session.will.properties?.willDelayInterval;
    if (delay !== undefined) record.wd = delay;
  }
  if (session.pendingWill !== undefined) {
    record.p = encodeStoredWill(session.pendingWill.will).toString('base64');
    const delay = session.pendingWill.will.properties?.willDelayInterval;
    if (delay !== undefined) record.pd = delay;
    record.pa = session.pendingWill.dueAt;
  }
  return JSON.stringify(record);
}

/** Decodes a session record; throws on one that is malformed. */
export function decodeSession(clientId: string, json: string): StoredSession {
  const r = JSON.parse(json) as Record<string, unknown>;
  if (
    (r.v !== 3 && r.v !== 4 && r.v !== 5) ||
    !isU32(r.e) ||
    typeof r.d !== 'number' ||
    !Number.isFinite(r.d)
  ) {
    throw new Error(`malformed session record ${json}`);
  }
  const session: StoredSession = {
    clientId,
    protocolVersion: r.v as ProtocolVersion,
    expiryInterval: r.e,
    disconnectedAt: r.d,
    will: undefined,
    pendingWill: undefined,
  };
  if (typeof r.w === 'string') session.will = decodeWill(r.w, r.wd);
  if (typeof r.p === 'string' && typeof r.pa === 'number') {
    session.pendingWill = { will: decodeWill(r.p, r.pd), dueAt: r.pa };
  }
  return session;
}

function decodeWill(base64: string, delay: unknown): Will {
  return decodeStoredWill(Buffer.from(base64, 'base64'), isU32(delay) ? delay : undefined);
}

export function encodeSubscription(sub: SessionSubscription): string {
  return JSON.stringify({
    q: sub.qos,
    nl: sub.noLocal ? 1 : 0,
    rap: sub.retainAsPublished ? 1 : 0,
    rh: sub.retainHandling,
    ...(sub.subscriptionIdentifier === undefined ? {} : { id: sub.subscriptionIdentifier }),
  });
}

export function decodeSubscription(topicFilter: string, json: string): SessionSubscription {
  const r = JSON.parse(json) as { q?: unknown; nl?: unknown; rap?: unknown; rh?: unknown; id?: unknown };
  if ((r.q !== 0 && r.q !== 1 && r.q !== 2) || (r.rh !== 0 && r.rh !== 1 && r.rh !== 2)) {
    throw new Error(`malformed subscription record ${json}`);
  }
  return {
    topicFilter,
    qos: r.q,
    noLocal: r.nl === 1,
    retainAsPublished: r.rap === 1,
    retainHandling: r.rh,
    subscriptionIdentifier: typeof r.id === 'number' ? r.id : undefined,
  };
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
