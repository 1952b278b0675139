import type { Match, QoS, RetainHandling, ShareGroup, Subscription } from './types.js';

// Options packed into one small integer so a stored subscription stays small:
// bits 0-1 qos, bit 2 noLocal, bit 3 retainAsPublished, bits 4-5 retainHandling, and from bit 8 on
// the client's number (see ClientEntry.num), so the match walk reads it without touching the entry.
export const NO_LOCAL = 4;
export const RETAIN_AS_PUBLISHED = 8;
export const CLIENT_SHIFT = 8;
/** Client numbers must fit the bits left in a small integer. */
export const MAX_CLIENTS = 1 << 23;

export const NO_IDENTIFIERS: readonly number[] = Object.freeze([]);

/**
 * Per-client bookkeeping of one trie: the client's subscriptions as a doubly linked list (O(1)
 * removal, no per-client Map), and the number under which the walker marks the client to merge its
 * overlapping subscriptions without a lookup table.
 */
export class ClientEntry<C> {
  readonly id: C;
  /** Small integer, unique among the trie's current clients: indexes the walker's per-client marks. */
  readonly num: number;
  head: Sub<C> | undefined = undefined;
  count = 0;

  constructor(id: C, num: number) {
    this.id = id;
    this.num = num;
  }
}

/**
 * A stored subscription. It is immutable once made (re-subscribing creates a new one), so it doubles
 * as the {@link Match} for a client with a single matching subscription: the common case costs no
 * allocation per delivery.
 */
export class Sub<C> implements Match<C>, Subscription<C> {
  /** False on the prototype: tells one inline subscriber from a SubList without instanceof. */
  declare readonly isList: false;
  readonly client: ClientEntry<C>;
  readonly topicFilter: string;
  readonly bits: number;
  readonly subscriptionIdentifiers: readonly number[];
  prev: Sub<C> | undefined = undefined;
  next: Sub<C> | undefined = undefined;

  constructor(client: ClientEntry<C>, topicFilter: string, bits: number, identifiers: readonly number[]) {
    this.client = client;
    this.topicFilter = topicFilter;
    this.bits = bits;
    this.subscriptionIdentifiers = identifiers;
  }

  get clientId(): C {
    return this.client.id;
  }
  get qos(): QoS {
    return (this.bits & 3) as QoS;
  }
  get noLocal(): boolean {
    return (this.bits & NO_LOCAL) !== 0;
  }
  get retainAsPublished(): boolean {
    return (this.bits & RETAIN_AS_PUBLISHED) !== 0;
  }
  get retainHandling(): RetainHandling {
    return ((this.bits >> 4) & 3) as RetainHandling;
  }
  get subscriptionIdentifier(): number | undefined {
    return this.subscriptionIdentifiers[0];
  }
  get shareName(): string | undefined {
    // Only called off the hot path (introspection), so it is derived rather than stored.
    if (!this.topicFilter.startsWith('$share/')) return undefined;
    return this.topicFilter.slice(7, this.topicFilter.indexOf('/', 7));
  }
}

/** A client's overlapping matching subscriptions folded into one delivery (see {@link Match}). */
export class MergedMatch<C> implements Match<C> {
  readonly clientId: C;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subscriptionIdentifiers: number[];

  constructor(first: Sub<C>) {
    this.clientId = first.client.id;
    this.qos = first.qos;
    this.noLocal = first.noLocal;
    this.retainAsPublished = first.retainAsPublished;
    this.subscriptionIdentifiers = first.subscriptionIdentifiers.slice();
  }

  add(sub: Sub<C>): void {
    const q = sub.bits & 3;
    if (q > this.qos) this.qos = q as QoS; // [MQTT-3.3.4-2]
    if ((sub.bits & NO_LOCAL) === 0) this.noLocal = false;
    if ((sub.bits & RETAIN_AS_PUBLISHED) !== 0) this.retainAsPublished = true;
    const ids = sub.subscriptionIdentifiers;
    // One copy carries the identifiers of all matching subscriptions. [MQTT-3.3.4-4]
    for (let i = 0; i < ids.length; i++) this.subscriptionIdentifiers.push(ids[i]!);
  }
}

/**
 * Subscribers of one node when there are several: a dense array for the match loop, each
 * subscription's packed options (`Sub.bits`) stored next to it, `[bits0, sub0, bits1, sub1, ...]`.
 * The walk decides from the bits alone (client number for the per-client merge, No Local) and only
 * copies the reference out, so it reads one cache line for several subscribers instead of touching
 * every subscription object.
 */
export class SubList<C> {
  /** True on the prototype (see Sub.isList). */
  declare readonly isList: true;
  readonly pairs: (number | Sub<C>)[];
  /**
   * Pair number (`pairs[2k + 1]` is the subscription) by client; built only once the list is long,
   * so unsubscribing from a popular filter stays O(1).
   */
  index: Map<ClientEntry<C>, number> | undefined = undefined;

  constructor(a: Sub<C>, b: Sub<C>) {
    this.pairs = [a.bits, a, b.bits, b];
  }

  /** Number of subscriptions. */
  get size(): number {
    return this.pairs.length >> 1;
  }

  /** Subscription number `k`. */
  at(k: number): Sub<C> {
    return this.pairs[2 * k + 1] as Sub<C>;
  }

  /** Stores `sub` as subscription number `k` (k = size appends). */
  put(k: number, sub: Sub<C>): void {
    const pairs = this.pairs;
    if (2 * k < pairs.length) {
      pairs[2 * k] = sub.bits;
      pairs[2 * k + 1] = sub;
    } else pairs.push(sub.bits, sub);
  }

  /** Removes and returns the last subscription. */
  pop(): Sub<C> {
    const sub = this.pairs.pop() as Sub<C>;
    this.pairs.pop();
    return sub;
  }
}

Object.defineProperty(Sub.prototype, 'isList', { value: false });
Object.defineProperty(SubList.prototype, 'isList', { value: true });

/** Lists with at most this many members are searched linearly; longer ones get an index. */
export const INDEX_THRESHOLD = 16;

/** One shared subscription: ShareName + filter, with its members. */
export class Group<C> implements ShareGroup<C> {
  readonly shareName: string;
  readonly topicFilter: string;
  readonly members: Sub<C>[] = [];
  cursor = 0;

  constructor(shareName: string, topicFilter: string) {
    this.shareName = shareName;
    this.topicFilter = topicFilter;
  }
}
