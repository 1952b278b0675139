import type { PubrecPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/** First acknowledgement of an outbound QoS 2 message: answer PUBREL [MQTT-4.3.3-4]. */
export function handlePubrec(ctx: BrokerContext, client: Client, packet: PubrecPacket): void {
  const session = client.session!;
  const entry = session.inflight.get(packet.packetId);
  if (entry !== undefined && entry.delivery.qos !== 2) {
    client.violation(ReasonCode.ProtocolError, `PUBREC for the QoS 1 delivery ${packet.packetId}`, '4.3.2');
    return;
  }
  if (entry === undefined) {
    client.send({
      type: 'pubrel',
      packetId: packet.packetId,
      ...(client.protocolVersion === 5 ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
    });
    return;
  }
  if ((packet.reasonCode ?? 0) >= 0x80) {
    // The receiver refused the message: the flow ends here (section 4.3.3).
    session.inflight.delete(packet.packetId);
    ctx.persistence.completed(session, packet.packetId);
    for (const h of ctx.hooks.on.onQosComplete) h.onQosComplete!(session.clientId, packet.packetId);
    if (session.queue.length > 0 || session.overflow.length > 0) ctx.router.drain(session);
    return;
  }
  if (entry.state !== 'pubrel') {
    entry.state = 'pubrel';
    ctx.persistence.inflight(session, packet.packetId, entry.delivery, true);
    // Once per flow: a repeated PUBREC only gets its PUBREL again.
    const released = ctx.hooks.on.onQosPubrec;
    if (released.length > 0) for (const h of released) h.onQosPubrec!(session.clientId, packet.packetId);
  }
  client.sendAck('pubrel', packet.packetId);
}
