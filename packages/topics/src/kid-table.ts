/** What a {@link KidTable} stores: trie nodes that know their level and its hash. */
export interface Keyed {
  readonly key: string;
  readonly keyHash: number;
}

/**
 * FNV-1a over the UTF-16 code units of `text[start, end)`. The tries hash a topic's levels in place
 * while scanning it, so matching never slices the topic into strings nor asks V8 to hash them.
 */
export function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** Whether `key` equals `text[start, start + length)`; a plain loop, which V8 inlines. */
export function sameLevel(key: string, text: string, start: number, length: number): boolean {
  if (key.length !== length) return false;
  for (let i = 0; i < length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}

/**
 * Levels of up to 8 ASCII characters are also kept "packed": the character codes, one per byte,
 * the last four in one 32-bit integer (`packLow`) and the ones before in another (`packHigh`), as
 * the walk accumulates them while scanning a topic. Topic characters are never 0 [MQTT-4.7.3-2], so
 * two such levels are equal exactly when both integers are: a comparison that reads no string. Any
 * other level packs to UNPACKED and is compared character by character.
 */
export const UNPACKED = -1;

export function packLow(level: string): number {
  if (level.length > 8) return UNPACKED;
  let lo = 0;
  for (let k = 0; k < level.length; k++) {
    const c = level.charCodeAt(k);
    if (c > 0x7f) return UNPACKED;
    lo = (lo << 8) | c;
  }
  return lo;
}

export function packHigh(level: string): number {
  let hi = 0;
  let lo = 0;
  for (let k = 0; k < level.length && k < 8; k++) {
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | level.charCodeAt(k);
  }
  return hi;
}

/** Hash of a whole level string, equal to {@link hashRange} over the same characters. */
export function hashLevel(level: string): number {
  return hashRange(level, 0, level.length);
}

/**
 * The children of a trie node that has two or more, and the trie's index of exact filters: an
 * open-addressing hash table (linear probing) of the child nodes themselves, keyed by their
 * precomputed `keyHash`. Each bucket is two array slots, the hash next to the node, so a probe reads
 * one cache line and dereferences a node only when its hash matches: a lookup that misses (most
 * levels of most topics) touches no node at all. No entry objects, about half a Map per child.
 *
 *   slots  [ hash0, node0 | undefined, hash1, node1 | undefined, ... ]
 *          2 × a power of two, at most 3/4 of the buckets used
 */
export class KidTable<N extends Keyed> {
  /** Always true (kept on the prototype): tells a table from a single inline child without instanceof. */
  declare readonly isTable: true;
  slots: (N | number | undefined)[];
  count = 0;

  constructor() {
    this.slots = [0, undefined, 0, undefined, 0, undefined, 0, undefined];
  }

  /** The child for the level `text[start, start + length)` whose hash is `hash`. */
  find(hash: number, text: string, start: number, length: number): N | undefined {
    const slots = this.slots;
    const mask = slots.length - 2;
    for (let i = bucket(hash, mask); ; i = (i + 2) & mask) {
      const node = slots[i + 1] as N | undefined;
      if (node === undefined) return undefined;
      if (slots[i] === hash && sameLevel(node.key, text, start, length)) return node;
    }
  }

  /** The child for the level string `key` (hash `hash`). */
  get(hash: number, key: string): N | undefined {
    const slots = this.slots;
    const mask = slots.length - 2;
    for (let i = bucket(hash, mask); ; i = (i + 2) & mask) {
      const node = slots[i + 1] as N | undefined;
      if (node === undefined) return undefined;
      if (slots[i] === hash && node.key === key) return node;
    }
  }

  /** Adds a child whose key is not in the table yet. */
  add(node: N): void {
    if ((this.count + 1) * 8 > this.slots.length * 3) this.#grow();
    this.#place(node);
    this.count++;
  }

  /** Removes a child that is in the table (backward-shift deletion: no tombstones). */
  remove(node: N): void {
    const slots = this.slots;
    const mask = slots.length - 2;
    let i = bucket(node.keyHash, mask);
    while (slots[i + 1] !== node) i = (i + 2) & mask;
    let hole = i;
    for (let j = (hole + 2) & mask; ; j = (j + 2) & mask) {
      const moving = slots[j + 1] as N | undefined;
      if (moving === undefined) break;
      const home = bucket(moving.keyHash, mask);
      // Move it into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        slots[hole] = slots[j];
        slots[hole + 1] = moving;
        hole = j;
      }
    }
    slots[hole] = 0;
    slots[hole + 1] = undefined;
    this.count--;
  }

  /** Any remaining child (used when the table shrinks back to one). */
  first(): N | undefined {
    const slots = this.slots;
    for (let i = 1; i < slots.length; i += 2) if (slots[i] !== undefined) return slots[i] as N;
    return undefined;
  }

  /** Every child, in table order. */
  *values(): IterableIterator<N> {
    const slots = this.slots;
    for (let i = 1; i < slots.length; i += 2) if (slots[i] !== undefined) yield slots[i] as N;
  }

  #place(node: N): void {
    const slots = this.slots;
    const mask = slots.length - 2;
    let i = bucket(node.keyHash, mask);
    while (slots[i + 1] !== undefined) i = (i + 2) & mask;
    slots[i] = node.keyHash;
    slots[i + 1] = node;
  }

  #grow(): void {
    const old = this.slots;
    const slots: (N | number | undefined)[] = [];
    for (let i = old.length * 2; i > 0; i -= 2) slots.push(0, undefined);
    this.slots = slots;
    for (let i = 1; i < old.length; i += 2) if (old[i] !== undefined) this.#place(old[i] as N);
  }
}

/** Even index of the home bucket of `hash` (mask = slots.length - 2 keeps the index even). */
export function bucket(hash: number, mask: number): number {
  return ((hash ^ (hash >>> 15)) << 1) & mask;
}

// On the prototype, not per instance: a constant V8 folds into the map check it does anyway.
Object.defineProperty(KidTable.prototype, 'isTable', { value: true });
