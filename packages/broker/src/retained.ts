import { RetainedIndex } from '@x/topics';
import { isExpired, type Message } from './message.js';

/**
 * Retained messages by topic name, indexed by level so a subscription walks only the matching
 * branches. Stored messages own their payload (copied out of the socket chunk before they get here).
 * Messages with a Message Expiry Interval are also listed apart, so the periodic sweep removes them
 * once expired by looking at those only, not at every retained message.
 */
export class RetainedStore {
  readonly #index = new RetainedIndex<Message>();
  readonly #expiring = new Map<string, Message>();
  readonly #onExpired: ((topic: string) => void) | undefined;
  #bytes = 0;

  /** @param onExpired told of every message removed because it expired (by `match` or `sweep`). */
  constructor(onExpired?: (topic: string) => void) {
    this.#onExpired = onExpired;
  }

  get size(): number {
    return this.#index.size;
  }

  /** Bytes of payload and topic held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Retained messages that carry an expiry. */
  get expiringCount(): number {
    return this.#expiring.size;
  }

  get(topic: string): Message | undefined {
    return this.#index.get(topic);
  }

  /** Stores (replacing [MQTT-3.3.1-5]) the retained message of its topic. */
  set(message: Message): void {
    const old = this.#index.get(message.topic);
    if (old !== undefined) this.#bytes -= sizeOf(old);
    this.#bytes += sizeOf(message);
    this.#index.set(message.topic, message);
    if (message.expiresAt !== 0) this.#expiring.set(message.topic, message);
    else if (this.#expiring.size > 0) this.#expiring.delete(message.topic);
  }

  delete(topic: string): boolean {
    if (this.#expiring.size > 0) this.#expiring.delete(topic);
    const old = this.#index.get(topic);
    if (old === undefined) return false;
    this.#bytes -= sizeOf(old);
    return this.#index.delete(topic);
  }

  /** The retained messages whose topic matches a filter; expired ones are removed and reported. */
  match(topicFilter: string, now: number): Message[] {
    const out: Message[] = [];
    const expired: string[] = [];
    this.#index.forEachMatch(topicFilter, (message) => {
      if (isExpired(message, now)) expired.push(message.topic);
      else out.push(message);
    });
    for (const topic of expired) this.#expire(topic);
    return out;
  }

  /** Removes every expired retained message (reported like those `match` finds); returns how many. */
  sweep(now: number): number {
    if (this.#expiring.size === 0) return 0;
    const expired: string[] = [];
    for (const message of this.#expiring.values()) if (isExpired(message, now)) expired.push(message.topic);
    for (const topic of expired) this.#expire(topic);
    return expired.length;
  }

  #expire(topic: string): void {
    this.delete(topic);
    this.#onExpired?.(topic);
  }

  /** Every retained message except those of `$` topics (for management and persistence). */
  all(): Message[] {
    return this.#index.match('#');
  }
}

/** What a retained message costs in the byte limit: its payload and its topic. */
export function sizeOf(message: Message): number {
  return message.payload.length + message.topic.length;
}
