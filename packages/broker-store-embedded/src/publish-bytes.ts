import type { Message } from '@x/broker';
import {
  decode,
  encode,
  encodedLength,
  encodeInto,
  type Properties,
  type PublishPacket,
  type Will,
} from '@x/packets';

/**
 * Messages and wills are stored as MQTT 5 PUBLISH packets encoded by @x/packets: topic, binary
 * payload and every v5 property (user properties in order, correlation data, content type, …)
 * round-trip exactly, and the byte format is the MQTT standard's. What is per delivery (its QoS,
 * retain flag, subscription identifiers) and the expiry time sit in columns beside it.
 *
 * The Redis store stores the same packet inside its own record header; this pair of functions
 * belongs in @x/broker beside `storedMessage` so both stores share it.
 */

/**
 * At most how many bytes {@link writeMessage} writes for `message`: without properties, the fixed
 * header (at most 5 bytes), topic length, packet id and an empty property block (5) around at most 3
 * bytes per topic character and the payload; with properties, exactly.
 */
export function messageBound(message: Message): number {
  if (message.properties === undefined) return 10 + message.topic.length * 3 + message.payload.length;
  const packet = storedPacket(message);
  try {
    return encodedLength(packet, 5);
  } catch {
    packet.properties = undefined; // as writeMessage does
    return encodedLength(packet, 5);
  }
}

/**
 * Writes the message (its own QoS, retain flag and properties) as a v5 PUBLISH packet into `target`
 * at `offset`, which has room for {@link messageBound} bytes, and returns the bytes written: straight
 * into the batch's buffer, with no packet buffer of its own (a message in many sessions' rows is
 * written once per batch).
 */
export function writeMessage(message: Message, target: Buffer, offset: number): number {
  const packet = storedPacket(message);
  try {
    return encodeInto(packet, 5, target, offset);
  } catch (error) {
    if (error instanceof RangeError) throw error;
    // Properties the codec refuses can only come from the host application (clients' packets were
    // decoded by the same codec): keep the message itself rather than lose it.
    packet.properties = undefined;
    return encodeInto(packet, 5, target, offset);
  }
}

function storedPacket(message: Message): PublishPacket {
  return publishPacket(message.topic, message.payload, message.qos, message.retain, message.properties);
}

/** The will as a v5 PUBLISH packet; the Will Delay Interval is not a PUBLISH property and is dropped. */
export function encodeWill(will: Will): Buffer {
  const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
  const packet = publishPacket(
    will.topic,
    will.payload,
    will.qos,
    will.retain,
    Object.keys(properties).length > 0 ? properties : undefined,
  );
  try {
    return encode(packet, 5);
  } catch {
    packet.properties = undefined; // as writeMessage does
    return encode(packet, 5);
  }
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

/** Decodes stored PUBLISH bytes; throws when they are not a PUBLISH packet. */
export function decodePublish(bytes: Uint8Array): PublishPacket {
  const packet = decode(bytes, 5);
  if (packet.type !== 'publish') throw new Error(`stored message is a ${packet.type} packet`);
  return packet;
}

/** A will from its stored PUBLISH bytes and its Will Delay Interval (seconds). */
export function decodeWill(bytes: Uint8Array, delayInterval: number): Will {
  const packet = decodePublish(bytes);
  const will: Will = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain };
  const properties: Properties = { ...packet.properties };
  if (delayInterval > 0) properties.willDelayInterval = delayInterval;
  if (Object.keys(properties).length > 0) will.properties = properties;
  return will;
}
