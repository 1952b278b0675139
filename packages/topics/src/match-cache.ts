import type { SubscriptionTrie } from './trie.js';
import type { MatchResult } from './types.js';

/** Options of {@link MatchCache}. */
export interface MatchCacheOptions {
  /** Most topics remembered; the oldest is dropped first. Default: 10 000. */
  maxEntries?: number;
  /**
   * Below this hit rate over a window of 1024 lookups the cache stops storing results for the next
   * 16 windows (topics that do not repeat only pay for the bookkeeping), then tries again.
   * Default: 0.125. Set 0 to always store.
   */
  minHitRate?: number;
}

const WINDOW = 1024;
const BYPASS_WINDOWS = 16;

/**
 * Remembers `matchAll` results per topic for workloads that publish to the same topics again and
 * again. Any change to the trie (subscribe, unsubscribe, removeClient) empties it, so a result is
 * never stale. The trie is fast without it; this only saves the walk for hot topics.
 *
 * Results are shared between calls: do not mutate them. Calls that pass a publisher while the trie
 * holds No Local subscriptions bypass the cache (their result depends on the publisher), and so do
 * all calls for a while after a run of lookups that mostly missed (see `minHitRate`).
 */
export class MatchCache<TClientId = string> {
  #trie: SubscriptionTrie<TClientId>;
  #max: number;
  #entries = new Map<string, MatchResult<TClientId>>();
  #version: number;
  #hits = 0;
  #misses = 0;
  #minHitRate: number;
  #windowLookups = 0;
  #windowHits = 0;
  /** Lookups left to pass straight to the trie after a window with too few hits. */
  #bypass = 0;

  constructor(trie: SubscriptionTrie<TClientId>, options: MatchCacheOptions = {}) {
    this.#trie = trie;
    this.#max = Math.max(1, options.maxEntries ?? 10_000);
    this.#minHitRate = options.minHitRate ?? 0.125;
    this.#version = trie.version;
  }

  /** Same as {@link SubscriptionTrie.matchAll}, from the cache when possible. */
  matchAll(topicName: string, publisherId?: TClientId): MatchResult<TClientId> {
    const trie = this.#trie;
    if (publisherId !== undefined && trie.noLocalCount > 0) return trie.matchAll(topicName, publisherId);
    if (this.#bypass === 0 && ++this.#windowLookups === WINDOW) {
      if (this.#windowHits < WINDOW * this.#minHitRate) {
        this.#bypass = WINDOW * BYPASS_WINDOWS;
        this.#entries.clear();
      }
      this.#windowLookups = 0;
      this.#windowHits = 0;
    }
    if (this.#bypass > 0) {
      this.#bypass--;
      return trie.matchAll(topicName);
    }
    if (trie.version !== this.#version) {
      this.#entries.clear();
      this.#version = trie.version;
    }
    let result = this.#entries.get(topicName);
    if (result !== undefined) {
      this.#hits++;
      this.#windowHits++;
      return result;
    }
    this.#misses++;
    result = trie.matchAll(topicName);
    if (this.#entries.size >= this.#max) {
      // Oldest first: Map iterates in insertion order.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(topicName, result);
    return result;
  }

  /** Cache hits and misses so far, to tell whether the cache pays for itself. */
  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }

  /** Forgets every remembered result. */
  clear(): void {
    this.#entries.clear();
  }
}
