import { TopicError } from './errors.js';
import { HashFilter } from './hash-filter.js';
import { hashLevel, KidTable } from './kid-table.js';
import type { MatchCache } from './match-cache.js';
import {
  addMember,
  addSub,
  child,
  type Holder,
  kid,
  Leaf,
  link,
  Node,
  removeKid,
  removeMember,
  removeSub,
  unlink,
} from './nodes.js';
import {
  CLIENT_SHIFT,
  ClientEntry,
  type Group,
  MAX_CLIENTS,
  NO_IDENTIFIERS,
  NO_LOCAL,
  RETAIN_AS_PUBLISHED,
  Sub,
} from './subscription.js';
import type { Match, MatchResult, ShareGroup, Subscription, SubscriptionOptions } from './types.js';
import { parseSharedFilter, validateTopicFilter } from './validate.js';
import { NO_PUBLISHER, Walker } from './walker.js';

const SHARE_PREFIX = '$share/';
const MAX_SUBSCRIPTION_IDENTIFIER = 268_435_455;
const NO_GROUPS: readonly ShareGroup<never>[] = Object.freeze([]);

/**
 * Reusable output of {@link SubscriptionTrie.matchInto}: valid entries are `matches[0, count)` and
 * `shared[0, sharedCount)`; entries past the counts are left over from earlier calls. Keep one per
 * PUBLISH loop (or per connection) and pass it every time.
 */
export class MatchBuffer<TClientId = string> {
  readonly matches: Match<TClientId>[] = [];
  count = 0;
  readonly shared: ShareGroup<TClientId>[] = [];
  sharedCount = 0;

  /** Drops every reference the buffer holds (the subscriptions of the last matches). */
  clear(): void {
    this.matches.length = 0;
    this.shared.length = 0;
    this.count = 0;
    this.sharedCount = 0;
  }
}

/** Options of {@link SubscriptionTrie}. */
export interface SubscriptionTrieOptions {
  /** Most levels a subscribed filter may have; bounds the depth of every walk. Default: 1024. */
  maxLevels?: number;
  /** Accept `$share/{ShareName}/{filter}` subscriptions. Default: true. */
  allowShared?: boolean;
}

/**
 * All subscriptions of a broker, indexed by topic level for matching PUBLISH topics.
 *
 * - `+` matches exactly one level, an empty one included; `#` matches its parent level and any
 *   number of levels below; a filter starting with a wildcard does not match a topic starting
 *   with `$` [MQTT-4.7.2-1].
 * - A client has at most one subscription per filter: subscribing again replaces it [MQTT-3.8.4-3].
 * - `match` folds a client's overlapping subscriptions into one {@link Match} (see there for how
 *   options combine); shared subscriptions are kept apart and reported per group by `matchAll`.
 *
 * `TClientId` is whatever identifies a session for the caller (a string client id, a session object).
 *
 * Layout: filters without wildcards skip the trie; the rest are a trie of levels.
 *
 *   #exact  table by whole filter ──► Leaf "site/1/device/7/temp" ── subs: Sub | SubList
 *   #root   Node ""
 *            ├─ kids "site" ──► Node ── kids "1" ──► Node ── hash ──► Node "#"    site/1/#
 *            │                   └─ plus ──► Node ── kids "device" ──► Node ── plus ──► ...
 *            └─ hash ──► Node "#"                                                  #
 *   #clients  clientId ──► ClientEntry ── head ──► Sub ⇄ Sub ⇄ Sub   (that client's subscriptions)
 */
export class SubscriptionTrie<TClientId = string> {
  #root = new Node<TClientId>('');
  /** Filters without wildcards, by whole filter string. */
  #exact = new KidTable<Leaf<TClientId>>();
  /** Which whole-topic hashes may have an entry in #exact (see HashFilter). */
  #exactFilter = new HashFilter();
  /** Exact filters removed since #exactFilter was last rebuilt (their bits are stale). */
  #exactRemoved = 0;
  #clients = new Map<TClientId, ClientEntry<TClientId>>();
  #size = 0;
  #version = 0;
  #noLocal = 0;
  #maxLevels: number;
  #allowShared: boolean;
  #walker = new Walker<TClientId>();
  #nextNumber = 0;
  #freeNumbers: number[] = [];

  constructor(options: SubscriptionTrieOptions = {}) {
    this.#maxLevels = options.maxLevels ?? 1024;
    this.#allowShared = options.allowShared ?? true;
  }

  /** Number of stored subscriptions, shared ones included. */
  get size(): number {
    return this.#size;
  }

  /** Increases on every change; lets caches (see {@link MatchCache}) know they are stale. */
  get version(): number {
    return this.#version;
  }

  /** Number of stored subscriptions with No Local set. */
  get noLocalCount(): number {
    return this.#noLocal;
  }

  /** Number of clients with at least one subscription. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /**
   * Adds a subscription, or replaces the client's subscription to the same filter [MQTT-3.8.4-3].
   * Returns the replaced subscription, or undefined when the subscription is new (what Retain
   * Handling 1 needs to know).
   * @throws {TopicError} for an invalid filter or option (`reasonCode` says what to answer in SUBACK).
   */
  subscribe(
    clientId: TClientId,
    topicFilter: string,
    options?: SubscriptionOptions,
  ): Subscription<TClientId> | undefined {
    let shareName: string | undefined;
    let inner = topicFilter;
    if (topicFilter.startsWith(SHARE_PREFIX)) {
      if (!this.#allowShared) throw new TopicError('SHARED_NOT_SUPPORTED', topicFilter);
      const parsed = parseSharedFilter(topicFilter, { maxLevels: this.#maxLevels })!;
      shareName = parsed.shareName;
      inner = parsed.topicFilter;
    } else {
      validateTopicFilter(topicFilter, { maxLevels: this.#maxLevels });
    }
    const bits = encodeOptions(options, topicFilter);
    // [MQTT-3.8.3-4]
    if (shareName !== undefined && (bits & NO_LOCAL) !== 0)
      throw new TopicError('SHARED_NO_LOCAL', topicFilter);
    const id = options?.subscriptionIdentifier;

    let node: Holder<TClientId>;
    if (isExact(inner)) {
      const hash = hashLevel(inner);
      let leaf = this.#exact.get(hash, inner);
      if (leaf === undefined) {
        leaf = new Leaf(inner);
        this.#exact.add(leaf);
        if (!this.#exactFilter.add(hash)) this.#rebuildExactFilter();
      }
      node = leaf;
    } else {
      let at = this.#root;
      for (const level of inner.split('/')) at = child(at, level);
      node = at;
    }

    let entry = this.#clients.get(clientId);
    if (entry === undefined) {
      entry = new ClientEntry(clientId, this.#takeNumber());
      this.#clients.set(clientId, entry);
    }
    const sub = new Sub(
      entry,
      topicFilter,
      bits | (entry.num << CLIENT_SHIFT),
      id === undefined ? NO_IDENTIFIERS : [id],
    );
    const old = shareName === undefined ? addSub(node, sub) : addMember(node, shareName, inner, sub);
    if (old === undefined) this.#size++;
    else {
      unlink(old);
      if ((old.bits & NO_LOCAL) !== 0) this.#noLocal--;
    }
    if ((bits & NO_LOCAL) !== 0) this.#noLocal++;
    link(sub);
    this.#version++;
    return old;
  }

  /**
   * Removes the client's subscription to exactly this filter (`$share/...` included).
   * Returns false when there was none.
   */
  unsubscribe(clientId: TClientId, topicFilter: string): boolean {
    const entry = this.#clients.get(clientId);
    return entry !== undefined && this.#remove(entry, topicFilter);
  }

  /** The client's subscription to exactly this filter, if any. */
  get(clientId: TClientId, topicFilter: string): Subscription<TClientId> | undefined {
    for (let s = this.#clients.get(clientId)?.head; s !== undefined; s = s.next) {
      if (s.topicFilter === topicFilter) return s;
    }
    return undefined;
  }

  /** Every subscription of one client, shared ones included, oldest first. */
  subscriptionsOf(clientId: TClientId): Subscription<TClientId>[] {
    const out: Subscription<TClientId>[] = [];
    for (let s = this.#clients.get(clientId)?.head; s !== undefined; s = s.next) out.push(s);
    return out;
  }

  /** Drops all of a client's subscriptions (session ended). Returns how many there were. */
  removeClient(clientId: TClientId): number {
    const entry = this.#clients.get(clientId);
    if (entry === undefined) return 0;
    const count = entry.count;
    while (entry.head !== undefined) this.#remove(entry, entry.head.topicFilter);
    return count;
  }

  /** The ids of all clients that have subscriptions. */
  clients(): IterableIterator<TClientId> {
    return this.#clients.keys();
  }

  /**
   * The normal (non-shared) subscribers of `topicName`, one {@link Match} per client. When
   * `publisherId` is given, that client's No Local subscriptions are skipped [MQTT-3.8.3-3].
   * `topicName` must be a valid topic name; it is not validated here (hot path).
   */
  match(topicName: string, publisherId?: TClientId): Match<TClientId>[] {
    const walker = this.#walker;
    walker.wantShared = false;
    this.#run(topicName, publisherId);
    return walker.take();
  }

  /**
   * One walk for a PUBLISH: the normal subscribers as {@link match} returns them, plus every
   * matching share group (one per ShareName + filter), each to receive one copy, sent to the one
   * member a {@link ShareStrategy} picks. A client with both a shared and a normal matching
   * subscription appears in both: the two copies are distinct deliveries (section 4.8.2).
   */
  matchAll(topicName: string, publisherId?: TClientId): MatchResult<TClientId> {
    const walker = this.#walker;
    walker.wantShared = true;
    this.#run(topicName, publisherId);
    const matches = walker.take();
    return { matches, shared: walker.takeGroups() ?? NO_GROUPS };
  }

  /**
   * {@link matchAll} without allocating: the walk writes straight into `buffer`, which the caller
   * keeps and passes again for every PUBLISH. Returns `buffer.count`.
   */
  matchInto(topicName: string, buffer: MatchBuffer<TClientId>, publisherId?: TClientId): number {
    const walker = this.#walker;
    walker.wantShared = true;
    walker.out = buffer.matches;
    walker.groups = buffer.shared as Group<TClientId>[];
    try {
      this.#run(topicName, publisherId);
    } finally {
      buffer.count = walker.n;
      buffer.sharedCount = walker.groupCount;
      walker.out = walker.own;
      walker.groups = walker.ownGroups;
      walker.n = 0;
      walker.groupCount = 0;
    }
    return buffer.count;
  }

  #forget(entry: ClientEntry<TClientId>, old: Sub<TClientId>): void {
    unlink(old);
    this.#size--;
    this.#version++;
    if ((old.bits & NO_LOCAL) !== 0) this.#noLocal--;
    if (entry.count === 0) {
      this.#clients.delete(entry.id);
      this.#freeNumbers.push(entry.num);
    }
  }

  #takeNumber(): number {
    const reused = this.#freeNumbers.pop();
    if (reused !== undefined) return reused;
    const num = this.#nextNumber++;
    if (num >= MAX_CLIENTS) throw new RangeError(`more than ${MAX_CLIENTS} clients with subscriptions`);
    this.#walker.reserve(num);
    return num;
  }

  /** One walk of the trie for `topicName`, into whatever output the walker is set to. */
  #run(topicName: string, publisherId: TClientId | undefined): void {
    this.#walker.run(
      this.#root,
      this.#exact,
      this.#exactFilter,
      topicName,
      publisherId === undefined ? NO_PUBLISHER : publisherId,
    );
  }

  #rebuildExactFilter(): void {
    const slots = this.#exact.slots;
    const hashes: number[] = [];
    for (let i = 0; i < slots.length; i += 2) if (slots[i + 1] !== undefined) hashes.push(slots[i] as number);
    this.#exactFilter.rebuild(hashes);
    this.#exactRemoved = 0;
  }

  #remove(entry: ClientEntry<TClientId>, topicFilter: string): boolean {
    let shareName: string | undefined;
    let inner = topicFilter;
    if (topicFilter.startsWith(SHARE_PREFIX)) {
      const slash = topicFilter.indexOf('/', SHARE_PREFIX.length);
      if (slash === -1) return false;
      shareName = topicFilter.slice(SHARE_PREFIX.length, slash);
      inner = topicFilter.slice(slash + 1);
    }
    if (isExact(inner)) {
      const leaf = this.#exact.get(hashLevel(inner), inner);
      if (leaf === undefined) return false;
      const gone = shareName === undefined ? removeSub(leaf, entry) : removeMember(leaf, shareName, entry);
      if (gone === undefined) return false;
      if (leaf.subs === undefined && leaf.shared === undefined) {
        this.#exact.remove(leaf);
        if (++this.#exactRemoved > this.#exact.count + 1024) this.#rebuildExactFilter();
      }
      this.#forget(entry, gone);
      return true;
    }
    const levels = inner.split('/');
    const path: Node<TClientId>[] = [this.#root];
    let node = this.#root;
    for (const level of levels) {
      const next = level === '+' ? node.plus : level === '#' ? node.hash : kid(node, level);
      if (next === undefined) return false;
      path.push(next);
      node = next;
    }
    const old = shareName === undefined ? removeSub(node, entry) : removeMember(node, shareName, entry);
    if (old === undefined) return false;
    this.#forget(entry, old);
    // Prune the nodes left empty, deepest first.
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.kid !== undefined || n.kids !== undefined || n.plus !== undefined || n.hash !== undefined) break;
      if (n.subs !== undefined || n.shared !== undefined) break;
      const parent = path[i - 1]!;
      const level = levels[i - 1]!;
      if (level === '+') parent.plus = undefined;
      else if (level === '#') parent.hash = undefined;
      else removeKid(parent, n);
    }
    return true;
  }
}

function isExact(filter: string): boolean {
  return filter.indexOf('+') === -1 && filter.indexOf('#') === -1;
}

function encodeOptions(options: SubscriptionOptions | undefined, topicFilter: string): number {
  if (options === undefined) return 0;
  const qos = options.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2)
    throw new TopicError('INVALID_SUBSCRIPTION_OPTION', topicFilter, undefined, `qos ${qos}`);
  const rh = options.retainHandling ?? 0;
  if (rh !== 0 && rh !== 1 && rh !== 2)
    throw new TopicError('INVALID_SUBSCRIPTION_OPTION', topicFilter, undefined, `retainHandling ${rh}`);
  const id = options.subscriptionIdentifier;
  if (id !== undefined && !(Number.isInteger(id) && id >= 1 && id <= MAX_SUBSCRIPTION_IDENTIFIER))
    throw new TopicError(
      'INVALID_SUBSCRIPTION_OPTION',
      topicFilter,
      undefined,
      `subscriptionIdentifier ${id}`,
    );
  return (
    qos | (options.noLocal ? NO_LOCAL : 0) | (options.retainAsPublished ? RETAIN_AS_PUBLISHED : 0) | (rh << 4)
  );
}
