/**
 * A session's subscriptions by topic filter. Most sessions hold one subscription: it lives in two
 * fields, and a real `Map` is made only for a second one. A `Map` with its hash table costs about
 * 180 bytes per session, a large share of what the broker adds to an idle connection.
 *
 * Reads and writes cost what a `Map`'s do; iterating a single entry makes a one-entry `Map` for the
 * iterator (iteration is rare: a session becoming persistent, the management API).
 */
export class SubscriptionMap<V> implements ReadonlyMap<string, V> {
  #key: string | undefined;
  #value: V | undefined;
  #map: Map<string, V> | undefined;

  get size(): number {
    if (this.#map !== undefined) return this.#map.size;
    return this.#key === undefined ? 0 : 1;
  }

  get(key: string): V | undefined {
    if (this.#map !== undefined) return this.#map.get(key);
    return key === this.#key ? this.#value : undefined;
  }

  has(key: string): boolean {
    if (this.#map !== undefined) return this.#map.has(key);
    return this.#key !== undefined && key === this.#key;
  }

  set(key: string, value: V): this {
    if (this.#map !== undefined) this.#map.set(key, value);
    else if (this.#key === undefined || this.#key === key) {
      this.#key = key;
      this.#value = value;
    } else {
      this.#map = new Map([[this.#key, this.#value as V]]);
      this.#map.set(key, value);
      this.#key = undefined;
      this.#value = undefined;
    }
    return this;
  }

  delete(key: string): boolean {
    if (this.#map !== undefined) return this.#map.delete(key);
    if (this.#key === undefined || key !== this.#key) return false;
    this.#key = undefined;
    this.#value = undefined;
    return true;
  }

  clear(): void {
    this.#map = undefined;
    this.#key = undefined;
    this.#value = undefined;
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#entries()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[string, V]> {
    return this.#entries().entries();
  }

  keys(): MapIterator<string> {
    return this.#entries().keys();
  }

  values(): MapIterator<V> {
    return this.#entries().values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.#entries().entries();
  }

  #entries(): Map<string, V> {
    if (this.#map !== undefined) return this.#map;
    return new Map(this.#key === undefined ? [] : [[this.#key, this.#value as V]]);
  }
}
