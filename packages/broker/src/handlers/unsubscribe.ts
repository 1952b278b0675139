import type { UnsubscribePacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

/** UNSUBSCRIBE: remove each filter, answer UNSUBACK (v5: one code per filter) [MQTT-3.10.4-4]. */
export function handleUnsubscribe(ctx: BrokerContext, client: Client, input: UnsubscribePacket): void {
  let packet = input;
  for (const h of ctx.hooks.on.onUnsubscribe) packet = h.onUnsubscribe!(client, packet);
  const session = client.session!;
  const reasonCodes: number[] = [];
  for (const filter of packet.topicFilters) {
    const removed = ctx.subscriptions.unsubscribe(client.id, filter);
    if (session.subscriptions.delete(filter)) ctx.persistence.unsubscribed(session, filter);
    reasonCodes.push(removed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  client.send({
    type: 'unsuback',
    packetId: packet.packetId,
    ...(client.protocolVersion === 5 ? { reasonCodes } : {}),
  });
  for (const h of ctx.hooks.on.onUnsubscribed) h.onUnsubscribed!(client, packet, reasonCodes);
}
