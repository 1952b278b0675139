import { hashLevel, KidTable, packHigh, packLow } from './kid-table.js';
import { type ClientEntry, Group, INDEX_THRESHOLD, Sub, SubList } from './subscription.js';

/**
 * One topic level. Everything a node may hold is created only when needed, and a node with a single
 * literal child keeps it directly instead of in a table (most levels of real topic trees have one):
 *
 *   key, keyHash  "device", fnv1a("device")   the level this node stands for
 *   kid, kidHash  Node, its keyHash            the only literal child; its hash is kept here so
 *                                              that a topic level that differs never loads the child
 *   kids    KidTable                         literal children, when two or more
 *   plus    Node                             child for '+'
 *   hash    Node                             child for '#' (a leaf: only subs/shared are used)
 *   subs    Sub | SubList                    normal subscriptions ending here: one inline, a list from two
 *   shared  Map<ShareName, Group>            shared subscriptions whose inner filter ends here
 */
export class Node<C> {
  readonly key: string;
  readonly keyHash: number;
  /** The key packed (see packLow): compared to a topic level without reading the key string. */
  readonly packLo: number;
  readonly packHi: number;
  kid: Node<C> | undefined = undefined;
  kidHash = 0;
  kids: KidTable<Node<C>> | undefined = undefined;
  plus: Node<C> | undefined = undefined;
  hash: Node<C> | undefined = undefined;
  subs: Sub<C> | SubList<C> | undefined = undefined;
  shared: Map<string, Group<C>> | undefined = undefined;

  constructor(key: string) {
    this.key = key;
    this.keyHash = hashLevel(key);
    this.packLo = packLow(key);
    this.packHi = packHigh(key);
  }
}

/**
 * The subscribers of one filter without wildcards, stored in the trie's exact index under the whole
 * filter string: a topic finds them with one hash lookup instead of a walk, and they cost no nodes.
 */
export class Leaf<C> {
  readonly key: string;
  subs: Sub<C> | SubList<C> | undefined = undefined;
  shared: Map<string, Group<C>> | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }

  /**
   * Derived, not stored: the exact index keeps every leaf's hash next to it already, and only needs
   * this when it grows or removes a leaf. Saves a field on the most numerous object after Sub.
   */
  get keyHash(): number {
    return hashLevel(this.key);
  }
}

/** Where subscriptions of one filter are kept: a trie node or an exact-index leaf. */
export type Holder<C> = Node<C> | Leaf<C>;

export function kid<C>(node: Node<C>, key: string): Node<C> | undefined {
  const only = node.kid;
  if (only !== undefined) return only.key === key ? only : undefined;
  return node.kids?.get(hashLevel(key), key);
}

export function child<C>(node: Node<C>, level: string): Node<C> {
  if (level === '+') {
    node.plus ??= new Node(level);
    return node.plus;
  }
  if (level === '#') {
    node.hash ??= new Node(level);
    return node.hash;
  }
  const only = node.kid;
  if (only !== undefined) {
    if (only.key === level) return only;
    const made = new Node<C>(level);
    const table = new KidTable<Node<C>>();
    table.add(only);
    table.add(made);
    node.kids = table;
    node.kid = undefined;
    node.kidHash = 0;
    return made;
  }
  const kids = node.kids;
  if (kids === undefined) {
    const made = new Node<C>(level);
    node.kid = made;
    node.kidHash = made.keyHash;
    return made;
  }
  let next = kids.get(hashLevel(level), level);
  if (next === undefined) {
    next = new Node<C>(level);
    kids.add(next);
  }
  return next;
}

export function removeKid<C>(node: Node<C>, gone: Node<C>): void {
  if (node.kid === gone) {
    node.kid = undefined;
    node.kidHash = 0;
    return;
  }
  const kids = node.kids;
  if (kids === undefined) return;
  kids.remove(gone);
  // Back to the inline form when one child is left.
  if (kids.count === 1) {
    const only = kids.first() as Node<C>;
    node.kid = only;
    node.kidHash = only.keyHash;
    node.kids = undefined;
  }
}

export function link<C>(sub: Sub<C>): void {
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

export function unlink<C>(sub: Sub<C>): void {
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
  const n = subs.size;
  for (let k = 0; k < n; k++) if (subs.at(k).client === entry) return k;
  return -1;
}

export function addSub<C>(node: Holder<C>, sub: Sub<C>): Sub<C> | undefined {
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
  const k = indexIn(subs, sub.client);
  if (k >= 0) {
    const old = subs.at(k);
    subs.put(k, sub);
    return old;
  }
  const n = subs.size;
  subs.put(n, sub);
  if (subs.index !== undefined) subs.index.set(sub.client, n);
  else if (n + 1 > INDEX_THRESHOLD) {
    const index = new Map<ClientEntry<C>, number>();
    for (let j = 0; j <= n; j++) index.set(subs.at(j).client, j);
    subs.index = index;
  }
  return undefined;
}

export function removeSub<C>(node: Holder<C>, entry: ClientEntry<C>): Sub<C> | undefined {
  const subs = node.subs;
  if (subs === undefined) return undefined;
  if (subs instanceof Sub) {
    if (subs.client !== entry) return undefined;
    node.subs = undefined;
    return subs;
  }
  const k = indexIn(subs, entry);
  if (k < 0) return undefined;
  const old = subs.at(k);
  // Swap-remove: order inside a node does not matter for delivery.
  const last = subs.pop();
  const size = subs.size;
  if (k < size) {
    subs.put(k, last);
    subs.index?.set(last.client, k);
  }
  subs.index?.delete(entry);
  if (size === 1) node.subs = subs.at(0);
  else if (subs.index !== undefined && size <= INDEX_THRESHOLD / 2) subs.index = undefined;
  return old;
}

export function addMember<C>(
  node: Holder<C>,
  shareName: string,
  inner: string,
  sub: Sub<C>,
): Sub<C> | undefined {
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

export function removeMember<C>(
  node: Holder<C>,
  shareName: string,
  entry: ClientEntry<C>,
): Sub<C> | undefined {
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
