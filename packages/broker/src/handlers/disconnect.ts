import type { DisconnectPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/** The client ends the connection: no will unless it asks for one with 0x04 [MQTT-3.14.4-3]. */
export function handleDisconnect(ctx: BrokerContext, client: Client, packet: DisconnectPacket): void {
  const session = client.session!;
  const reasonCode = packet.reasonCode ?? ReasonCode.Success;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    if (session.expiryInterval === 0 && expiry !== 0) {
      // Section 3.14.2.2.2 (a Protocol Error without a numbered clause): a session that was to end
      // may not be extended at DISCONNECT.
      client.violation(ReasonCode.ProtocolError, 'session expiry set at DISCONNECT after 0 at CONNECT');
      return;
    }
    session.expiryInterval = Math.min(expiry, ctx.options.maxSessionExpiry);
  }
  if (reasonCode !== ReasonCode.DisconnectWithWillMessage) session.will = undefined; // [MQTT-3.1.2-10]
  client.disconnectCode = reasonCode;
  client.close();
}
