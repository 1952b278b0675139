import type { PubackPacket } from '@x/packets';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';

/** A client acknowledged a QoS 1 message: the flow is complete, room opens in its window. */
export function handlePuback(broker: Broker, client: Client, packet: PubackPacket): void {
  const session = client.session!;
  const entry = session.inflight.get(packet.packetId);
  if (entry === undefined || entry.delivery.qos !== 1) return; // unknown id: nothing to release
  session.inflight.delete(packet.packetId);
  for (const h of broker.hooks.on.onQosComplete) h.onQosComplete!(session.clientId, packet.packetId);
  if (session.queue.length > 0) broker.router.drain(session);
}
