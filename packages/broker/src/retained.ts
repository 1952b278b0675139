import { RetainedIndex } from '@x/topics';
import { isExpired, type Message } from './message.js';

/**
 * Retained messages by topic name, indexed by level so a subscription walks only the matching
 * branches. Stored messages own their payload (copied out of the socket chunk before they get here).
 */
export class RetainedStore {
  readonly #index = new RetainedIndex<Message>();

  get size(): number {
    return this.#index.size;
  }

  get(topic: string): Message | undefined {
    return this.#index.get(topic);
  }

  /** Stores (replacing [MQTT-3.3.1-5]) the retained message of its topic. */
  set(message: Message): void {
    this.#index.set(message.topic, message);
  }

  delete(topic: string): boolean {
    return this.#index.delete(topic);
  }

  /** The retained messages whose topic matches a filter; expired ones are removed and reported. */
  match(topicFilter: string, now: number, onExpired?: (topic: string) => void): Message[] {
    const out: Message[] = [];
    const expired: string[] = [];
    this.#index.forEachMatch(topicFilter, (message) => {
      if (isExpired(message, now)) expired.push(message.topic);
      else out.push(message);
    });
    for (const topic of expired) {
      this.#index.delete(topic);
      onExpired?.(topic);
    }
    return out;
  }

  /** Every retained message except those of `$` topics (for management and persistence). */
  all(): Message[] {
    return this.#index.match('#');
  }
}
