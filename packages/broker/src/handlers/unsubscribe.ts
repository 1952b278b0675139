import type { UnsubscribePacket } from '@x/packets';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';
import { RC } from '../codes.js';

/** UNSUBSCRIBE: remove each filter, answer UNSUBACK (v5: one code per filter) [MQTT-3.10.4-4]. */
export function handleUnsubscribe(broker: Broker, client: Client, input: UnsubscribePacket): void {
  let packet = input;
  for (const h of broker.hooks.on.onUnsubscribe) packet = h.onUnsubscribe!(client, packet);
  const session = client.session!;
  const reasonCodes: number[] = [];
  for (const filter of packet.topicFilters) {
    const removed = broker.subscriptions.unsubscribe(client.id, filter);
    session.subscriptions.delete(filter);
    reasonCodes.push(removed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  client.send({
    type: 'unsuback',
    packetId: packet.packetId,
    ...(client.protocolVersion === 5 ? { reasonCodes } : {}),
  });
  for (const h of broker.hooks.on.onUnsubscribed) h.onUnsubscribed!(client, packet, reasonCodes);
}
