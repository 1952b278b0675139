import { randomBytes } from 'node:crypto';
import type { Broker, ClientInfo, Hook, Logger, Message, SessionInfo, StoredState } from '@x/broker';
import { silentLogger } from '@x/broker';
import type { RedisStore } from '@x/broker-store-redis';
import { Redis } from 'ioredis';
import { ClusterStore } from './cluster-store.js';
import { decodeForwarded, decodeMessage, encodeMessage } from './codec.js';
import { ClusterError } from './errors.js';
import { CLAIM_SCRIPT, ClusterKeys, DISOWN_SCRIPT, GROUP, MOVE_SCRIPT } from './keys.js';
import { isValidNodeId } from './node-id.js';
import { LocalSummary, type RemoteMatch, RemoteSummaries } from './summary.js';

/** Options of {@link BrokerCluster}. */
export interface BrokerClusterOptions {
  /** This node's id: stable across restarts (see `persistentNodeId`), unique in the cluster. */
  nodeId: string;
  /**
   * The store every node shares: a `RedisStore` on the Redis that coordinates the cluster. The
   * broker is given `cluster.store` (which wraps it), not this.
   */
  store: RedisStore;
  /**
   * The coordinating Redis, `redis[s]://[[user]:password@]host[:port][/db]`. Default: the URL the
   * store was given is not readable back, so this is required.
   */
  url: string;
  /** Prefix of the cluster's keys. Default: the store's prefix (`mqtt:`). */
  prefix?: string;
  /** Milliseconds a node's lease lasts without a heartbeat; it renews every third of it. Default 3000. */
  leaseMs?: number;
  /** Milliseconds a CONNECT waits for the node holding its session to let it go. Default 1000. */
  takeoverTimeout?: number;
  /**
   * Milliseconds between rebuilds of this node's subscription summary and re-reads of the others'
   * (which heal a change notice missed during a reconnection). Default 10 000.
   */
  summaryRefreshMs?: number;
  logger?: Logger;
}

/** What a node counts (for `$SYS`-like reporting and the management API). */
export interface ClusterStats {
  /** Messages forwarded to other nodes (one per node reached). */
  forwarded: number;
  /** Messages received from other nodes. */
  received: number;
  /** Sessions taken over from other nodes. */
  takeovers: number;
  /** Nodes adopted after their lease expired. */
  adoptions: number;
}

/** One node as `nodes()` lists it. */
export interface ClusterNodeInfo {
  nodeId: string;
  /** Its lease is current. */
  alive: boolean;
  /** Topic filters in its summary (known here). */
  filters: number;
}

interface Waiting {
  resolve: () => void;
}

/**
 * Several broker processes as one broker, coordinated through Redis.
 *
 * ```ts
 * const store = new RedisStore({ url, prefix: 'mqtt:' });
 * const cluster = new BrokerCluster({ url, nodeId: persistentNodeId('./data'), store });
 * const broker = new Broker({ store: cluster.store });
 * cluster.attach(broker);
 * await broker.start();
 * ```
 *
 * - Routing: each node announces the topic filters its sessions hold (a hash per node, with change
 *   notices on a channel). A message accepted on a node is forwarded to the nodes whose summary
 *   matches: QoS 0 over pub/sub, QoS 1/2 by XADD to the node's stream before the publisher is
 *   acknowledged. A node routes what it receives to its own sessions only, then acknowledges the
 *   stream entries once what it queued is committed.
 * - Sessions: the store is shared; a hash says which node holds each session. A CONNECT on another
 *   node asks the holder to let the session go (its connection gets DISCONNECT 0x8E), then loads it.
 * - Leases: a node that stops renewing its lease is adopted by a survivor: its sessions (wills
 *   included) and the unread part of its stream.
 */
export class BrokerCluster {
  readonly nodeId: string;
  /** The store to give the broker. */
  readonly store: ClusterStore;
  readonly stats: ClusterStats = { forwarded: 0, received: 0, takeovers: 0, adoptions: 0 };

  readonly #redisStore: RedisStore;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #takeoverTimeout: number;
  readonly #summaryRefreshMs: number;
  readonly #url: string;
  readonly #token = randomBytes(8).toString('hex');
  #cmd: Redis | undefined;
  #sub: Redis | undefined;
  #reader: Redis | undefined;
  #broker: Broker | undefined;
  readonly #remote = new RemoteSummaries();
  readonly #local: LocalSummary;
  #writes: Promise<unknown>[] = [];
  readonly #waiting = new Map<string, Waiting>();
  readonly #timers: NodeJS.Timeout[] = [];
  #reading: Promise<void> | undefined;
  /** The id of the last stream entry routed, committed and acknowledged. */
  #processed = '0-0';
  #adopting = false;
  #running = false;
  /** Where a message accepted here goes, with the node picked for each share group it matches. */
  readonly #routes = new WeakMap<Message, { match: RemoteMatch; shares: Map<string, string> }>();
  /** Messages received from other nodes, with the share groups this node is to serve. */
  readonly #serving = new WeakMap<Message, ReadonlySet<string>>();
  /** Round-robin position per share group (`<ShareName>/<filter>`) over the nodes holding members. */
  readonly #shareCursor = new Map<string, number>();
  #closing = false;

  constructor(options: BrokerClusterOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new ClusterError(
        'BAD_OPTION',
        `node id ${JSON.stringify(options.nodeId)}: 1-64 of A-Z a-z 0-9 . _ -`,
      );
    }
    this.nodeId = options.nodeId;
    this.#redisStore = options.store;
    this.#url = options.url;
    this.#keys = new ClusterKeys(options.prefix ?? options.store.prefix);
    this.#log = options.logger ?? silentLogger;
    this.#leaseMs = options.leaseMs ?? 3000;
    this.#takeoverTimeout = options.takeoverTimeout ?? 1000;
    this.#summaryRefreshMs = options.summaryRefreshMs ?? 10_000;
    this.#local = new LocalSummary((filter, present) => this.#announce(filter, present));
    this.store = new ClusterStore(options.store, {
      open: (state) => this.#open(state),
      takeWrites: () => {
        const writes = this.#writes;
        this.#writes = [];
        return writes;
      },
      connected: () => this.#cmd?.status === 'ready',
      close: () => this.#close(),
    });
  }

  /** Adds the cluster's hook to the broker (before `broker.start()`; the broker uses `this.store`). */
  attach(broker: Broker): void {
    if (broker.store !== this.store) {
      throw new ClusterError('BAD_OPTION', 'the broker must be created with { store: cluster.store }');
    }
    this.#broker = broker;
    broker.addHook(this.#hook);
  }

  /** Nodes that joined and have not been adopted, with their health. */
  async nodes(): Promise<ClusterNodeInfo[]> {
    const cmd = this.#redis();
    const ids = (await cmd.smembers(this.#keys.nodes)).sort();
    const out: ClusterNodeInfo[] = [];
    for (const nodeId of ids) {
      out.push({
        nodeId,
        alive: (await cmd.exists(this.#keys.lease(nodeId))) === 1,
        filters: nodeId === this.nodeId ? this.#local.size : this.#remote.filterCount(nodeId),
      });
    }
    return out;
  }

  /** The node holding a client's session, if any. */
  async ownerOf(clientId: string): Promise<string | undefined> {
    return (await this.#redis().hget(this.#keys.owners, clientId)) ?? undefined;
  }

  // ---- the hook -----------------------------------------------------------------------------------

  readonly #hook: Hook = {
    id: 'cluster',
    onStarted: () => this.#started(),
    onPublished: (_client, message) => this.#forward(message),
    onRetainPublished: (_client, message) => this.#broadcastRetained(message),
    onSessionClaim: (client, clean) => this.#claim(client, clean),
    onShareGroup: (message, shareName, topicFilter) => {
      if (message.topic.startsWith('$SYS/')) return undefined;
      const key = `${shareName}/${topicFilter}`;
      const serving = this.#serving.get(message);
      if (serving !== undefined) return serving.has(key);
      const node = this.#route(message).shares.get(key);
      return node === undefined || node === this.nodeId;
    },
    onSubscribed: (client, packet, codes) => {
      packet.subscriptions.forEach((s, i) => {
        if ((codes[i] ?? 0x80) < 0x80) this.#local.add(client.id, s.topicFilter);
      });
    },
    onUnsubscribed: (client, packet) => {
      for (const filter of packet.topicFilters) this.#local.remove(client.id, filter);
    },
    onSessionEstablished: (client, packet) => {
      const will = packet.will;
      if (will === undefined) return;
      const message: Message = {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties: will.properties,
        expiresAt: 0,
        origin: client.id,
        owned: true,
      };
      this.#write((r) => r.hset(this.#keys.wills(this.nodeId), client.id, encodeMessage(message)));
    },
    onDisconnect: (client, _code, _error, sessionEnded) => {
      this.#write((r) => r.hdel(this.#keys.wills(this.nodeId), client.id));
      if (sessionEnded) this.#sessionGone(client.id);
    },
    onClientExpired: (clientId) => this.#sessionGone(clientId),
  };

  // ---- start and stop -----------------------------------------------------------------------------

  async #open(state: StoredState): Promise<StoredState> {
    // Nothing waits for a connection: while Redis is unreachable a command fails at once (the
    // CONNECT or the acknowledgement that needed it is refused) rather than queueing.
    const options = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 };
    const cmd = new Redis(this.#url, { ...options, enableAutoPipelining: true });
    const sub = new Redis(this.#url, { lazyConnect: true });
    const reader = new Redis(this.#url, options);
    for (const r of [cmd, sub, reader]) {
      r.on('error', (error: Error) =>
        this.#log.warn({ error: error.message }, 'cluster: Redis connection error'),
      );
    }
    this.#cmd = cmd;
    this.#sub = sub;
    this.#reader = reader;
    await Promise.all([cmd.connect(), sub.connect(), reader.connect()]);
    await this.#takeLease();
    await this.#register();
    cmd.on('ready', () => {
      if (this.#running) void this.#rejoin();
    });
    sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.#onChannel(channel.toString(), data));
    // Resubscribed by ioredis after a reconnection; the summaries are read again then.
    sub.on('ready', () => void this.#loadSummaries());
    await sub.subscribe(
      this.#keys.events,
      this.#keys.retained,
      this.#keys.qos0(this.nodeId),
      this.#keys.control(this.nodeId),
    );
    await this.#loadSummaries();
    // Keep the stored sessions this node holds; the others belong to other nodes.
    const owners = await cmd.hgetall(this.#keys.owners);
    const mine: StoredState['sessions'] = [];
    for (const session of state.sessions) {
      const owner = owners[session.clientId];
      if (owner === this.nodeId) mine.push(session);
      else if (
        owner === undefined &&
        (await cmd.hsetnx(this.#keys.owners, session.clientId, this.nodeId)) === 1
      ) {
        mine.push(session);
      } else this.#redisStore.releaseSession(session.clientId);
    }
    this.#log.info(
      { nodeId: this.nodeId, sessions: mine.length, of: state.sessions.length },
      'cluster: joined',
    );
    return { ...state, sessions: mine };
  }

  /** Lists this node and makes sure its stream and consumer group exist. */
  async #register(): Promise<void> {
    const cmd = this.#redis();
    await cmd.sadd(this.#keys.nodes, this.nodeId);
    try {
      await cmd.xgroup('CREATE', this.#keys.stream(this.nodeId), GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /** Writes this node's whole summary and tells the others to read it again. */
  #announceAll(): void {
    const key = this.#keys.summary(this.nodeId);
    const filters = [...this.#local.filters()];
    this.#write(async (r) => {
      await r.del(key);
      if (filters.length > 0) await r.hset(key, Object.fromEntries(filters.map((f) => [f, '1'])));
      return r.publish(this.#keys.events, JSON.stringify({ k: 'reset', n: this.nodeId }));
    });
  }

  /**
   * Redis is back after an outage. Sessions another node took meanwhile (this node's lease ran out
   * and it was adopted) are let go rather than kept in two places; then the node lists itself again
   * (a Redis restarted empty has forgotten it) and rewrites its summary.
   */
  async #rejoin(): Promise<void> {
    try {
      const broker = this.#broker!;
      const owners = await this.#redis().hgetall(this.#keys.owners);
      for (const session of [...broker.sessions.values()]) {
        const owner = owners[session.clientId];
        if (owner === undefined || owner === this.nodeId) continue;
        await broker.releaseSession(session.clientId);
        this.#redisStore.releaseSession(session.clientId);
        this.#local.removeClient(session.clientId);
      }
      await this.#redis().set(this.#keys.lease(this.nodeId), this.#token, 'PX', this.#leaseMs);
      await this.#register();
      this.#announceAll();
      this.#log.info({ nodeId: this.nodeId }, 'cluster: Redis reachable again, node listed again');
    } catch (error) {
      this.#log.warn({ error: (error as Error).message }, 'cluster: rejoin after a Redis outage failed');
    }
  }

  /** The broker runs: announce the summary, read the stream, renew the lease, watch the others. */
  #started(): void {
    const broker = this.#broker!;
    const cmd = this.#redis();
    this.#running = true;
    for (const session of broker.sessions.values()) this.#local.addSession(session);
    this.#announceAll();
    this.#reading = this.#readLoop();
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.max(100, Math.floor(this.#leaseMs / 3)), () => {
      cmd.set(this.#keys.lease(this.nodeId), this.#token, 'PX', this.#leaseMs).catch(() => {});
    });
    every(this.#summaryRefreshMs, () => {
      this.#local.rebuild(broker.sessions.values() as Iterable<SessionInfo>);
      // A change notice missed (a reconnection in between) is healed by reading every summary.
      void this.#loadSummaries();
    });
    every(this.#leaseMs, () => void this.#watchNodes());
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const timer of this.#timers) clearInterval(timer);
    const cmd = this.#cmd;
    this.#reader?.disconnect();
    await this.#reading?.catch(() => {});
    await Promise.allSettled(this.#writes);
    if (cmd?.status === 'ready') {
      // Gone for good: a survivor adopts what this node's sessions left (no lease, no wait).
      const lease = this.#keys.lease(this.nodeId);
      if ((await cmd.get(lease)) === this.#token) await cmd.del(lease);
      await cmd.quit().catch(() => cmd.disconnect());
    } else cmd?.disconnect();
    this.#sub?.disconnect();
  }

  /** Takes this node's lease; waits out that of an earlier process with the same id (killed). */
  async #takeLease(): Promise<void> {
    const cmd = this.#redis();
    const key = this.#keys.lease(this.nodeId);
    const until = Date.now() + this.#leaseMs + 1000;
    while ((await cmd.set(key, this.#token, 'PX', this.#leaseMs, 'NX')) !== 'OK') {
      if (Date.now() > until) {
        throw new ClusterError('NODE_ID_IN_USE', `node id '${this.nodeId}' is held by a live node`);
      }
      await sleep(200);
    }
  }

  // ---- routing ------------------------------------------------------------------------------------

  /**
   * Where a message accepted here goes (computed once: the local route asks first, for its share
   * groups, then `#forward`): the nodes with a matching filter, and one node per matching share
   * group, in turn over the nodes holding members (this one included).
   */
  #route(message: Message): { match: RemoteMatch; shares: Map<string, string> } {
    let route = this.#routes.get(message);
    if (route !== undefined) return route;
    const match = this.#remote.match(message.topic);
    const shares = new Map<string, string>();
    for (const group of match.groups) {
      const key = `${group.shareName}/${group.topicFilter}`;
      const members = group.members;
      if (members.length === 0) continue;
      const cursor = this.#shareCursor.get(key) ?? 0;
      this.#shareCursor.set(key, cursor + 1);
      shares.set(key, members[cursor % members.length]!.clientId);
    }
    route = { match, shares };
    this.#routes.set(message, route);
    return route;
  }

  /** A message accepted here goes to the nodes that need it (not `$SYS`: per node). */
  #forward(message: Message): void {
    if (message.topic.startsWith('$SYS/') || this.#closing) return;
    const { match, shares } = this.#route(message);
    if (match.nodes.length === 0 && shares.size === 0) return;
    const targets = new Map<string, string[]>();
    for (const node of match.nodes) if (node !== this.nodeId) targets.set(node, []);
    for (const [key, node] of shares) {
      if (node === this.nodeId) continue;
      const keys = targets.get(node);
      if (keys === undefined) targets.set(node, [key]);
      else keys.push(key);
    }
    let plain: Buffer | undefined;
    for (const [node, keys] of targets) {
      let bytes: Buffer;
      if (keys.length > 0) bytes = encodeMessage(message, keys);
      else {
        plain ??= encodeMessage(message);
        bytes = plain;
      }
      this.stats.forwarded++;
      if (message.qos === 0) {
        this.#redis()
          .publish(this.#keys.qos0(node), bytes)
          .catch(() => {});
      } else {
        // Durable before the publisher's acknowledgement: the next commit waits for this reply.
        this.#write((r) => r.xadd(this.#keys.stream(node), '*', 'm', bytes));
      }
    }
  }

  /** Routes a message another node forwarded to this node's sessions (and its share groups, if any). */
  #deliverForwarded(bytes: Buffer): void {
    const { message, shares } = decodeForwarded(bytes);
    this.#serving.set(message, new Set(shares));
    this.stats.received++;
    this.#broker?.routeRemote(message);
  }

  #broadcastRetained(message: Message): void {
    if (message.topic.startsWith('$SYS/')) return;
    const node = Buffer.from(this.nodeId);
    const frame = Buffer.concat([Buffer.from([node.length]), node, encodeMessage(message)]);
    this.#write((r) => r.publish(this.#keys.retained, frame));
  }

  #onChannel(channel: string, data: Buffer): void {
    try {
      if (channel === this.#keys.qos0(this.nodeId)) this.#deliverForwarded(data);
      else if (channel === this.#keys.events) this.#onEvent(JSON.parse(data.toString()));
      else if (channel === this.#keys.retained) {
        const length = data[0] ?? 0;
        if (data.subarray(1, 1 + length).toString() !== this.nodeId) {
          this.#broker?.applyRetained(decodeMessage(data.subarray(1 + length)));
        }
      } else if (channel === this.#keys.control(this.nodeId))
        void this.#onControl(JSON.parse(data.toString()));
    } catch (error) {
      this.#log.warn({ channel, error: (error as Error).message }, 'cluster: malformed notice skipped');
    }
  }

  #onEvent(event: { k: string; n: string; f?: string }): void {
    if (event.n === this.nodeId) return;
    if (event.k === '+' && event.f !== undefined) this.#remote.add(event.n, event.f);
    else if (event.k === '-' && event.f !== undefined) this.#remote.remove(event.n, event.f);
    else if (event.k === 'reset') void this.#loadSummary(event.n);
    else if (event.k === 'gone') this.#remote.drop(event.n);
  }

  async #loadSummaries(): Promise<void> {
    try {
      const nodes = await this.#redis().smembers(this.#keys.nodes);
      await Promise.all(nodes.filter((n) => n !== this.nodeId).map((n) => this.#loadSummary(n)));
    } catch (error) {
      this.#log.warn({ error: (error as Error).message }, 'cluster: summaries not read');
    }
  }

  async #loadSummary(node: string): Promise<void> {
    const filters = await this.#redis().hkeys(this.#keys.summary(node));
    this.#remote.reset(node, filters);
  }

  /** A filter enters or leaves this node's summary: stored, then announced. */
  #announce(filter: string, present: boolean): void {
    // This node is a candidate for its own share groups.
    if (filter.startsWith('$share/')) {
      if (present) this.#remote.add(this.nodeId, filter);
      else this.#remote.remove(this.nodeId, filter);
    }
    const key = this.#keys.summary(this.nodeId);
    const event = JSON.stringify({ k: present ? '+' : '-', n: this.nodeId, f: filter });
    this.#write((r) =>
      (present ? r.hset(key, filter, '1') : r.hdel(key, filter)).then(() =>
        r.publish(this.#keys.events, event),
      ),
    );
  }

  /**
   * Reads this node's stream: first the entries read before a crash and never acknowledged, then new
   * ones. Each batch is routed to the local sessions, committed (what was queued or put in flight
   * is in the store), then acknowledged and deleted.
   */
  async #readLoop(): Promise<void> {
    const reader = this.#reader!;
    const stream = this.#keys.stream(this.nodeId);
    let backlog = true;
    while (!this.#closing) {
      let entries: Array<[string, Buffer | undefined]>;
      try {
        const reply = await reader.callBuffer(
          'XREADGROUP',
          'GROUP',
          GROUP,
          this.nodeId,
          'COUNT',
          '256',
          'BLOCK',
          '1000',
          'STREAMS',
          stream,
          backlog ? '0' : '>',
        );
        entries = streamEntries(reply);
      } catch (error) {
        if (this.#closing) return;
        this.#log.warn({ error: (error as Error).message }, 'cluster: stream read failed');
        await sleep(500);
        backlog = true;
        continue;
      }
      if (entries.length === 0) {
        backlog = false;
        continue;
      }
      const ids = this.#routeEntries(entries);
      const error = await this.#sync();
      if (error !== undefined) {
        // Not acknowledged: read again (from the unacknowledged ones) once the store works.
        backlog = true;
        await sleep(500);
        continue;
      }
      try {
        // Sent together (auto-pipelining): one round trip.
        await Promise.all([this.#redis().xack(stream, GROUP, ...ids), this.#redis().xdel(stream, ...ids)]);
        this.#processed = ids[ids.length - 1]!;
      } catch {
        backlog = true;
      }
    }
  }

  #routeEntries(entries: Array<[string, Buffer | undefined]>): string[] {
    const ids: string[] = [];
    for (const [id, bytes] of entries) {
      ids.push(id);
      if (bytes === undefined) continue;
      try {
        this.#deliverForwarded(bytes);
      } catch (error) {
        this.#log.warn({ id, error: (error as Error).message }, 'cluster: malformed stream entry skipped');
      }
    }
    return ids;
  }

  /** A commit of what is recorded so far (store and cluster writes); its error, if any. */
  #sync(): Promise<Error | undefined> {
    return new Promise((resolve) => this.store.commit(resolve));
  }

  // ---- sessions -----------------------------------------------------------------------------------

  /**
   * Before a CONNECT gets its session: the node holding it lets it go (or, dead, is adopted), this
   * node becomes its owner and, unless Clean Start, loads it from the store.
   */
  async #claim(client: ClientInfo, clean: boolean): Promise<number | undefined> {
    const cmd = this.#redis();
    const id = client.id;
    for (let round = 0; round < 3; round++) {
      const owner = await cmd.hget(this.#keys.owners, id);
      if (owner === null || owner === this.nodeId) break;
      if ((await cmd.exists(this.#keys.lease(owner))) === 1) {
        if (await this.#requestRelease(owner, id)) {
          this.stats.takeovers++;
          break;
        }
        if (!(await this.#leaseEnds(owner))) {
          this.#log.warn(
            { clientId: id, owner },
            'cluster: the owning node did not release the session; taken',
          );
          break;
        }
      }
      await this.#adoptNode(owner);
    }
    await cmd.eval(CLAIM_SCRIPT, 1, this.#keys.owners, id, this.nodeId);
    const broker = this.#broker!;
    if (!clean && !broker.sessions.has(id)) {
      const stored = await this.#redisStore.loadSession(id);
      if (stored !== undefined && broker.adoptSession(stored)) {
        this.#local.addSession(broker.sessions.get(id)!);
      }
    }
    return undefined;
  }

  /** Asks the owning node to let a session go; true once it answers. */
  async #requestRelease(owner: string, clientId: string): Promise<boolean> {
    const request = randomBytes(8).toString('hex');
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(request);
        resolve(false);
      }, this.#takeoverTimeout);
      this.#waiting.set(request, {
        resolve: () => {
          clearTimeout(timer);
          this.#waiting.delete(request);
          resolve(true);
        },
      });
    });
    const notice = JSON.stringify({ k: 'takeover', c: clientId, from: this.nodeId, r: request });
    await this.#redis().publish(this.#keys.control(owner), notice);
    return answered;
  }

  async #onControl(notice: { k: string; c?: string; from?: string; r?: string }): Promise<void> {
    if (notice.k === 'released' && notice.r !== undefined) {
      this.#waiting.get(notice.r)?.resolve();
      return;
    }
    if (notice.k !== 'takeover' || notice.c === undefined || notice.from === undefined) return;
    const clientId = notice.c;
    try {
      // Messages already in this node's stream may be for this session: queued here first, they
      // travel with it through the store.
      await this.#catchUp();
      await this.#broker?.releaseSession(clientId);
      this.#redisStore.releaseSession(clientId);
      this.#local.removeClient(clientId);
      this.#log.info({ clientId, to: notice.from }, 'cluster: session handed over');
    } finally {
      await this.#redis()
        .publish(this.#keys.control(notice.from), JSON.stringify({ k: 'released', r: notice.r }))
        .catch(() => {});
    }
  }

  /** Waits (at most 5 s) until every entry in this node's stream now has been routed and committed. */
  async #catchUp(): Promise<void> {
    const newest = await this.#redis().xrevrange(this.#keys.stream(this.nodeId), '+', '-', 'COUNT', 1);
    const last = newest[0]?.[0];
    if (last === undefined) return;
    const until = Date.now() + 5000;
    while (compareIds(this.#processed, last) < 0 && Date.now() < until && !this.#closing) await sleep(5);
  }

  /** A session ended here: it leaves the summary, and the owner entry if this node still has it. */
  #sessionGone(clientId: string): void {
    this.#local.removeClient(clientId);
    this.#write((r) => r.eval(DISOWN_SCRIPT, 1, this.#keys.owners, clientId, this.nodeId));
  }

  // ---- dead nodes ---------------------------------------------------------------------------------

  /** Waits for a silent node's lease to run out; true when it did. */
  async #leaseEnds(node: string): Promise<boolean> {
    const until = Date.now() + this.#leaseMs + 500;
    while (Date.now() < until) {
      if ((await this.#redis().exists(this.#keys.lease(node))) === 0) return true;
      await sleep(100);
    }
    return false;
  }

  async #watchNodes(): Promise<void> {
    if (this.#adopting || this.#closing) return;
    try {
      const cmd = this.#redis();
      for (const node of await cmd.smembers(this.#keys.nodes)) {
        if (node === this.nodeId) continue;
        if ((await cmd.exists(this.#keys.lease(node))) === 0) await this.#adoptNode(node);
      }
    } catch (error) {
      this.#log.warn({ error: (error as Error).message }, 'cluster: node watch failed');
    }
  }

  /**
   * Takes over a node whose lease ran out: its sessions (a session that was online owes its will,
   * which the broker publishes), the wills of its other online clients, and the unread entries of
   * its stream, routed here to the sessions just adopted. One survivor does it (a lock); the others
   * wait for it to finish.
   */
  async #adoptNode(node: string): Promise<void> {
    const cmd = this.#redis();
    const lock = this.#keys.adopt(node);
    if ((await cmd.set(lock, this.nodeId, 'PX', 60_000, 'NX')) !== 'OK') {
      const until = Date.now() + 15_000;
      while (Date.now() < until && (await cmd.sismember(this.#keys.nodes, node)) === 1) await sleep(100);
      return;
    }
    this.#adopting = true;
    const broker = this.#broker!;
    try {
      if ((await cmd.sismember(this.#keys.nodes, node)) === 0) return;
      this.#log.warn({ node }, 'cluster: node lease expired: adopting its sessions');
      const adopted = new Set<string>();
      const owners = await cmd.hgetall(this.#keys.owners);
      for (const [clientId, owner] of Object.entries(owners)) {
        if (owner !== node) continue;
        if ((await cmd.eval(MOVE_SCRIPT, 1, this.#keys.owners, clientId, node, this.nodeId)) !== 1) continue;
        const stored = await this.#redisStore.loadSession(clientId);
        if (stored !== undefined && broker.adoptSession(stored)) {
          adopted.add(clientId);
          this.#local.addSession(broker.sessions.get(clientId)!);
        }
      }
      // Wills of its clients whose sessions were not stored (the adopted ones carry their own).
      const wills = await cmd.hgetallBuffer(this.#keys.wills(node));
      for (const [clientId, bytes] of Object.entries(wills)) {
        if (adopted.has(clientId)) continue;
        const will = decodeMessage(bytes);
        const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
        broker.publish(will.topic, will.payload, {
          qos: will.qos,
          retain: will.retain,
          ...(will.properties ? { properties } : {}),
        });
      }
      // Nobody routes to it any more; this node's summary covers its sessions.
      this.#remote.drop(node);
      await cmd.del(this.#keys.summary(node));
      await cmd.publish(this.#keys.events, JSON.stringify({ k: 'gone', n: node }));
      await this.#sync();
      await this.#drainStream(node);
      await cmd.del(this.#keys.stream(node), this.#keys.wills(node));
      // Last: until here a failed adoption is taken up again by the next watch.
      await cmd.srem(this.#keys.nodes, node);
      this.stats.adoptions++;
    } finally {
      this.#adopting = false;
      await cmd.del(lock).catch(() => {});
    }
  }

  /** Routes here what a dead node's stream still holds, until it stays empty (late XADDs included). */
  async #drainStream(node: string): Promise<void> {
    const cmd = this.#redis();
    const stream = this.#keys.stream(node);
    for (let quiet = 0; quiet < 3; ) {
      const entries = rangeEntries(await cmd.xrangeBuffer(stream, '-', '+', 'COUNT', 256));
      if (entries.length === 0) {
        quiet++;
        await sleep(100);
        continue;
      }
      const ids = this.#routeEntries(entries);
      const error = await this.#sync();
      if (error !== undefined) throw error;
      await cmd.xdel(stream, ...ids);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

  #redis(): Redis {
    const cmd = this.#cmd;
    if (cmd === undefined) throw new ClusterError('NOT_OPEN', 'the cluster is not open (broker not started)');
    return cmd;
  }

  /** A write the next commit waits for (so what it acknowledges is in Redis). */
  #write(issue: (redis: Redis) => Promise<unknown>): void {
    const cmd = this.#cmd;
    if (cmd === undefined || (this.#closing && cmd.status !== 'ready')) return;
    const write = issue(cmd);
    write.catch(() => {});
    this.#writes.push(write);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Orders two stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** XREADGROUP reply → [id, payload] pairs. */
function streamEntries(reply: unknown): Array<[string, Buffer | undefined]> {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const [, entries] = reply[0] as [Buffer, unknown];
  return rangeEntries(entries);
}

/** XRANGE reply (or the entries of one XREADGROUP stream) → [id, payload] pairs. */
function rangeEntries(reply: unknown): Array<[string, Buffer | undefined]> {
  if (!Array.isArray(reply)) return [];
  const out: Array<[string, Buffer | undefined]> = [];
  for (const entry of reply as Array<[Buffer, Buffer[] | null]>) {
    const fields = entry[1];
    out.push([entry[0].toString(), fields === null ? undefined : fields[1]]);
  }
  return out;
}
