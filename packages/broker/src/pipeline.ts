import type { Properties, QoS, Will } from '@x/packets';
import type { Client } from './client.js';
import type { Hooks } from './hooks.js';
import type { Logger } from './logger.js';
import { type Message, ownPayload } from './message.js';
import type { ResolvedOptions } from './options.js';
import type { Persistence } from './persistence.js';
import { type RetainedStore, sizeOf } from './retained.js';
import type { Router } from './router.js';
import type { SysInfo } from './system.js';

/**
 * A message entering the broker. `expiryInterval` is the Message Expiry Interval in seconds (from
 * now); `origin` the publisher's client id ('' for the host application), for No Local; `owned`
 * whether `payload` is already a private copy (false for a view into a socket chunk).
 */
export function createMessage(
  topic: string,
  payload: Uint8Array,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  origin: string,
  owned: boolean,
  now: number,
): Message {
  const expiry = properties?.messageExpiryInterval;
  return {
    topic,
    payload,
    qos,
    retain,
    properties,
    expiresAt: expiry === undefined ? 0 : now + expiry * 1000,
    origin,
    owned,
    storeRows: 0,
  };
}

/** What the publish pipeline needs from the rest of the broker. */
export interface PipelineDeps {
  readonly options: ResolvedOptions;
  readonly log: Logger;
  readonly hooks: Hooks;
  readonly stats: SysInfo;
  readonly retained: RetainedStore;
  readonly router: Router;
  readonly persistence: Persistence;
}

/**
 * The last steps of every PUBLISH, whoever sent it (a client, the host application, a will):
 * retain → route → notify. The steps before (decode, validate, authorize) belong to the sender's
 * path: `handlePublish` for clients.
 */
export class PublishPipeline {
  readonly #deps: PipelineDeps;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  /** Retains (when the message asks to be), routes, and tells `onPublished`; returns the deliveries. */
  publish(message: Message, publisher: Client | undefined): number {
    const count = this.#retainAndRoute(message, publisher);
    const published = this.#deps.hooks.on.onPublished;
    if (published.length > 0) for (const h of published) h.onPublished!(publisher, message, count);
    return count;
  }

  #retainAndRoute(message: Message, publisher: Client | undefined): number {
    if (message.retain) this.retain(message, publisher);
    return this.#deps.router.route(message, publisher);
  }

  /** Stores or deletes (empty payload) the retained message of a topic. */
  retain(message: Message, publisher: Client | undefined): void {
    const { hooks, retained, options } = this.#deps;
    for (const h of hooks.on.onRetainMessage) if (h.onRetainMessage!(publisher, message) === false) return;
    if (message.payload.length === 0) {
      if (retained.delete(message.topic)) this.#deps.persistence.retainedDeleted(message.topic); // [MQTT-3.3.1-6] [MQTT-3.3.1-7]
    } else {
      const old = retained.get(message.topic);
      if (retained.size >= options.maxRetained && old === undefined) {
        this.#deps.log.warn({ topic: message.topic }, 'retained message not stored: maxRetained reached');
        return;
      }
      const growth = sizeOf(message) - (old === undefined ? 0 : sizeOf(old));
      if (growth > 0 && retained.bytes + growth > options.maxRetainedBytes) {
        this.#deps.log.warn(
          { topic: message.topic },
          'retained message not stored: maxRetainedBytes reached',
        );
        return;
      }
      ownPayload(message); // [MQTT-3.3.1-5]
      retained.set(message);
      this.#deps.persistence.retained(message);
    }
    for (const h of hooks.on.onRetainPublished) h.onRetainPublished!(publisher, message);
  }

  /** Publishes a will (after the `onWill` transforms, which may cancel it). */
  publishWill(clientId: string, will: Will): void {
    let w: Will | undefined = will;
    for (const h of this.#deps.hooks.on.onWill) {
      w = h.onWill!(clientId, w);
      if (w === undefined) return;
    }
    // The Will Delay Interval belongs to the will, not to the message it becomes.
    const { willDelayInterval: _delay, ...properties } = w.properties ?? {};
    const message = createMessage(
      w.topic,
      w.payload,
      w.qos,
      w.retain,
      w.properties ? properties : undefined,
      clientId,
      true,
      Date.now(),
    );
    const count = this.#retainAndRoute(message, undefined);
    this.#deps.stats.messagesReceived++;
    for (const h of this.#deps.hooks.on.onWillSent) h.onWillSent!(clientId, w);
    for (const h of this.#deps.hooks.on.onPublished) h.onPublished!(undefined, message, count);
  }
}
