import type { PubcompPacket } from '@x/packets';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';

/** Last step of an outbound QoS 2 flow: the packet id is free again. */
export function handlePubcomp(broker: Broker, client: Client, packet: PubcompPacket): void {
  const session = client.session!;
  const entry = session.inflight.get(packet.packetId);
  if (entry === undefined || entry.state !== 'pubrel') return;
  session.inflight.delete(packet.packetId);
  for (const h of broker.hooks.on.onQosComplete) h.onQosComplete!(session.clientId, packet.packetId);
  if (session.queue.length > 0) broker.router.drain(session);
}
