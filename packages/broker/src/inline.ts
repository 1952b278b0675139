import type { Properties, QoS } from '@x/packets';
import { matchesFilter, validateTopicFilter } from '@x/topics';
import type { PublishOptions } from './broker.js';
import type { Message } from './message.js';
import type { RetainedStore } from './retained.js';

/** What the inline client needs: the retained messages and the host application's publish. */
export interface InlineDeps {
  readonly retained: RetainedStore;
  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): void;
}

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

/** The host application's subscriptions, which the router delivers to after the clients. */
export class InlineSubscriptions {
  list: InlineSubscription[] = [];

  get hasSubscriptions(): boolean {
    return this.list.length > 0;
  }

  /** Hands a routed message to the matching handlers; returns how many got it. */
  deliver(message: Message): number {
    let count = 0;
    for (const s of this.list) {
      if (!matchesFilter(s.topicFilter, message.topic)) continue;
      s.handler(view(message, s.qos));
      count++;
    }
    return count;
  }
}

/**
 * The host application as an MQTT participant without a socket: it subscribes with callbacks and
 * publishes, bypassing authentication and ACLs (for bridges, rules, dashboards).
 */
export class InlineClient {
  readonly #deps: InlineDeps;
  readonly #subscriptions: InlineSubscriptions;

  constructor(deps: InlineDeps, subscriptions: InlineSubscriptions) {
    this.#deps = deps;
    this.#subscriptions = subscriptions;
  }

  get hasSubscriptions(): boolean {
    return this.#subscriptions.hasSubscriptions;
  }

  /** Calls `handler` for every message published to a topic matching `topicFilter`. */
  subscribe(topicFilter: string, handler: InlineHandler, qos: QoS = 2): void {
    validateTopicFilter(topicFilter);
    this.#subscriptions.list.push({ topicFilter, qos, handler });
    const now = Date.now();
    // Retained messages first, as for any new subscription.
    for (const message of this.#deps.retained.match(topicFilter, now)) {
      handler({ ...view(message, qos), retain: true });
    }
  }

  /** Removes the subscriptions to `topicFilter` (only those with `handler` when given). */
  unsubscribe(topicFilter: string, handler?: InlineHandler): void {
    this.#subscriptions.list = this.#subscriptions.list.filter(
      (s) => s.topicFilter !== topicFilter || (handler !== undefined && s.handler !== handler),
    );
  }

  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): void {
    this.#deps.publish(topic, payload, options);
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
