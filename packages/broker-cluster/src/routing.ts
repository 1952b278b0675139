import { randomBytes } from 'node:crypto';
import type { Message, SessionInfo } from '@x/broker';
import { decodeForwarded, decodeMessage, encodeMessage, type ForwardMeta } from './codec.js';
import { NoticeConfirmations } from './confirmations.js';
import type { ClusterContext } from './context.js';
import type { DeliveredIds } from './delivered.js';
import type { Handoffs } from './handoff.js';
import { ShareGroups } from './shared-groups.js';
import { LocalSummary, type RemoteMatch, RemoteSummaries } from './summary.js';

/** Where a message accepted here goes: nodes with a matching filter, one node per share group. */
interface Route {
  match: RemoteMatch;
  shares: Map<string, string>;
}

/**
 * Routing between nodes: this node's subscription summary (stored and announced), the other nodes'
 * summaries (one trie), and the forwarding of each message accepted here to the nodes that need it
 * — QoS 0 over pub/sub, QoS 1/2 through `durable` (the nodes' streams). Also retained changes, which
 * every node applies to its memory.
 */
export class Routing {
  readonly local: LocalSummary;
  readonly #remote = new RemoteSummaries();
  readonly #shares: ShareGroups;
  readonly #ctx: ClusterContext;
  readonly #durable: (node: string, bytes: Buffer) => void;
  readonly #handoffs: Handoffs;
  readonly #delivered: DeliveredIds;
  /** Computed once per message: the local route asks first (share groups), then `forward`. */
  readonly #routes = new WeakMap<Message, Route>();
  /** Cluster-wide ids of QoS 1/2 messages accepted here: `<node>.<process token>.<counter>`. */
  readonly #ids = new WeakMap<Message, string>();
  readonly #idPrefix: string;
  #idCounter = 0;
  /** Sessions the delivery gate let each message through to. */
  readonly #passed = new WeakMap<Message, Set<string>>();
  /** What came with each message received from another node. */
  readonly #meta = new WeakMap<Message, ForwardMeta>();
  /** Per node: summary reads under way, and the changes announced since the first of them began. */
  readonly #loading = new Map<string, { reads: number; changes: Array<[string, boolean]> }>();
  readonly #confirmations: NoticeConfirmations;

  /**
   * `durable` appends a QoS 1/2 message for a node, as a write the next commit waits for;
   * `handoffs` knows the sessions that just moved, `delivered` the message ids sessions were given;
   * a new filter's notice waits up to `confirmTimeoutMs` for the other nodes to confirm it.
   */
  constructor(
    ctx: ClusterContext,
    durable: (node: string, bytes: Buffer) => void,
    handoffs: Handoffs,
    delivered: DeliveredIds,
    confirmTimeoutMs: number,
  ) {
    this.#ctx = ctx;
    this.#confirmations = new NoticeConfirmations(ctx, confirmTimeoutMs);
    this.#durable = durable;
    this.#handoffs = handoffs;
    this.#delivered = delivered;
    this.#idPrefix = `${ctx.nodeId}.${randomBytes(4).toString('hex')}.`;
    this.#shares = new ShareGroups(ctx.nodeId);
    this.local = new LocalSummary((filter, present) => this.#announce(filter, present));
  }

  /** Topic filters known of another node. */
  filterCount(node: string): number {
    return this.#remote.filterCount(node);
  }

  /** The `onShareGroup` gate. */
  servesShare(message: Message, shareName: string, topicFilter: string): boolean | undefined {
    if (message.topic.startsWith('$SYS/')) return undefined;
    const key = `${shareName}/${topicFilter}`;
    return this.#shares.serves(message, key, () => this.#route(message).shares.get(key));
  }

  /** A message accepted here goes to the nodes that need it (not `$SYS`: per node). */
  forward(message: Message): void {
    if (message.topic.startsWith('$SYS/') || this.#ctx.closing) return;
    const { match, shares } = this.#route(message);
    const handoffs = message.qos > 0 ? this.#handoffs.targets(message.topic) : undefined;
    if (match.nodes.length === 0 && shares.size === 0 && handoffs === undefined) return;
    const nodeId = this.#ctx.nodeId;
    const targets = new Map<string, string[]>();
    for (const node of match.nodes) if (node !== nodeId) targets.set(node, []);
    for (const [key, node] of shares) {
      if (node === nodeId) continue;
      const keys = targets.get(node);
      if (keys === undefined) targets.set(node, [key]);
      else keys.push(key);
    }
    const meta: ForwardMeta | undefined = message.qos > 0 ? { id: this.#idOf(message) } : undefined;
    let plain: Buffer | undefined;
    for (const [node, keys] of targets) {
      let bytes: Buffer;
      if (keys.length > 0) bytes = encodeMessage(message, keys, meta);
      else {
        plain ??= encodeMessage(message, undefined, meta);
        bytes = plain;
      }
      this.#ctx.stats.forwarded++;
      if (message.qos === 0) {
        this.#ctx
          .redis()
          .publish(this.#ctx.keys.qos0(node), bytes)
          .catch(() => {});
      } else this.#durable(node, bytes);
    }
    // A session that just left: its new node gets a copy unless it gets the message anyway.
    if (handoffs !== undefined) {
      for (const [node, only] of handoffs) {
        if (!targets.has(node)) this.#sendOn(message, node, only, meta!.id!);
      }
    }
  }

  /**
   * Routes a message another node forwarded to this node's sessions (and its share groups, if any).
   * A handoff copy for a session a CONNECT here is still taking waits until it is loaded: the old
   * node sends copies as soon as it let the session go, which can be before this node has it.
   */
  deliverForwarded(bytes: Buffer): Promise<void> | undefined {
    const forwarded = decodeForwarded(bytes);
    const claimed = forwarded.only !== undefined ? this.#handoffs.whenClaimed(forwarded.only) : undefined;
    if (claimed !== undefined) return claimed.then(() => this.#deliver(forwarded));
    this.#deliver(forwarded);
    return undefined;
  }

  #deliver({ message, shares, id, only }: ReturnType<typeof decodeForwarded>): void {
    this.#shares.received(message, shares);
    this.#meta.set(message, { ...(id !== undefined ? { id } : {}), ...(only !== undefined ? { only } : {}) });
    this.#ctx.stats.received++;
    this.#ctx.broker().routeRemote(message);
    if (message.qos === 0) return;
    // Sent to this node for a session that has just left it: on to the session's new node.
    const handoffs = this.#handoffs.targets(message.topic);
    if (handoffs === undefined) return;
    for (const [node, clients] of handoffs) {
      const to = only === undefined ? clients : clients.filter((c) => only.includes(c));
      if (node !== this.#ctx.nodeId && to.length > 0)
        this.#sendOn(message, node, to, id ?? this.#idOf(message));
    }
  }

  /**
   * The `onAclCheckDelivery` gate: a copy meant for other sessions is skipped, and so is a message
   * id a session was given already (a batch routed again after a crash, a handoff copy).
   */
  mayDeliver(clientId: string, message: Message): boolean | undefined {
    const meta = this.#meta.get(message);
    if (meta?.only !== undefined && !meta.only.includes(clientId)) return false;
    if (message.qos === 0) return undefined;
    const id = meta?.id;
    // QoS 2 from another node: always checked (and recorded in Redis), a crash may route it again.
    const durable = id !== undefined && message.qos === 2;
    if (!durable) {
      // Otherwise only a session that just arrived can see a message twice (a handoff copy). A
      // retained message sent on SUBSCRIBE is no duplicate, however often it is sent.
      if (!this.#handoffs.isArriving(clientId)) return undefined;
      if (id === undefined && message.retain) return undefined;
    }
    // The core may ask twice for one delivery (a share group's member is picked by this gate, then
    // delivered through it): the answer for one message object and session stays the same.
    let passed = this.#passed.get(message);
    if (passed?.has(clientId)) return undefined;
    if (!this.#delivered.first(clientId, id ?? this.#idOf(message), durable)) return false;
    if (passed === undefined) {
      passed = new Set();
      this.#passed.set(message, passed);
    }
    passed.add(clientId);
    return undefined;
  }

  #sendOn(message: Message, node: string, only: readonly string[], id: string): void {
    this.#durable(node, encodeMessage(message, undefined, { id, only }));
  }

  #idOf(message: Message): string {
    let id = this.#ids.get(message);
    if (id === undefined) {
      id = `${this.#idPrefix}${(this.#idCounter++).toString(36)}`;
      this.#ids.set(message, id);
    }
    return id;
  }

  broadcastRetained(message: Message): void {
    if (message.topic.startsWith('$SYS/')) return;
    const node = Buffer.from(this.#ctx.nodeId);
    const frame = Buffer.concat([Buffer.from([node.length]), node, encodeMessage(message)]);
    this.#ctx.write((r) => r.publish(this.#ctx.keys.retained, frame));
  }

  /** The pub/sub channels this part listens on. */
  channels(): string[] {
    const keys = this.#ctx.keys;
    return [keys.events, keys.retained, keys.qos0(this.#ctx.nodeId), keys.confirmations(this.#ctx.nodeId)];
  }

  /** A notice on one of `channels()`; false when the channel is not one of them. */
  onChannel(channel: string, data: Buffer): boolean {
    const keys = this.#ctx.keys;
    if (channel === keys.qos0(this.#ctx.nodeId)) void this.deliverForwarded(data);
    else if (channel === keys.events) this.#onEvent(JSON.parse(data.toString()));
    else if (channel === keys.confirmations(this.#ctx.nodeId)) {
      const { n, t, s } = JSON.parse(data.toString()) as { n: string; t: string; s: number };
      this.#confirmations.confirmed(n, t, s);
    } else if (channel === keys.retained) {
      const length = data[0] ?? 0;
      if (data.subarray(1, 1 + length).toString() !== this.#ctx.nodeId) {
        this.#ctx.broker().applyRetained(decodeMessage(data.subarray(1 + length)));
      }
    } else return false;
    return true;
  }

  /** Writes this node's whole summary and tells the others to read it again. */
  announceAll(): void {
    const key = this.#ctx.keys.summary(this.#ctx.nodeId);
    const filters = [...this.local.filters()];
    this.#ctx.write(async (r) => {
      await r.del(key);
      if (filters.length > 0) await r.hset(key, Object.fromEntries(filters.map((f) => [f, '1'])));
      return r.publish(this.#ctx.keys.events, JSON.stringify({ k: 'reset', n: this.#ctx.nodeId }));
    });
  }

  /** Rebuilds this node's summary from its sessions and re-reads the others' (heals missed notices). */
  refresh(sessions: Iterable<SessionInfo>): void {
    this.local.rebuild(sessions);
    void this.loadSummaries();
  }

  /** Reads every other node's summary again; false when the node list could not be read. */
  async loadSummaries(): Promise<boolean> {
    try {
      const nodes = await this.#ctx.redis().smembers(this.#ctx.keys.nodes);
      await Promise.all(nodes.filter((n) => n !== this.#ctx.nodeId).map((n) => this.#loadSummary(n)));
      return true;
    } catch (error) {
      this.#ctx.log.warn({ error: (error as Error).message }, 'cluster: summaries not read');
      return false;
    }
  }

  /** A dead node leaves routing: nobody routes to it any more, its summary is deleted. */
  async dropNode(node: string): Promise<void> {
    this.#forget(node);
    const cmd = this.#ctx.redis();
    await cmd.del(this.#ctx.keys.summary(node));
    await cmd.publish(this.#ctx.keys.events, JSON.stringify({ k: 'gone', n: node }));
  }

  #route(message: Message): Route {
    let route = this.#routes.get(message);
    if (route !== undefined) return route;
    const match = this.#remote.match(message.topic);
    route = { match, shares: this.#shares.pick(match) };
    this.#routes.set(message, route);
    return route;
  }

  #onEvent(event: { k: string; n: string; f?: string; t?: string; s?: number }): void {
    if (event.n === this.#ctx.nodeId) return;
    if ((event.k === '+' || event.k === '-') && event.f !== undefined) {
      this.#change(event.n, event.f, event.k === '+');
      this.#loading.get(event.n)?.changes.push([event.f, event.k === '+']);
      // Routed by from now on: the announcing node may send its SUBACK.
      if (event.t !== undefined && event.s !== undefined)
        this.#confirmations.applied(event.n, event.t, event.s);
    } else if (event.k === 'reset') void this.#loadSummary(event.n);
    else if (event.k === 'gone') this.#forget(event.n);
  }

  /** A node that left: not routed to, not waited for. */
  #forget(node: string): void {
    this.#remote.drop(node);
    this.#confirmations.forget(node);
  }

  #change(node: string, filter: string, present: boolean): void {
    if (present) this.#remote.add(node, filter);
    else this.#remote.remove(node, filter);
  }

  /**
   * Reads a node's whole summary. Changes announced while the read is under way are applied again
   * after it: the read may have been answered before them, and replacing the summary with it would
   * drop a filter just added (its subscriber would miss messages until the next refresh).
   *
   * Never rejects: it runs from pub/sub notices, which can arrive while the command connection is
   * still reconnecting (after a Redis outage the subscriber is often back first). An unhandled
   * rejection there ended the node's process, which is why a node sometimes never rejoined.
   */
  async #loadSummary(node: string): Promise<void> {
    let loading = this.#loading.get(node);
    if (loading === undefined) {
      loading = { reads: 0, changes: [] };
      this.#loading.set(node, loading);
    }
    loading.reads++;
    const from = loading.changes.length;
    try {
      const filters = await this.#ctx.redis().hkeys(this.#ctx.keys.summary(node));
      this.#remote.reset(node, filters);
      for (const [filter, present] of loading.changes.slice(from)) this.#change(node, filter, present);
    } catch (error) {
      this.#ctx.log.warn({ node, error: (error as Error).message }, 'cluster: summary not read');
    } finally {
      if (--loading.reads === 0) this.#loading.delete(node);
    }
  }

  /**
   * A filter enters or leaves this node's summary: stored, then announced.
   *
   * The guarantee: once this node sends the SUBACK that added a filter, every node routes by it,
   * so a PUBLISH any node reads afterwards is forwarded here (MQTT promises the subscriber every
   * message published after its SUBACK). The SUBACK waits for the commit, and the commit for this
   * write, which ends only when every listed node has confirmed the notice — sent after applying
   * it to its view — or `confirmTimeoutMs` has passed (a node that is down, or far behind reading
   * its notices; logged). A node listed after the HSET reads the whole summary when it joins. Only
   * additions wait: a filter withdrawn late costs a message nobody here wants, never a lost one.
   * The cost is on SUBSCRIBE (one notice and one confirmation per node), none on PUBLISH.
   */
  #announce(filter: string, present: boolean): void {
    const nodeId = this.#ctx.nodeId;
    // This node is a candidate for its own share groups.
    if (filter.startsWith('$share/')) this.#change(nodeId, filter, present);
    const keys = this.#ctx.keys;
    const key = keys.summary(nodeId);
    if (!present) {
      const event = JSON.stringify({ k: '-', n: nodeId, f: filter });
      this.#ctx.write((r) => r.hdel(key, filter).then(() => r.publish(keys.events, event)));
      return;
    }
    const seq = this.#confirmations.next();
    const event = JSON.stringify({ k: '+', n: nodeId, f: filter, t: this.#confirmations.token, s: seq });
    this.#ctx.write(async (r) => {
      await r.hset(key, filter, '1');
      // Listed after the HSET: a node that joins later reads the filter with the whole summary.
      const [, nodes] = await Promise.all([r.publish(keys.events, event), r.smembers(keys.nodes)]);
      await this.#confirmations.wait(nodes, seq);
    });
  }

  /** Stops waiting for confirmations (the node closes). */
  close(): void {
    this.#confirmations.close();
  }
}
