/**
 * A one-hash Bloom filter over 32-bit hashes, in front of the exact-filter index: most topics have
 * no exact subscriber, and asking this bit array (a few bits per entry, small enough to stay in
 * cache) spares them a probe of the index, whose slots are far larger and usually not in cache.
 *
 * It may say "maybe" for a hash that is absent (about 1 in 8 at the sizing below, or more once
 * entries were removed: their bits stay set until the next rebuild); it never says "no" for one
 * that is present.
 */
export class HashFilter {
  bits: Int32Array<ArrayBuffer> = new Int32Array(32);
  /** 32 - log2(number of bits): the multiplicative hash's top bits pick the bit. */
  shift = 22;
  /** Entries added since the last rebuild (removed ones included). */
  #added = 0;

  mayHave(hash: number): boolean {
    const bit = Math.imul(hash, 0x9e3779b1) >>> this.shift;
    return (this.bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Records a hash; returns false when the filter is too full and wants a rebuild. */
  add(hash: number): boolean {
    const bit = Math.imul(hash, 0x9e3779b1) >>> this.shift;
    this.bits[bit >>> 5]! |= 1 << (bit & 31);
    return ++this.#added * BITS_PER_ENTRY <= this.bits.length * 32;
  }

  /** Starts over with exactly `hashes`, sized for them. */
  rebuild(hashes: readonly number[]): void {
    let size = 1024;
    while (size < hashes.length * BITS_PER_ENTRY * 2) size *= 2;
    this.bits = new Int32Array(size / 32);
    this.shift = 32 - Math.log2(size);
    this.#added = 0;
    for (const hash of hashes) this.add(hash);
  }
}

/** Bits per entry at most before a rebuild doubles the array: about 1 false "maybe" in 8. */
const BITS_PER_ENTRY = 8;
