import type { PubrelPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/**
 * Release of an inbound QoS 2 message: forget its packet id and always answer PUBCOMP
 * [MQTT-4.3.3-11], even for an unknown id (v5: 0x92) so a client retrying after a reconnection
 * never loops.
 */
export function handlePubrel(ctx: BrokerContext, client: Client, packet: PubrelPacket): void {
  const session = client.session!;
  const known = session.inboundQos2.delete(packet.packetId);
  if (known) ctx.persistence.inboundReleased(session, packet.packetId);
  if (known || client.protocolVersion !== 5) client.sendAck('pubcomp', packet.packetId);
  else
    client.send({
      type: 'pubcomp',
      packetId: packet.packetId,
      reasonCode: ReasonCode.PacketIdentifierNotFound,
    });
}
