/**
 * A first-in first-out queue on a growable ring buffer: `push` and `shift` are O(1) at both ends
 * (an array's `shift()` is O(n), which is where Aedes spends most of its time under fan-in load).
 *
 * ```
 *   head            tail
 *    v               v
 *  [ a | b | c | d | _ | _ | _ | _ ]   capacity 8, length 4
 * ```
 * When full, the buffer doubles and the items are copied once, in order, to the front.
 */
const noItems: never[] = [];

export class RingQueue<T> {
  /** Allocated on first push: an empty queue costs nothing (most sessions never queue). */
  #items: (T | undefined)[] = noItems;
  #head = 0;
  #length = 0;
  readonly #initialCapacity: number;

  constructor(initialCapacity = 4) {
    this.#initialCapacity = Math.max(2, initialCapacity);
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#items === noItems) this.#items = new Array(this.#initialCapacity);
    else if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The item `offset` places behind the head (0 is the head), or undefined past the end. */
  at(offset: number): T | undefined {
    return offset < 0 || offset >= this.#length
      ? undefined
      : this.#items[(this.#head + offset) % this.#items.length];
  }

  clear(): void {
    this.#items = noItems;
    this.#head = 0;
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) % this.#items.length] as T;
  }

  #grow(): void {
    const next = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = next;
    this.#head = 0;
  }
}
