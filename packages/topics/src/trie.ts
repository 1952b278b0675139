import { TopicError } from './errors.js';
import { hashLevel, KidTable, sameLevel } from './kid-table.js';
import type { MatchCache } from './match-cache.js';
import {
  ClientEntry,
  Group,
  INDEX_THRESHOLD,
  MergedMatch,
  NO_IDENTIFIERS,
  NO_LOCAL,
  RETAIN_AS_PUBLISHED,
  Sub,
  SubList,
} from './subscription.js';
import type { Match, MatchResult, ShareGroup, Subscription, SubscriptionOptions } from './types.js';
import { parseSharedFilter, validateTopicFilter } from './validate.js';

const DOLLAR = 0x24;
const SLASH = 0x2f;
const SHARE_PREFIX = '$share/';
const MAX_SUBSCRIPTION_IDENTIFIER = 268_435_455;
const NO_GROUPS: readonly ShareGroup<never>[] = Object.freeze([]);
const NO_PUBLISHER: unique symbol = Symbol('no publisher');

/**
 * One topic level. Everything a node may hold is created only when needed, and a node with a single
 * child keeps it directly instead of in a table (most levels of real topic trees have one child):
 *
 *   key, keyHash  "device", fnv1a("device")   the level this node stands for
 *   kids    Node | KidTable                  literal children: one inline, a hash table from two
 *   plus    Node                             child for '+'
 *   hash    Node                             child for '#' (a leaf: only subs/shared are used)
 *   subs    Sub | SubList                    normal subscriptions ending here: one inline, a list from two
 *   shared  Map<ShareName, Group>            shared subscriptions whose inner filter ends here
 */
class Node<C> {
  readonly key: string;
  readonly keyHash: number;
  kids: Node<C> | KidTable<Node<C>> | undefined = undefined;
  plus: Node<C> | undefined = undefined;
  hash: Node<C> | undefined = undefined;
  subs: Sub<C> | SubList<C> | undefined = undefined;
  shared: Map<string, Group<C>> | undefined = undefined;

  constructor(key: string) {
    this.key = key;
    this.keyHash = hashLevel(key);
  }
}

/**
 * The subscribers of one filter without wildcards, stored in the trie's exact index under the whole
 * filter string: a topic finds them with one hash lookup instead of a walk, and they cost no nodes.
 */
class Leaf<C> {
  readonly key: string;
  readonly keyHash: number;
  subs: Sub<C> | SubList<C> | undefined = undefined;
  shared: Map<string, Group<C>> | undefined = undefined;

  constructor(key: string) {
    this.key = key;
    this.keyHash = hashLevel(key);
  }
}

/** Where subscriptions of one filter are kept: a trie node or an exact-index leaf. */
type Holder<C> = Node<C> | Leaf<C>;

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
 */
export class SubscriptionTrie<TClientId = string> {
  #root = new Node<TClientId>('');
  /** Filters without wildcards, by whole filter string. */
  #exact = new KidTable<Leaf<TClientId>>();
  #clients = new Map<TClientId, ClientEntry<TClientId>>();
  #size = 0;
  #version = 0;
  #noLocal = 0;
  #maxLevels: number;
  #allowShared: boolean;
  // State of the walk in progress, kept on the instance so the recursion passes only (node, level).
  #epoch = 0;
  #topic = '';
  /** Level i of the topic being matched is #topic[#starts[i], #starts[i + 1] - 1), hash #hashes[i]. */
  #starts: Int32Array<ArrayBuffer> = new Int32Array(64);
  #hashes: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Hash of the whole topic, for the exact index. */
  #full = 0;
  #count = 0;
  #out: Match<TClientId>[] = [];
  #groups: Group<TClientId>[] | undefined = undefined;
  #wantShared = false;
  #publisher: TClientId | typeof NO_PUBLISHER = NO_PUBLISHER;

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
      }
      node = leaf;
    } else {
      let at = this.#root;
      for (const level of inner.split('/')) at = child(at, level);
      node = at;
    }

    let entry = this.#clients.get(clientId);
    if (entry === undefined) {
      entry = new ClientEntry(clientId);
      this.#clients.set(clientId, entry);
    }
    const sub = new Sub(entry, topicFilter, bits, id === undefined ? NO_IDENTIFIERS : [id]);
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
    this.#wantShared = false;
    return this.#run(topicName, publisherId);
  }

  /**
   * One walk for a PUBLISH: the normal subscribers as {@link match} returns them, plus every
   * matching share group (one per ShareName + filter), each to receive one copy, sent to the one
   * member a {@link ShareStrategy} picks. A client with both a shared and a normal matching
   * subscription appears in both: the two copies are distinct deliveries (section 4.8.2).
   */
  matchAll(topicName: string, publisherId?: TClientId): MatchResult<TClientId> {
    this.#wantShared = true;
    const matches = this.#run(topicName, publisherId);
    const groups = this.#groups;
    this.#groups = undefined;
    return { matches, shared: groups ?? NO_GROUPS };
  }

  #run(topicName: string, publisherId: TClientId | undefined): Match<TClientId>[] {
    this.#scan(topicName);
    const out: Match<TClientId>[] = [];
    this.#epoch++;
    this.#out = out;
    this.#publisher = publisherId === undefined ? NO_PUBLISHER : publisherId;
    if (this.#exact.count > 0) {
      const leaf = this.#exact.find(this.#full, topicName, 0, topicName.length);
      if (leaf !== undefined) this.#collect(leaf);
    }
    const root = this.#root;
    // [MQTT-4.7.2-1] a topic starting with '$' skips the root's wildcard children.
    if (topicName.charCodeAt(0) !== DOLLAR) {
      if (root.hash !== undefined) this.#collect(root.hash);
      if (root.plus !== undefined) this.#walk(root.plus, 1);
    }
    const next = this.#literal(root, 0);
    if (next !== undefined) this.#walk(next, 1);
    this.#out = [];
    this.#topic = '';
    return out;
  }

  /** Splits the topic into level offsets and hashes, into buffers reused from call to call. */
  #scan(topicName: string): void {
    let starts = this.#starts;
    let hashes = this.#hashes;
    let level = 0;
    let h = 0x811c9dc5 | 0;
    let full = h;
    starts[0] = 0;
    const n = topicName.length;
    for (let i = 0; i < n; i++) {
      const c = topicName.charCodeAt(i);
      full = Math.imul(full ^ c, 0x01000193);
      if (c === SLASH) {
        hashes[level] = h;
        level++;
        if (level + 1 >= starts.length) {
          starts = grow(starts);
          hashes = grow(hashes);
          this.#starts = starts;
          this.#hashes = hashes;
        }
        starts[level] = i + 1;
        h = 0x811c9dc5 | 0;
      } else {
        h = Math.imul(h ^ c, 0x01000193);
      }
    }
    hashes[level] = h;
    starts[level + 1] = n + 1;
    this.#count = level + 1;
    this.#full = full;
    this.#topic = topicName;
  }

  /** The literal child of `node` for topic level `i`. */
  #literal(node: Node<TClientId>, i: number): Node<TClientId> | undefined {
    const kids = node.kids;
    if (kids === undefined) return undefined;
    const start = this.#starts[i]!;
    const length = this.#starts[i + 1]! - 1 - start;
    const hash = this.#hashes[i]!;
    if (kids instanceof Node) {
      return kids.keyHash === hash && sameLevel(kids.key, this.#topic, start, length) ? kids : undefined;
    }
    return kids.find(hash, this.#topic, start, length);
  }

  #walk(node: Node<TClientId>, i: number): void {
    // '#' below this node matches this level too: "a/#" matches "a". [MQTT-4.7.1-1]
    if (node.hash !== undefined) this.#collect(node.hash);
    if (i === this.#count) {
      this.#collect(node);
      return;
    }
    const next = this.#literal(node, i);
    if (next !== undefined) this.#walk(next, i + 1);
    if (node.plus !== undefined) this.#walk(node.plus, i + 1);
  }

  #collect(node: Holder<TClientId>): void {
    const subs = node.subs;
    if (subs !== undefined) {
      if (subs instanceof Sub) this.#emit(subs);
      else {
        const list = subs.list;
        for (let i = 0; i < list.length; i++) this.#emit(list[i]!);
      }
    }
    if (this.#wantShared && node.shared !== undefined) {
      this.#groups ??= [];
      for (const group of node.shared.values()) this.#groups.push(group);
    }
  }

  #emit(sub: Sub<TClientId>): void {
    const entry = sub.client;
    // [MQTT-3.8.3-3]
    if ((sub.bits & NO_LOCAL) !== 0 && entry.id === this.#publisher) return;
    if (entry.epoch !== this.#epoch) {
      entry.epoch = this.#epoch;
      entry.slot = this.#out.length;
      this.#out.push(sub);
      return;
    }
    // The same client again: fold into one delivery. [MQTT-3.3.4-2]
    const prior = this.#out[entry.slot]!;
    if (prior instanceof MergedMatch) prior.add(sub);
    else {
      const merged = new MergedMatch(prior as Sub<TClientId>);
      merged.add(sub);
      this.#out[entry.slot] = merged;
    }
  }

  #forget(entry: ClientEntry<TClientId>, old: Sub<TClientId>): void {
    unlink(old);
    this.#size--;
    this.#version++;
    if ((old.bits & NO_LOCAL) !== 0) this.#noLocal--;
    if (entry.count === 0) this.#clients.delete(entry.id);
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
      if (leaf.subs === undefined && leaf.shared === undefined) this.#exact.remove(leaf);
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
      if (n.kids !== undefined || n.plus !== undefined || n.hash !== undefined) break;
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

function kid<C>(node: Node<C>, key: string): Node<C> | undefined {
  const kids = node.kids;
  if (kids === undefined) return undefined;
  if (kids instanceof Node) return kids.key === key ? kids : undefined;
  return kids.get(hashLevel(key), key);
}

function child<C>(node: Node<C>, level: string): Node<C> {
  if (level === '+') {
    node.plus ??= new Node(level);
    return node.plus;
  }
  if (level === '#') {
    node.hash ??= new Node(level);
    return node.hash;
  }
  const kids = node.kids;
  if (kids === undefined) {
    const made = new Node<C>(level);
    node.kids = made;
    return made;
  }
  if (kids instanceof Node) {
    if (kids.key === level) return kids;
    const made = new Node<C>(level);
    const table = new KidTable<Node<C>>();
    table.add(kids);
    table.add(made);
    node.kids = table;
    return made;
  }
  let next = kids.get(hashLevel(level), level);
  if (next === undefined) {
    next = new Node<C>(level);
    kids.add(next);
  }
  return next;
}

function removeKid<C>(node: Node<C>, gone: Node<C>): void {
  const kids = node.kids;
  if (kids === undefined) return;
  if (kids instanceof Node) {
    if (kids === gone) node.kids = undefined;
    return;
  }
  kids.remove(gone);
  // Back to the inline form when one child is left.
  if (kids.count === 1) node.kids = kids.first();
}

function grow(buffer: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(buffer.length * 2);
  bigger.set(buffer);
  return bigger;
}

function link<C>(sub: Sub<C>): void {
  const entry = sub.client;
  const head = entry.head;
  // New subscriptions go to the tail so subscriptionsOf lists them oldest first; the head's prev
  // points at the tail to make that O(1).
  if (head === undefined) {
    entry.head = sub;
    sub.prev = sub;
  } else {
    const tail = head.prev!;
    tail.next = sub;
    sub.prev = tail;
    head.prev = sub;
  }
  sub.next = undefined;
  entry.count++;
}

function unlink<C>(sub: Sub<C>): void {
  const entry = sub.client;
  const head = entry.head!;
  if (sub === head) {
    entry.head = sub.next;
    if (sub.next !== undefined) sub.next.prev = sub.prev;
  } else {
    sub.prev!.next = sub.next;
    if (sub.next !== undefined) sub.next.prev = sub.prev;
    else head.prev = sub.prev;
  }
  sub.prev = undefined;
  sub.next = undefined;
  entry.count--;
}

function indexIn<C>(subs: SubList<C>, entry: ClientEntry<C>): number {
  if (subs.index !== undefined) return subs.index.get(entry) ?? -1;
  const list = subs.list;
  for (let i = 0; i < list.length; i++) if (list[i]!.client === entry) return i;
  return -1;
}

function addSub<C>(node: Holder<C>, sub: Sub<C>): Sub<C> | undefined {
  const subs = node.subs;
  if (subs === undefined) {
    node.subs = sub;
    return undefined;
  }
  if (subs instanceof Sub) {
    if (subs.client === sub.client) {
      node.subs = sub;
      return subs;
    }
    node.subs = new SubList(subs, sub);
    return undefined;
  }
  const i = indexIn(subs, sub.client);
  const list = subs.list;
  if (i >= 0) {
    const old = list[i]!;
    list[i] = sub;
    return old;
  }
  list.push(sub);
  if (subs.index !== undefined) subs.index.set(sub.client, list.length - 1);
  else if (list.length > INDEX_THRESHOLD) subs.index = new Map(list.map((s, j) => [s.client, j]));
  return undefined;
}

function removeSub<C>(node: Holder<C>, entry: ClientEntry<C>): Sub<C> | undefined {
  const subs = node.subs;
  if (subs === undefined) return undefined;
  if (subs instanceof Sub) {
    if (subs.client !== entry) return undefined;
    node.subs = undefined;
    return subs;
  }
  const i = indexIn(subs, entry);
  if (i < 0) return undefined;
  const list = subs.list;
  const old = list[i]!;
  // Swap-remove: order inside a node does not matter for delivery.
  const last = list.pop()!;
  if (i < list.length) {
    list[i] = last;
    subs.index?.set(last.client, i);
  }
  subs.index?.delete(entry);
  if (list.length === 1) node.subs = list[0];
  else if (subs.index !== undefined && list.length <= INDEX_THRESHOLD / 2) subs.index = undefined;
  return old;
}

function addMember<C>(node: Holder<C>, shareName: string, inner: string, sub: Sub<C>): Sub<C> | undefined {
  node.shared ??= new Map();
  let group = node.shared.get(shareName);
  if (group === undefined) {
    group = new Group(shareName, inner);
    node.shared.set(shareName, group);
  }
  const members = group.members;
  for (let i = 0; i < members.length; i++) {
    if (members[i]!.client === sub.client) {
      const old = members[i]!;
      members[i] = sub;
      return old;
    }
  }
  members.push(sub);
  return undefined;
}

function removeMember<C>(node: Holder<C>, shareName: string, entry: ClientEntry<C>): Sub<C> | undefined {
  const group = node.shared?.get(shareName);
  if (group === undefined) return undefined;
  const members = group.members;
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    if (member.client !== entry) continue;
    members.splice(i, 1);
    // Keep the round-robin position on the member that was next.
    if (i < group.cursor) group.cursor--;
    if (members.length === 0) {
      node.shared!.delete(shareName);
      if (node.shared!.size === 0) node.shared = undefined;
    }
    return member;
  }
  return undefined;
}
