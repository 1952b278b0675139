import type { SubscribePacket, Subscription, UnsubscribePacket } from '@x/packets';
import { validateTopicFilter } from '@x/topics';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { SubscribeOptions, UnsubscribeOptions } from './options.js';

/**
 * The SUBSCRIBE for `subscribe()`'s arguments (packet id assigned when it is sent).
 * @throws {TopicError} for an invalid filter, {MqttClientError} INVALID_ARGUMENT for the rest.
 */
export function subscribePacket(
  filters: string | string[] | Subscription[],
  options: SubscribeOptions | undefined,
): SubscribePacket {
  const list = Array.isArray(filters) ? filters : [filters];
  // [MQTT-3.8.3-2] at least one topic filter
  if (list.length === 0)
    throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, 'subscribe: no topic filter');
  const subscriptions = list.map((item): Subscription => {
    const sub: Subscription =
      typeof item === 'string'
        ? {
            topicFilter: item,
            qos: options?.qos ?? 0,
            noLocal: options?.nl ?? false,
            retainAsPublished: options?.rap ?? false,
            retainHandling: options?.rh ?? 0,
          }
        : item;
    validateTopicFilter(sub.topicFilter);
    if (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2) {
      throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, `qos must be 0, 1 or 2, not ${sub.qos}`);
    }
    return sub;
  });
  return { type: 'subscribe', packetId: 0, subscriptions, properties: options?.properties };
}

/** The UNSUBSCRIBE for `unsubscribe()`'s arguments. */
export function unsubscribePacket(
  filters: string | string[],
  options: UnsubscribeOptions | undefined,
): UnsubscribePacket {
  const list = Array.isArray(filters) ? filters : [filters];
  // [MQTT-3.10.3-2] at least one topic filter
  if (list.length === 0)
    throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, 'unsubscribe: no topic filter');
  for (const filter of list) validateTopicFilter(filter);
  return { type: 'unsubscribe', packetId: 0, topicFilters: list, properties: options?.properties };
}
