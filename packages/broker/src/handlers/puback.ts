import { type PubackPacket, ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/** A client acknowledged a QoS 1 message: the flow is complete, room opens in its window. */
export function handlePuback(ctx: BrokerContext, client: Client, packet: PubackPacket): void {
  const session = client.session!;
  const entry = session.inflight.get(packet.packetId);
  if (entry === undefined) return; // unknown id: nothing to release
  if (entry.delivery.qos !== 1) {
    client.violation(ReasonCode.ProtocolError, `PUBACK for the QoS 2 delivery ${packet.packetId}`, '4.3.3');
    return;
  }
  session.inflight.delete(packet.packetId);
  ctx.persistence.completed(session, packet.packetId, entry.delivery.message);
  const complete = ctx.hooks.on.onQosComplete;
  if (complete.length > 0) for (const h of complete) h.onQosComplete!(session.clientId, packet.packetId);
  if (session.queue.length > 0 || session.overflow.length > 0) ctx.router.drain(session);
}
