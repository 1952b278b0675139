import type { SessionInfo } from '@x/broker';
import { type ShareGroup, SubscriptionTrie } from '@x/topics';

/**
 * What this node's sessions subscribe to, as a set of topic filters with the sessions holding each.
 * Only the set matters to other nodes: a filter is announced when its first session subscribes and
 * withdrawn when its last one leaves (`onChange`). A filter announced too long is harmless (the
 * node receives a message nobody here wants); one withdrawn too early would lose messages, so
 * removals come from exact events and a periodic rebuild, never from guesses.
 */
export class LocalSummary {
  readonly #byFilter = new Map<string, Set<string>>();
  readonly #byClient = new Map<string, Set<string>>();
  readonly #onChange: (filter: string, present: boolean) => void;

  constructor(onChange: (filter: string, present: boolean) => void) {
    this.#onChange = onChange;
  }

  /** Distinct filters announced. */
  get size(): number {
    return this.#byFilter.size;
  }

  filters(): IterableIterator<string> {
    return this.#byFilter.keys();
  }

  add(clientId: string, filter: string): void {
    let clients = this.#byFilter.get(filter);
    if (clients === undefined) {
      clients = new Set();
      this.#byFilter.set(filter, clients);
      this.#onChange(filter, true);
    }
    clients.add(clientId);
    let filters = this.#byClient.get(clientId);
    if (filters === undefined) {
      filters = new Set();
      this.#byClient.set(clientId, filters);
    }
    filters.add(filter);
  }

  remove(clientId: string, filter: string): void {
    const clients = this.#byFilter.get(filter);
    if (clients === undefined || !clients.delete(clientId)) return;
    const filters = this.#byClient.get(clientId);
    filters?.delete(filter);
    if (filters?.size === 0) this.#byClient.delete(clientId);
    if (clients.size === 0) {
      this.#byFilter.delete(filter);
      this.#onChange(filter, false);
    }
  }

  /** Every filter of a session that ended or left this node. */
  removeClient(clientId: string): void {
    const filters = this.#byClient.get(clientId);
    if (filters === undefined) return;
    for (const filter of [...filters]) this.remove(clientId, filter);
  }

  addSession(session: SessionInfo): void {
    for (const filter of session.subscriptions.keys()) this.add(session.clientId, filter);
  }

  /** Brings the summary in line with the sessions as they are (catches ends no event reported). */
  rebuild(sessions: Iterable<SessionInfo>): void {
    const seen = new Set<string>();
    for (const session of sessions) {
      seen.add(session.clientId);
      const known = this.#byClient.get(session.clientId);
      if (known !== undefined) {
        for (const filter of [...known]) {
          if (!session.subscriptions.has(filter)) this.remove(session.clientId, filter);
        }
      }
      this.addSession(session);
    }
    for (const clientId of [...this.#byClient.keys()]) if (!seen.has(clientId)) this.removeClient(clientId);
  }
}

/** Where one message goes: nodes with a normal matching filter, and the share groups it matches. */
export interface RemoteMatch {
  nodes: string[];
  /** Matching share groups; their members are node ids. */
  groups: readonly ShareGroup<string>[];
}

/**
 * The nodes' summaries in one trie (node id in the place of a client id), so one walk per PUBLISH
 * finds every node to forward to. Shared subscriptions keep their `$share/<name>/` form, so a walk
 * also finds each matching share group with the nodes that hold members: the accepting node picks
 * one of them per message. This node's own share filters are in it too (it is a candidate).
 */
export class RemoteSummaries {
  readonly #trie = new SubscriptionTrie<string>();
  readonly #filters = new Map<string, Set<string>>();

  filterCount(node: string): number {
    return this.#filters.get(node)?.size ?? 0;
  }

  add(node: string, filter: string): void {
    let filters = this.#filters.get(node);
    if (filters === undefined) {
      filters = new Set();
      this.#filters.set(node, filters);
    }
    filters.add(filter);
    try {
      this.#trie.subscribe(node, filter);
    } catch {
      // A filter this node cannot parse (another version's rules) is left out, not fatal.
    }
  }

  remove(node: string, filter: string): void {
    if (this.#filters.get(node)?.delete(filter)) this.#trie.unsubscribe(node, filter);
  }

  /** Replaces everything known of one node. */
  reset(node: string, filters: Iterable<string>): void {
    this.drop(node);
    for (const filter of filters) this.add(node, filter);
  }

  drop(node: string): void {
    this.#filters.delete(node);
    this.#trie.removeClient(node);
  }

  /** The nodes whose summary matches a topic name, and the matching share groups. */
  match(topic: string): RemoteMatch {
    const { matches, shared } = this.#trie.matchAll(topic);
    const nodes: string[] = new Array(matches.length);
    for (let i = 0; i < matches.length; i++) nodes[i] = matches[i]!.clientId;
    return { nodes, groups: shared };
  }
}
