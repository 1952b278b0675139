import { TopicError } from './errors.js';
import { hashLevel, KidTable } from './kid-table.js';

const DOLLAR = 0x24;
const SHARE_PREFIX = '$share/';

/**
 * One topic level. `topic` is set exactly when a value is stored here (so no separate flag), and a
 * node with one child keeps it inline instead of in a table.
 */
class Node<T> {
  /** False on the prototype (see KidTable.isTable). */
  declare readonly isTable: false;
  readonly key: string;
  readonly keyHash: number;
  kids: Node<T> | KidTable<Node<T>> | undefined = undefined;
  topic: string | undefined = undefined;
  value: T | undefined = undefined;

  constructor(key: string) {
    this.key = key;
    this.keyHash = hashLevel(key);
  }
}
Object.defineProperty(Node.prototype, 'isTable', { value: false });

/** Options of {@link RetainedIndex}. */
export interface RetainedIndexOptions {
  /** Most levels a stored topic may have; bounds the depth of every walk. Default: 1024. */
  maxLevels?: number;
}

/**
 * The retained message of every topic, indexed by topic level so that a subscription's filter finds
 * its retained messages by walking only the matching branches, never by scanning all topics.
 * `T` is whatever the broker keeps per topic (typically the retained PUBLISH).
 *
 * Same rules as {@link SubscriptionTrie}: `+` matches one level (an empty one too), `#` its parent
 * level and everything below, and filters starting with a wildcard skip `$` topics [MQTT-4.7.2-1].
 */
export class RetainedIndex<T> {
  #root = new Node<T>('');
  #size = 0;
  #maxLevels: number;

  constructor(options: RetainedIndexOptions = {}) {
    this.#maxLevels = options.maxLevels ?? 1024;
  }

  /** Number of topics with a retained value. */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `value` as the retained message of `topicName`, replacing any previous one
   * [MQTT-3.3.1-5]. A retained PUBLISH with an empty payload should call {@link delete} instead
   * [MQTT-3.3.1-6]. `topicName` must be a valid topic name (not re-validated here).
   * @throws {TopicError} `TOPIC_NAME_TOO_DEEP` past `maxLevels`.
   */
  set(topicName: string, value: T): void {
    const levels = topicName.split('/');
    if (levels.length > this.#maxLevels)
      throw new TopicError('TOPIC_NAME_TOO_DEEP', topicName, undefined, `${levels.length} levels`);
    let node = this.#root;
    for (const level of levels) node = child(node, level);
    if (node.topic === undefined) this.#size++;
    node.topic = topicName;
    node.value = value;
  }

  /** The retained value of exactly this topic. */
  get(topicName: string): T | undefined {
    return this.#find(topicName)?.value;
  }

  /** Whether this exact topic has a retained value. */
  has(topicName: string): boolean {
    return this.#find(topicName)?.topic !== undefined;
  }

  /** Removes the retained value of `topicName`; returns false when there was none. */
  delete(topicName: string): boolean {
    const levels = topicName.split('/');
    const path: Node<T>[] = [this.#root];
    let node = this.#root;
    for (const level of levels) {
      const next = kid(node, level);
      if (next === undefined) return false;
      path.push(next);
      node = next;
    }
    if (node.topic === undefined) return false;
    node.topic = undefined;
    node.value = undefined;
    this.#size--;
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.kids !== undefined || n.topic !== undefined) break;
      removeKid(path[i - 1]!, n);
    }
    return true;
  }

  /** Removes everything. */
  clear(): void {
    this.#root = new Node<T>('');
    this.#size = 0;
  }

  /**
   * The retained values of every topic that `topicFilter` matches. A `$share/{ShareName}/` prefix is
   * stripped (the inner filter is matched). `topicFilter` must be valid (not re-validated here).
   */
  match(topicFilter: string): T[] {
    const out: T[] = [];
    this.forEachMatch(topicFilter, (value) => {
      out.push(value);
    });
    return out;
  }

  /**
   * Calls `fn(value, topicName)` for every retained topic that `topicFilter` matches, without
   * building an array. `fn` must not change the index (use {@link match} for that).
   */
  forEachMatch(topicFilter: string, fn: (value: T, topicName: string) => void): void {
    let filter = topicFilter;
    if (filter.startsWith(SHARE_PREFIX)) {
      const slash = filter.indexOf('/', SHARE_PREFIX.length);
      if (slash === -1) return;
      filter = filter.slice(slash + 1);
    }
    walk(this.#root, filter.split('/'), 0, fn);
  }

  /** Every `[topicName, value]` pair, in no particular order. */
  *entries(): IterableIterator<[string, T]> {
    const stack: Node<T>[] = [this.#root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.topic !== undefined) yield [node.topic, node.value as T];
      const kids = node.kids;
      if (kids === undefined) continue;
      if (!kids.isTable) stack.push(kids);
      else for (const k of kids.values()) stack.push(k);
    }
  }

  [Symbol.iterator](): IterableIterator<[string, T]> {
    return this.entries();
  }

  #find(topicName: string): Node<T> | undefined {
    let node: Node<T> | undefined = this.#root;
    let from = 0;
    for (;;) {
      const slash = topicName.indexOf('/', from);
      const level = slash === -1 ? topicName.slice(from) : topicName.slice(from, slash);
      node = kid(node, level);
      if (node === undefined || slash === -1) return node;
      from = slash + 1;
    }
  }
}

function walk<T>(
  node: Node<T>,
  levels: string[],
  i: number,
  fn: (value: T, topicName: string) => void,
): void {
  if (i === levels.length) {
    if (node.topic !== undefined) fn(node.value as T, node.topic);
    return;
  }
  const level = levels[i]!;
  if (level === '#') {
    // [MQTT-4.7.1-1] '#' takes the parent level and everything below; at the root, not '$' topics.
    everything(node, i === 0, fn);
    return;
  }
  const kids = node.kids;
  if (kids === undefined) return;
  if (level === '+') {
    // [MQTT-4.7.2-1] a leading '+' skips '$' topics.
    if (!kids.isTable) {
      if (i !== 0 || kids.key.charCodeAt(0) !== DOLLAR) walk(kids, levels, i + 1, fn);
    } else {
      const slots = kids.slots;
      for (let j = 1; j < slots.length; j += 2) {
        const k = slots[j] as Node<T> | undefined;
        if (k !== undefined && (i !== 0 || k.key.charCodeAt(0) !== DOLLAR)) walk(k, levels, i + 1, fn);
      }
    }
    return;
  }
  const next = !kids.isTable ? (kids.key === level ? kids : undefined) : kids.get(hashLevel(level), level);
  if (next !== undefined) walk(next, levels, i + 1, fn);
}

function everything<T>(node: Node<T>, atRoot: boolean, fn: (value: T, topicName: string) => void): void {
  if (node.topic !== undefined) fn(node.value as T, node.topic);
  const kids = node.kids;
  if (kids === undefined) return;
  if (!kids.isTable) {
    if (!atRoot || kids.key.charCodeAt(0) !== DOLLAR) everything(kids, false, fn);
    return;
  }
  const slots = kids.slots;
  for (let j = 1; j < slots.length; j += 2) {
    const k = slots[j] as Node<T> | undefined;
    if (k !== undefined && (!atRoot || k.key.charCodeAt(0) !== DOLLAR)) everything(k, false, fn);
  }
}

function kid<T>(node: Node<T>, key: string): Node<T> | undefined {
  const kids = node.kids;
  if (kids === undefined) return undefined;
  if (!kids.isTable) return kids.key === key ? kids : undefined;
  return kids.get(hashLevel(key), key);
}

function child<T>(node: Node<T>, level: string): Node<T> {
  const kids = node.kids;
  if (kids === undefined) {
    const made = new Node<T>(level);
    node.kids = made;
    return made;
  }
  if (!kids.isTable) {
    if (kids.key === level) return kids;
    const made = new Node<T>(level);
    const table = new KidTable<Node<T>>();
    table.add(kids);
    table.add(made);
    node.kids = table;
    return made;
  }
  const hash = hashLevel(level);
  let next = kids.get(hash, level);
  if (next === undefined) {
    next = new Node<T>(level);
    kids.add(next);
  }
  return next;
}

function removeKid<T>(node: Node<T>, gone: Node<T>): void {
  const kids = node.kids;
  if (kids === undefined) return;
  if (!kids.isTable) {
    if (kids === gone) node.kids = undefined;
    return;
  }
  kids.remove(gone);
  if (kids.count === 1) node.kids = kids.first();
}
