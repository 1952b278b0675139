import type { HashFilter } from './hash-filter.js';
import type { KidTable } from './kid-table.js';
import { bucket, sameLevel, UNPACKED } from './kid-table.js';
import type { Holder, Leaf, Node } from './nodes.js';
import { CLIENT_SHIFT, type Group, MergedMatch, NO_LOCAL, type Sub } from './subscription.js';
import type { Match, ShareGroup } from './types.js';

const DOLLAR = 0x24;
const SLASH = 0x2f;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * Longest topic name a walk reads, in UTF-16 code units: a valid one is at most 65 535 bytes of
 * UTF-8 [MQTT-4.7.3-3], which is never fewer code units.
 */
const MAX_TOPIC_LENGTH = 65_535;
/** Levels of the longest topic, plus one entry past the last level. */
const LEVELS = MAX_TOPIC_LENGTH + 2;
/**
 * The scanned levels of the topic being walked (see Walker.scan), shared by every walker: a walk
 * runs to its end without yielding, so two never overlap. Module constants rather than fields,
 * because V8 then knows their address and length in the compiled walk (about 10% of a match);
 * untouched pages of the 1 MiB they reserve cost no memory.
 */
const STARTS = /* @__PURE__ */ new Int32Array(LEVELS);
const HASHES = /* @__PURE__ */ new Int32Array(LEVELS);
const LOS = /* @__PURE__ */ new Int32Array(LEVELS);
const HIS = /* @__PURE__ */ new Int32Array(LEVELS);

/** Stands for "no publisher given", so that any client id value, even a falsy one, can be compared. */
export const NO_PUBLISHER: unique symbol = Symbol('no publisher');

/**
 * The matching walk of one {@link SubscriptionTrie}: the per-PUBLISH hot path, kept in a class of its
 * own with plain fields so the recursion passes only (node, level) and V8 can inline freely.
 *
 * Level i of `topic` is `topic[STARTS[i], STARTS[i + 1] - 1)`, its FNV-1a hash `HASHES[i]`, and when it
 * is short enough its packed form `LOS[i]`, `HIS[i]` (UNPACKED when it cannot be, see packLow);
 * `full` is the hash of the whole topic for the exact index.
 */
export class Walker<C> {
  topic = '';
  count = 0;
  full = 0;
  /**
   * Output of the walk in progress: `out[0, n)`. Normally the walker's own array, reused from call to
   * call; a MatchBuffer's array during matchInto, so results land where the caller reads them.
   */
  own: Match<C>[] = [];
  out: Match<C>[] = this.own;
  n = 0;
  /** Matching share groups, `groups[0, groupCount)`, collected only when `wantShared`. */
  ownGroups: Group<C>[] = [];
  groups: Group<C>[] = this.ownGroups;
  groupCount = 0;
  wantShared = false;
  publisher: C | typeof NO_PUBLISHER = NO_PUBLISHER;
  /**
   * Per-client marks that merge a client's overlapping subscriptions without touching its entry:
   * `marks[client number] - base`, when not negative, is the slot in `out` where this walk emitted
   * the client. Each walk starts at a `base` above every mark of the walks before it, so nothing
   * needs clearing between walks; one Int32 per client is read (and written once) per delivery.
   */
  base = 1;
  marks: Int32Array<ArrayBuffer> = new Int32Array(256);

  /** Makes room for client number `num`. */
  reserve(num: number): void {
    if (num < this.marks.length) return;
    let size = this.marks.length;
    while (size <= num) size *= 2;
    const marks = new Int32Array(size);
    marks.set(this.marks);
    this.marks = marks;
  }

  /** Walks for `topicName`; the result is `out[0, n)` until the next call. */
  run(
    root: Node<C>,
    exact: KidTable<Leaf<C>>,
    exactFilter: HashFilter,
    topicName: string,
    publisher: C | typeof NO_PUBLISHER,
  ): void {
    this.n = 0;
    this.groupCount = 0;
    // Longer than any valid topic name [MQTT-4.7.3-3]: matches nothing (and would not fit the scan).
    if (topicName.length > MAX_TOPIC_LENGTH) return;
    this.scan(topicName);
    if (this.base > MAX_BASE) {
      this.marks.fill(0);
      this.base = 1;
    }
    this.publisher = publisher;
    if (exact.count > 0 && exactFilter.mayHave(this.full)) {
      const leaf = exact.find(this.full, topicName, 0, topicName.length);
      if (leaf !== undefined) this.collect(leaf);
    }
    // [MQTT-4.7.2-1] a topic starting with '$' skips the root's wildcard children.
    if (topicName.charCodeAt(0) !== DOLLAR) {
      if (root.hash !== undefined) this.collect(root.hash);
      if (root.plus !== undefined) this.walk(root.plus, 1);
    }
    const next = this.literal(root, 0);
    if (next !== undefined) this.walk(next, 1);
    this.topic = '';
    // The next walk's marks start above this one's (at most base + n - 1).
    this.base += this.n + 1;
  }

  /**
   * Copies the matches out of the walker's own array, which stays the walk's output (its slots are
   * reused, so the walk never grows an array from empty). Small results, the usual case, are built
   * as array literals of their exact size: one inline allocation, packed, no trimming.
   */
  take(): Match<C>[] {
    const n = this.n;
    const o = this.own;
    this.n = 0;
    switch (n) {
      case 0:
        return [];
      case 1:
        return [o[0]!];
      case 2:
        return [o[0]!, o[1]!];
      case 3:
        return [o[0]!, o[1]!, o[2]!];
      case 4:
        return [o[0]!, o[1]!, o[2]!, o[3]!];
      case 5:
        return [o[0]!, o[1]!, o[2]!, o[3]!, o[4]!];
      case 6:
        return [o[0]!, o[1]!, o[2]!, o[3]!, o[4]!, o[5]!];
      case 7:
        return [o[0]!, o[1]!, o[2]!, o[3]!, o[4]!, o[5]!, o[6]!];
      case 8:
        return [o[0]!, o[1]!, o[2]!, o[3]!, o[4]!, o[5]!, o[6]!, o[7]!];
      default:
        return o.slice(0, n);
    }
  }

  /** Copies the share groups found and drops the walker's references to them. */
  takeGroups(): Group<C>[] | undefined {
    const n = this.groupCount;
    if (n === 0) return undefined;
    const groups = this.groups;
    const result = groups.slice(0, n);
    for (let i = 0; i < n; i++) groups[i] = EMPTY_GROUP as unknown as Group<C>;
    this.groupCount = 0;
    return result;
  }

  scan(topicName: string): void {
    const starts = STARTS;
    const hashes = HASHES;
    const los = LOS;
    const his = HIS;
    let level = 0;
    let h = FNV_OFFSET;
    let full = FNV_OFFSET;
    // The level being read packed (see packLow): low and high words, OR of its characters.
    let lo = 0;
    let hi = 0;
    let seen = 0;
    let start = 0;
    starts[0] = 0;
    const n = topicName.length;
    for (let i = 0; i < n; i++) {
      const c = topicName.charCodeAt(i);
      full = Math.imul(full ^ c, FNV_PRIME);
      if (c === SLASH) {
        hashes[level] = h;
        los[level] = i - start <= 8 && seen <= 0x7f ? lo : UNPACKED;
        his[level] = hi;
        level++;
        starts[level] = i + 1;
        start = i + 1;
        h = FNV_OFFSET;
        lo = hi = seen = 0;
      } else {
        h = Math.imul(h ^ c, FNV_PRIME);
        // Rolling: lo holds the last four characters, hi the four before them.
        hi = (hi << 8) | (lo >>> 24);
        lo = (lo << 8) | c;
        seen |= c;
      }
    }
    hashes[level] = h;
    los[level] = n - start <= 8 && seen <= 0x7f ? lo : UNPACKED;
    his[level] = hi;
    starts[level + 1] = n + 1;
    this.count = level + 1;
    this.full = full;
    this.topic = topicName;
  }

  /** Whether `node` stands for topic level `i` (whose hash is already known to match). */
  same(node: Node<C>, i: number): boolean {
    const lo = LOS[i]!;
    if (lo !== UNPACKED) return node.packLo === lo && node.packHi === HIS[i];
    const start = STARTS[i]!;
    return sameLevel(node.key, this.topic, start, STARTS[i + 1]! - 1 - start);
  }

  /** The literal child of `node` for topic level `i`. */
  literal(node: Node<C>, i: number): Node<C> | undefined {
    const hash = HASHES[i]!;
    const only = node.kid;
    if (only !== undefined) {
      // The hash is kept in the parent: a level that differs is refused without loading the child.
      return node.kidHash === hash && this.same(only, i) ? only : undefined;
    }
    const kids = node.kids;
    if (kids === undefined) return undefined;
    const slots = kids.slots;
    const mask = slots.length - 2;
    for (let j = bucket(hash, mask); ; j = (j + 2) & mask) {
      const kid = slots[j + 1] as Node<C> | undefined;
      if (kid === undefined) return undefined;
      if (slots[j] === hash && this.same(kid, i)) return kid;
    }
  }

  /**
   * Walks the subtree of `node` for levels `i` and below. The '+' branches recurse; the literal
   * branch, the one most steps take, continues in the loop.
   */
  walk(node: Node<C>, i: number): void {
    const count = this.count;
    for (;;) {
      // '#' below this node matches this level too: "a/#" matches "a". [MQTT-4.7.1-1]
      if (node.hash !== undefined) this.collect(node.hash);
      if (i === count) {
        this.collect(node);
        return;
      }
      if (node.plus !== undefined) this.walk(node.plus, i + 1);
      const next = this.literal(node, i);
      if (next === undefined) return;
      node = next;
      i++;
    }
  }

  collect(node: Holder<C>): void {
    const subs = node.subs;
    if (subs !== undefined) {
      if (!subs.isList) this.emit(subs.bits, subs);
      else this.emitAll(subs.pairs);
    }
    if (this.wantShared && node.shared !== undefined) {
      const groups = this.groups;
      for (const group of node.shared.values()) {
        const k = this.groupCount++;
        if (k < groups.length) groups[k] = group;
        else groups.push(group);
      }
    }
  }

  /** {@link emit} for every `[bits, sub]` pair of a SubList, with the walk's state kept in locals. */
  emitAll(pairs: (number | Sub<C>)[]): void {
    const marks = this.marks;
    const base = this.base;
    const out = this.out;
    let n = this.n;
    for (let i = 0; i < pairs.length; i += 2) {
      const bits = pairs[i] as number;
      const sub = pairs[i + 1] as Sub<C>;
      // [MQTT-3.8.3-3]
      if ((bits & NO_LOCAL) !== 0 && sub.client.id === this.publisher) continue;
      const num = bits >>> CLIENT_SHIFT;
      const slot = marks[num]! - base;
      if (slot >= 0) {
        this.merge(slot, sub);
        continue;
      }
      marks[num] = base + n;
      if (n < out.length) out[n] = sub;
      else out.push(sub);
      n++;
    }
    this.n = n;
  }

  /** `bits` is `sub.bits`, passed in so that the common case never dereferences `sub`. */
  emit(bits: number, sub: Sub<C>): void {
    // [MQTT-3.8.3-3]
    if ((bits & NO_LOCAL) !== 0 && sub.client.id === this.publisher) return;
    const num = bits >>> CLIENT_SHIFT;
    const out = this.out;
    const slot = this.marks[num]! - this.base;
    if (slot < 0) {
      const n = this.n;
      this.marks[num] = this.base + n;
      if (n < out.length) out[n] = sub;
      else out.push(sub);
      this.n = n + 1;
      return;
    }
    this.merge(slot, sub);
  }

  /** The same client again: fold into one delivery. [MQTT-3.3.4-2] */
  merge(slot: number, sub: Sub<C>): void {
    const out = this.out;
    const prior = out[slot]!;
    if (prior instanceof MergedMatch) prior.add(sub);
    else {
      const merged = new MergedMatch(prior as Sub<C>);
      merged.add(sub);
      out[slot] = merged;
    }
  }
}

/** Largest base before the marks start over (a walk adds at most its match count to it). */
const MAX_BASE = 0x3fffffff;

/** Fills released group slots, so the buffer keeps no group alive and one element kind. */
const EMPTY_GROUP: ShareGroup<never> = Object.freeze({
  shareName: '',
  topicFilter: '',
  members: [],
  cursor: 0,
});
