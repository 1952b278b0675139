import { encode, type Properties, type ProtocolVersion, type PublishPacket } from '@x/packets';
import { type Delivery, remainingExpiry } from './message.js';

/**
 * The PUBLISH packet for one delivery. v5 properties get this hop's Subscription Identifiers and the
 * remaining Message Expiry Interval [MQTT-3.3.2-6]; v3 clients get no properties (downgrade).
 */
export function publishPacket(
  delivery: Delivery,
  version: ProtocolVersion,
  packetId: number,
  dup: boolean,
  now: number,
): PublishPacket {
  const { message } = delivery;
  const packet: PublishPacket = {
    type: 'publish',
    topic: message.topic,
    payload: message.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    dup,
  };
  if (delivery.qos > 0) packet.packetId = packetId;
  if (version === 5) {
    const properties = hopProperties(delivery, now);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

/** A delivery's v5 properties: the message's, plus this hop's expiry and subscription identifiers. */
function hopProperties(delivery: Delivery, now: number): Properties | undefined {
  const { message } = delivery;
  const expiry = remainingExpiry(message, now);
  const ids = delivery.subscriptionIds;
  if (expiry === undefined && ids === undefined) return message.properties;
  const properties: Properties = { ...message.properties };
  if (expiry !== undefined) properties.messageExpiryInterval = expiry;
  // [MQTT-3.3.4-3] every matching subscription's identifier
  if (ids !== undefined) properties.subscriptionIdentifiers = ids;
  return properties;
}

const NO_PAYLOAD = new Uint8Array(0);
/** Filled, encoded and emptied by {@link encodeDelivery}: encoding is synchronous and keeps nothing. */
const scratch: PublishPacket = {
  type: 'publish',
  topic: '',
  payload: NO_PAYLOAD,
  qos: 0,
  retain: false,
  dup: false,
  packetId: undefined,
  properties: undefined,
};

/**
 * The encoded PUBLISH of one delivery, the bytes of {@link publishPacket} without a packet object
 * per delivery (the router's shared encodings: one per distinct form of every routed message).
 */
export function encodeDelivery(
  delivery: Delivery,
  version: ProtocolVersion,
  packetId: number,
  dup: boolean,
  now: number,
): Buffer {
  const packet = scratch;
  packet.topic = delivery.message.topic;
  packet.payload = delivery.message.payload;
  packet.qos = delivery.qos;
  packet.retain = delivery.retain;
  packet.dup = dup;
  packet.packetId = delivery.qos > 0 ? packetId : undefined;
  packet.properties = version === 5 ? hopProperties(delivery, now) : undefined;
  try {
    return encode(packet, version);
  } finally {
    // Holds no message past the call.
    packet.topic = '';
    packet.payload = NO_PAYLOAD;
    packet.properties = undefined;
  }
}

/** Offset of the packet identifier in an encoded QoS > 0 PUBLISH. */
export function packetIdOffset(bytes: Uint8Array): number {
  let offset = 1;
  while ((bytes[offset++]! & 0x80) !== 0) {
    // skip the Remaining Length bytes
  }
  const topicLength = (bytes[offset]! << 8) | bytes[offset + 1]!;
  return offset + 2 + topicLength;
}

/**
 * A copy of a shared encoded PUBLISH with this recipient's packet id (and DUP flag) patched in, so a
 * fan-out encodes once however many QoS 1/2 subscribers receive the same bytes.
 */
export function withPacketId(bytes: Uint8Array, idOffset: number, packetId: number, dup: boolean): Buffer {
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  copy[idOffset] = packetId >> 8;
  copy[idOffset + 1] = packetId & 0xff;
  copy[0] = dup ? copy[0]! | 0x08 : copy[0]! & ~0x08;
  return copy;
}
