import type { Message } from '@x/broker';
import { decode, encode, type Properties, type PublishPacket, type Will } from '@x/packets';

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
 * The message (its own QoS, retain flag and properties) as a v5 PUBLISH packet. The bytes are
 * copied into the batch at once (a message in many sessions' rows is encoded once per batch there).
 */
export function encodeMessage(message: Message): Buffer {
  return encodePublish(message.topic, message.payload, message.qos, message.retain, message.properties);
}

/** The will as a v5 PUBLISH packet; the Will Delay Interval is not a PUBLISH property and is dropped. */
export function encodeWill(will: Will): Buffer {
  const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
  return encodePublish(
    will.topic,
    will.payload,
    will.qos,
    will.retain,
    Object.keys(properties).length > 0 ? properties : undefined,
  );
}

function encodePublish(
  topic: string,
  payload: Uint8Array,
  qos: 0 | 1 | 2,
  retain: boolean,
  properties: Properties | undefined,
): Buffer {
  // One object literal of one shape (no spreads): this runs for every stored message.
  const packet: PublishPacket = {
    type: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    packetId: qos > 0 ? 1 : undefined,
    properties,
  };
  try {
    return encode(packet, 5);
  } catch {
    // Properties the codec refuses can only come from the host application (clients' packets were
    // decoded by the same codec): keep the message itself rather than lose it.
    packet.properties = undefined;
    return encode(packet, 5);
  }
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
