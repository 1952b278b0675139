import { isUtf8 } from 'node:buffer';
import type { Properties, PublishPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { hasMoreLevelsThan } from '@x/topics';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../message.js';
import { createMessage } from '../pipeline.js';

/**
 * Inbound PUBLISH: resolve the topic alias, check limits and permissions, route once, then
 * acknowledge. Routing happens before the acknowledgement, so an acknowledged message has been
 * handed to every subscriber (delivered, in flight or queued): never acknowledged then dropped.
 */
export function handlePublish(
  ctx: BrokerContext,
  client: Client,
  packet: PublishPacket,
  trusted: boolean,
): void {
  const session = client.session!;
  const options = ctx.options;
  const v5 = client.protocolVersion === 5;
  let topic = packet.topic;
  let properties = packet.properties;

  if (v5 && properties?.topicAlias !== undefined) {
    const alias = properties.topicAlias;
    // [MQTT-3.3.2-8] alias 0, [MQTT-3.3.2-9] above our Topic Alias Maximum
    if (alias === 0 || alias > options.topicAliasMaximum) {
      const clause = alias === 0 ? 'MQTT-3.3.2-8' : 'MQTT-3.3.2-9';
      client.violation(ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`, clause);
      return;
    }
    if (client.aliasesIn === undefined) client.aliasesIn = new Map();
    const aliases = client.aliasesIn;
    if (topic === '') {
      const known = aliases.get(alias);
      if (known === undefined) {
        client.violation(ReasonCode.ProtocolError, `unknown topic alias ${alias}`, '3.3.2.3.4');
        return;
      }
      topic = known;
    } else {
      const old = aliases.get(alias);
      client.aliasBytes += topic.length - (old === undefined ? 0 : old.length);
      if (client.aliasBytes > options.maxTopicAliasBytes) {
        client.violation(
          ReasonCode.QuotaExceeded,
          `topic aliases hold over ${options.maxTopicAliasBytes} bytes`,
        );
        return;
      }
      aliases.set(alias, topic);
    }
    const { topicAlias: _alias, ...rest } = properties;
    properties = rest;
  } else if (topic === '') {
    client.violation(ReasonCode.ProtocolError, 'empty topic name without a topic alias', 'MQTT-4.7.3-1');
    return;
  }

  const responseTopic = properties?.responseTopic;
  if (responseTopic !== undefined && (responseTopic.includes('+') || responseTopic.includes('#'))) {
    // [MQTT-3.3.2-14] a Response Topic is a topic name: it must not hold wildcards
    client.violation(ReasonCode.ProtocolError, 'response topic contains a wildcard', 'MQTT-3.3.2-14');
    return;
  }

  const qos = packet.qos;
  if (qos > options.maximumQoS) {
    client.violation(ReasonCode.QoSNotSupported, `QoS ${qos} not supported`, 'MQTT-3.2.2-11');
    return;
  }
  if (packet.retain && !options.retainAvailable) {
    client.violation(ReasonCode.RetainNotSupported, 'retain not supported', 'MQTT-3.2.2-14');
    return;
  }
  const packetId = packet.packetId ?? 0;
  if (qos === 2 && session.inboundQos2.has(packetId)) {
    // [MQTT-4.3.3-10] a re-sent QoS 2 PUBLISH whose id awaits PUBREL is not delivered twice
    ctx.persistence.acknowledgePublish(client, 'pubrec', packetId, 0, undefined);
    return;
  }
  if (qos === 2 && v5 && session.inboundQos2.size >= options.receiveMaximum) {
    // Section 3.3.4: more unacknowledged QoS 2 PUBLISHes than our Receive Maximum
    client.violation(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded', '3.3.4');
    return;
  }

  ctx.stats.messagesReceived++;
  let reasonCode: number = ReasonCode.Success;
  if (qos > 0 && !ctx.persistence.writable) {
    // The store cannot keep it: refused rather than acknowledged and lost. A v3 client, which
    // cannot be told, loses the connection without an acknowledgement and sends it again later.
    if (!v5) {
      ctx.log.warn({ clientId: client.id }, 'QoS 1/2 PUBLISH not acknowledged: the store cannot write');
      client.close(new Error('store not writable'));
      return;
    }
    reasonCode = ReasonCode.QuotaExceeded;
  } else if (v5 && properties?.payloadFormatIndicator === true && !isUtf8(packet.payload)) {
    reasonCode = ReasonCode.PayloadFormatInvalid; // Section 3.3.2.3.2: may be refused with 0x99
  }
  let input: PublishPacket = packet;
  if (reasonCode === ReasonCode.Success && ctx.hooks.on.onPublish.length > 0) {
    if (topic !== packet.topic || properties !== packet.properties) input = { ...packet, topic, properties };
    for (const h of ctx.hooks.on.onPublish) {
      const result = h.onPublish!(client, input);
      if (typeof result === 'number') {
        reasonCode = result;
        break;
      }
      input = result;
    }
    topic = input.topic;
    properties = input.properties;
  }
  if (reasonCode === ReasonCode.Success && hasMoreLevelsThan(topic, options.maxTopicLevels)) {
    reasonCode = ReasonCode.TopicNameInvalid;
  } else if (
    reasonCode === ReasonCode.Success &&
    !trusted &&
    !options.sysTopicsWritable &&
    topic.startsWith('$SYS')
  ) {
    reasonCode = ReasonCode.NotAuthorized; // nobody forges the broker's own figures
    ctx.log.info({ clientId: client.id, topic }, 'PUBLISH to $SYS refused');
  }
  if (reasonCode === ReasonCode.Success) {
    reasonCode = trusted ? 0 : ctx.hooks.acl(client, topic, 'write');
    if (reasonCode !== 0) ctx.log.info({ clientId: client.id, topic }, 'PUBLISH refused by ACL');
  }

  let message: Message | undefined;
  if (reasonCode < 0x80) {
    message = createMessage(
      topic,
      input.payload,
      qos,
      input.retain,
      stripHopProperties(properties),
      client.id,
      false,
      Date.now(),
    );
    const delivered = ctx.pipeline.publish(message, client);
    if (delivered === 0 && ctx.router.lastRefused > 0 && v5 && qos > 0) {
      // Nobody could take it: every matching session's queue was full. The publisher is told rather
      // than acknowledged as if it had been delivered.
      reasonCode = ReasonCode.QuotaExceeded;
    }
  }

  // v3.1.1 has no negative acknowledgement: a refused message is acknowledged and not routed.
  // With a store, the acknowledgement waits for the commit that makes the message durable; when a
  // full subscriber queue holds the message in its overflow, until that queue takes it.
  if (qos === 0) return;
  if (qos === 2 && reasonCode < 0x80) {
    session.inboundQos2.add(packetId);
    ctx.persistence.inboundAccepted(session, packetId);
  }
  const hold = reasonCode < 0x80 ? ctx.router.lastHold : undefined;
  ctx.persistence.acknowledgePublish(
    client,
    qos === 1 ? 'puback' : 'pubrec',
    packetId,
    v5 ? reasonCode : 0,
    hold,
    message,
  );
}

/**
 * Topic Alias [MQTT-3.3.2-7] and Subscription Identifiers [MQTT-3.3.4-6] belong to one hop and are
 * not forwarded.
 */
function stripHopProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  if (properties.topicAlias === undefined && properties.subscriptionIdentifiers === undefined) {
    return isEmpty(properties) ? undefined : properties;
  }
  const { topicAlias: _a, subscriptionIdentifiers: _s, ...rest } = properties;
  return isEmpty(rest) ? undefined : rest;
}

function isEmpty(properties: Properties): boolean {
  for (const _ in properties) return false;
  return true;
}
