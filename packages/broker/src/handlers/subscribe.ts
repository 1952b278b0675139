import type { QoS, SubscribePacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { hasMoreLevelsThan, TopicError } from '@x/topics';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';
import { mayDeliver } from '../hooks.js';
import type { Message } from '../message.js';
import type { SessionSubscription } from '../session.js';

/**
 * SUBSCRIBE: validate and authorize each filter, store it (replacing the same filter [MQTT-3.8.4-3]),
 * answer SUBACK with one code per filter in order [MQTT-3.8.4-6], then send the retained messages the
 * Retain Handling option asks for.
 */
export function handleSubscribe(
  ctx: BrokerContext,
  client: Client,
  input: SubscribePacket,
  trusted: boolean,
): void {
  let packet = input;
  for (const h of ctx.hooks.on.onSubscribe) packet = h.onSubscribe!(client, packet);
  const session = client.session!;
  const v5 = client.protocolVersion === 5;
  const failure = (code: number) => (v5 ? code : ReasonCode.UnspecifiedError);
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifier;
  const reasonCodes: number[] = [];
  const retainedFor: SessionSubscription[] = [];

  for (const s of packet.subscriptions) {
    const refusal = hasMoreLevelsThan(s.topicFilter, ctx.options.maxTopicLevels)
      ? ReasonCode.TopicFilterInvalid
      : trusted
        ? 0
        : ctx.hooks.acl(client, s.topicFilter, 'read');
    if (refusal !== 0) {
      ctx.log.info({ clientId: client.id, topicFilter: s.topicFilter }, `SUBSCRIBE refused (${refusal})`);
      reasonCodes.push(failure(refusal));
      continue;
    }
    const qos = Math.min(s.qos, ctx.options.maximumQoS) as QoS;
    const sub: SessionSubscription = {
      topicFilter: s.topicFilter,
      qos,
      noLocal: s.noLocal ?? false,
      retainAsPublished: s.retainAsPublished ?? false,
      retainHandling: s.retainHandling ?? 0,
      subscriptionIdentifier,
    };
    let existed: boolean;
    try {
      existed = ctx.subscriptions.subscribe(client.id, s.topicFilter, sub) !== undefined;
    } catch (error) {
      if (!(error instanceof TopicError)) throw error;
      if (error.reasonCode === ReasonCode.ProtocolError) {
        // [MQTT-3.8.3-4] No Local on a shared subscription
        client.violation(ReasonCode.ProtocolError, error.message, error.clause);
        return;
      }
      ctx.log.info(
        { clientId: client.id, topicFilter: s.topicFilter },
        `SUBSCRIBE refused: ${error.message}`,
      );
      reasonCodes.push(failure(error.reasonCode));
      continue;
    }
    session.subscriptions.set(s.topicFilter, sub);
    ctx.persistence.subscribed(session, sub);
    reasonCodes.push(qos); // [MQTT-3.9.3-1] granted QoS
    // [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] retain handling; none for shared subscriptions
    if (
      !s.topicFilter.startsWith('$share/') &&
      (sub.retainHandling === 0 || (sub.retainHandling === 1 && !existed))
    ) {
      retainedFor.push(sub);
    }
  }

  // With a store, a SUBACK waits for the next commit: it stores a persistent session's
  // subscriptions, and it carries what the onSubscribed hooks below record (a cluster node's
  // subscription summary, which other nodes must know before the client may count on messages
  // published there). Without a durable store it is sent at once, and so is a clean session's
  // when the store commits only what was recorded (Persistence: nothing to wait for).
  const suback = { type: 'suback', packetId: packet.packetId, reasonCodes } as const;
  ctx.persistence.acknowledge(client, suback);
  for (const h of ctx.hooks.on.onSubscribed) h.onSubscribed!(client, packet, reasonCodes);

  if (retainedFor.length > 0) {
    const now = Date.now();
    const gated = ctx.hooks.on.onAclCheckDelivery.length > 0;
    for (const sub of retainedFor) {
      const messages: Message[] = ctx.retained.match(sub.topicFilter, now);
      for (const message of messages) {
        if (gated && !mayDeliver(ctx.hooks, client.id, client, message)) continue;
        ctx.router.deliver(
          session,
          {
            message,
            qos: Math.min(message.qos, sub.qos) as QoS,
            retain: true, // v3.1.1 [MQTT-3.3.1-8]; v5 section 3.3.1.3
            subscriptionIds:
              sub.subscriptionIdentifier === undefined ? undefined : [sub.subscriptionIdentifier],
          },
          undefined,
        );
      }
    }
  }
}
