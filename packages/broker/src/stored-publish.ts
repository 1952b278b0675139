import {
  decode,
  encode,
  encodedLength,
  encodeInto,
  type Properties,
  type PublishPacket,
  type Will,
} from '@x/packets';
import type { Message } from './message.js';

/**
 * How stores keep a message or a will: as an MQTT 5 PUBLISH packet encoded by @x/packets. Topic,
 * binary payload and every v5 property (user properties in order, correlation data, content type,
 * …) round-trip exactly, and the byte format is the MQTT standard's, not a store's own. What is per
 * delivery (its QoS, retain flag, subscription identifiers) and the expiry time are the store's to
 * keep beside it. The embedded and Redis stores both use these functions.
 *
 * Properties the codec refuses can only come from the host application (clients' packets were
 * decoded by the same codec): the message or will is then kept without them rather than lost.
 */

/**
 * At most how many bytes {@link writeStoredMessage} writes for `message`: without properties, the
 * fixed header (at most 5 bytes), topic length, packet id and an empty property block (5) around at
 * most 3 bytes per topic character and the payload; with properties, exactly.
 */
export function storedMessageBound(message: Message): number {
  if (message.properties === undefined) return 10 + message.topic.length * 3 + message.payload.length;
  const packet = packetOf(message);
  try {
    return encodedLength(packet, 5);
  } catch {
    packet.properties = undefined; // as writeStoredMessage does
    return encodedLength(packet, 5);
  }
}

/**
 * Writes the message (its own QoS, retain flag and properties) as a v5 PUBLISH packet into `target`
 * at `offset`, which has room for {@link storedMessageBound} bytes, and returns the bytes written:
 * straight into a store's buffer, with no packet buffer of its own.
 */
export function writeStoredMessage(message: Message, target: Buffer, offset: number): number {
  const packet = packetOf(message);
  try {
    return encodeInto(packet, 5, target, offset);
  } catch (error) {
    if (error instanceof RangeError) throw error;
    packet.properties = undefined;
    return encodeInto(packet, 5, target, offset);
  }
}

/** The message (its own QoS, retain flag and properties) as v5 PUBLISH bytes of their own. */
export function encodeStoredMessage(message: Message): Buffer {
  return encodeKeeping(packetOf(message));
}

/** The will as v5 PUBLISH bytes; the Will Delay Interval is not a PUBLISH property and is left out. */
export function encodeStoredWill(will: Will): Buffer {
  const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
  return encodeKeeping(
    publishPacket(
      will.topic,
      will.payload,
      will.qos,
      will.retain,
      Object.keys(properties).length > 0 ? properties : undefined,
    ),
  );
}

/** Decodes stored PUBLISH bytes; throws when they are not a PUBLISH packet. */
export function decodeStoredPublish(bytes: Uint8Array): PublishPacket {
  const packet = decode(bytes, 5);
  if (packet.type !== 'publish') throw new Error(`stored message is a ${packet.type} packet`);
  return packet;
}

/** A will from its stored PUBLISH bytes and its Will Delay Interval (seconds; undefined: none). */
export function decodeStoredWill(bytes: Uint8Array, delayInterval: number | undefined): Will {
  const packet = decodeStoredPublish(bytes);
  const will: Will = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain };
  const properties: Properties = { ...packet.properties };
  if (delayInterval !== undefined) properties.willDelayInterval = delayInterval;
  if (Object.keys(properties).length > 0) will.properties = properties;
  return will;
}

function encodeKeeping(packet: PublishPacket): Buffer {
  try {
    return encode(packet, 5);
  } catch {
    packet.properties = undefined;
    return encode(packet, 5);
  }
}

function packetOf(message: Message): PublishPacket {
  return publishPacket(message.topic, message.payload, message.qos, message.retain, message.properties);
}

/** The stored form of a message or will: a v5 PUBLISH with packet id 1 when QoS > 0. */
function publishPacket(
  topic: string,
  payload: Uint8Array,
  qos: 0 | 1 | 2,
  retain: boolean,
  properties: Properties | undefined,
): PublishPacket {
  // One object literal of one shape (no spreads): this runs for every stored message.
  return {
    type: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    packetId: qos > 0 ? 1 : undefined,
    properties,
  };
}
