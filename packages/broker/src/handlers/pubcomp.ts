import { type PubcompPacket, ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/** Last step of an outbound QoS 2 flow: the packet id is free again. */
export function handlePubcomp(ctx: BrokerContext, client: Client, packet: PubcompPacket): void {
  const session = client.session!;
  const entry = session.inflight.get(packet.packetId);
  if (entry !== undefined && entry.delivery.qos !== 2) {
    client.violation(ReasonCode.ProtocolError, `PUBCOMP for the QoS 1 delivery ${packet.packetId}`, '4.3.2');
    return;
  }
  if (entry === undefined || entry.state !== 'pubrel') return;
  session.inflight.delete(packet.packetId);
  ctx.persistence.completed(session, packet.packetId);
  const complete = ctx.hooks.on.onQosComplete;
  if (complete.length > 0) for (const h of complete) h.onQosComplete!(session.clientId, packet.packetId);
  if (session.queue.length > 0 || session.overflow.length > 0) ctx.router.drain(session);
}
