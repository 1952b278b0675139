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

/** Hash of a whole level string, equal to {@link hashRange} over the same characters. */
export function hashLevel(level: string): number {
  return hashRange(level, 0, level.length);
}

/**
 * The children of a trie node that has two or more (and the trie's index of exact filters): an open-addressing hash table (linear probing)
 * holding the child nodes themselves, keyed by their precomputed `keyHash`. One array slot per
 * bucket and no entry objects, so it costs about a third of a Map per child, and a lookup compares
 * a number before it compares a string.
 *
 *   slots  [ node | undefined, ... ]   length a power of two, at most 3/4 full
 */
export class KidTable<N extends Keyed> {
  slots: (N | undefined)[];
  count = 0;

  constructor() {
    this.slots = [undefined, undefined, undefined, undefined];
  }

  /** The child for the level `text[start, start + length)` whose hash is `hash`. */
  find(hash: number, text: string, start: number, length: number): N | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = (hash ^ (hash >>> 15)) & mask; ; i = (i + 1) & mask) {
      const node = slots[i];
      if (node === undefined) return undefined;
      if (node.keyHash === hash && sameLevel(node.key, text, start, length)) return node;
    }
  }

  /** The child for the level string `key` (hash `hash`). */
  get(hash: number, key: string): N | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = (hash ^ (hash >>> 15)) & mask; ; i = (i + 1) & mask) {
      const node = slots[i];
      if (node === undefined) return undefined;
      if (node.keyHash === hash && node.key === key) return node;
    }
  }

  /** Adds a child whose key is not in the table yet. */
  add(node: N): void {
    if ((this.count + 1) * 4 > this.slots.length * 3) this.#grow();
    this.#place(node);
    this.count++;
  }

  /** Removes a child that is in the table (backward-shift deletion: no tombstones). */
  remove(node: N): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = (node.keyHash ^ (node.keyHash >>> 15)) & mask;
    while (slots[i] !== node) i = (i + 1) & mask;
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const moving = slots[j];
      if (moving === undefined) break;
      const home = (moving.keyHash ^ (moving.keyHash >>> 15)) & mask;
      // Move it into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        slots[hole] = moving;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.count--;
  }

  /** Any remaining child (used when the table shrinks back to one). */
  first(): N | undefined {
    for (const node of this.slots) if (node !== undefined) return node;
    return undefined;
  }

  #place(node: N): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = (node.keyHash ^ (node.keyHash >>> 15)) & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = node;
  }

  #grow(): void {
    const old = this.slots;
    const slots: (N | undefined)[] = [];
    for (let i = old.length * 2; i > 0; i--) slots.push(undefined);
    this.slots = slots;
    for (const node of old) if (node !== undefined) this.#place(node);
  }
}
