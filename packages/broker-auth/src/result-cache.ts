/** Limits of a {@link ResultCache}. */
export interface ResultCacheOptions {
  /** Most entries kept. Default 10 000. */
  maxEntries?: number;
  /** Most bytes kept, as estimated by the caller per entry. Default 4 MiB. */
  maxBytes?: number;
  /** How long an entry stays valid, in ms. Default 30 000. */
  ttlMs?: number;
}

interface Slot<V> {
  value: V;
  bytes: number;
  expiresAt: number;
}

/**
 * A least-recently-used cache bounded in entries and in bytes, with a time to live. The `Map`'s
 * insertion order is the recency order: a hit is moved to the end, eviction takes from the front.
 */
export class ResultCache<V> {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
  readonly #slots = new Map<string, Slot<V>>();
  #bytes = 0;

  constructor(options: ResultCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string, now = Date.now()): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    if (slot.expiresAt <= now) {
      this.#bytes -= slot.bytes;
      return undefined;
    }
    this.#slots.set(key, slot);
    return slot.value;
  }

  /** Stores a value of about `bytes` bytes (key included); one larger than the whole budget is not kept. */
  set(key: string, value: V, bytes: number, now = Date.now()): void {
    this.delete(key);
    if (this.maxEntries <= 0 || this.ttlMs <= 0 || bytes > this.maxBytes) return;
    this.#slots.set(key, { value, bytes, expiresAt: now + this.ttlMs });
    this.#bytes += bytes;
    for (const [oldest, slot] of this.#slots) {
      if (this.#slots.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#slots.delete(oldest);
      this.#bytes -= slot.bytes;
    }
  }

  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }

  clear(): void {
    this.#slots.clear();
    this.#bytes = 0;
  }
}
