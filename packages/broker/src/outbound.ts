import type { Properties, ProtocolVersion, PublishPacket } from '@x/packets';
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
    const expiry = remainingExpiry(message, now);
    const ids = delivery.subscriptionIds;
    if (expiry === undefined && ids === undefined) {
      if (message.properties) packet.properties = message.properties;
    } else {
      const properties: Properties = { ...message.properties };
      if (expiry !== undefined) properties.messageExpiryInterval = expiry;
      // [MQTT-3.3.4-3] every matching subscription's identifier
      if (ids !== undefined) properties.subscriptionIdentifiers = ids;
      packet.properties = properties;
    }
  }
  return packet;
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
