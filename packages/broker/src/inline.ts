import type { Properties, QoS } from '@x/packets';
import { matchesFilter, validateTopicFilter } from '@x/topics';
import type { Broker, PublishOptions } from './broker.js';
import type { Message } from './message.js';

/** A message as the host application's inline subscribers receive it. */
export interface InlineMessage {
  topic: string;
  /** Valid during the call only; copy it to keep it. */
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties: Properties | undefined;
}

export type InlineHandler = (message: InlineMessage) => void;

interface InlineSubscription {
  topicFilter: string;
  qos: QoS;
  handler: InlineHandler;
}

/**
 * The host application as an MQTT participant without a socket: it subscribes with callbacks and
 * publishes, bypassing authentication and ACLs (for bridges, rules, dashboards).
 */
export class InlineClient {
  readonly #broker: Broker;
  #subscriptions: InlineSubscription[] = [];

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  get hasSubscriptions(): boolean {
    return this.#subscriptions.length > 0;
  }

  /** Calls `handler` for every message published to a topic matching `topicFilter`. */
  subscribe(topicFilter: string, handler: InlineHandler, qos: QoS = 2): void {
    validateTopicFilter(topicFilter);
    this.#subscriptions.push({ topicFilter, qos, handler });
    const now = Date.now();
    // Retained messages first, as for any new subscription.
    for (const message of this.#broker.retained.match(topicFilter, now)) {
      handler({ ...view(message, qos), retain: true });
    }
  }

  /** Removes the subscriptions to `topicFilter` (only those with `handler` when given). */
  unsubscribe(topicFilter: string, handler?: InlineHandler): void {
    this.#subscriptions = this.#subscriptions.filter(
      (s) => s.topicFilter !== topicFilter || (handler !== undefined && s.handler !== handler),
    );
  }

  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): void {
    this.#broker.publish(topic, payload, options);
  }

  /** @internal */
  deliver(message: Message): number {
    let count = 0;
    for (const s of this.#subscriptions) {
      if (!matchesFilter(s.topicFilter, message.topic)) continue;
      s.handler(view(message, s.qos));
      count++;
    }
    return count;
  }
}

function view(message: Message, qos: QoS): InlineMessage {
  return {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos < qos ? message.qos : qos,
    retain: false,
    properties: message.properties,
  };
}
