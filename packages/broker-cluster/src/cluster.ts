import type { Broker, Hook, Logger, SessionInfo, StoredState } from '@x/broker';
import { silentLogger } from '@x/broker';
import type { RedisStore } from '@x/broker-store-redis';
import { Cluster } from 'ioredis';
import { Adoption } from './adoption.js';
import { ClusterStore } from './cluster-store.js';
import { type ClusterRedis, openRedis, type RedisClusterNodes } from './connections.js';
import type { ClusterBroker, ClusterContext, ClusterStats } from './context.js';
import { DeliveredIds } from './delivered.js';
import { ClusterError } from './errors.js';
import { Handoffs } from './handoff.js';
import { ClusterKeys } from './keys.js';
import {
  type ClusterClientLookup,
  ClusterManagement,
  type ClusterNodeInfo,
  type ClusterTotals,
} from './management.js';
import { Membership } from './membership.js';
import { isValidNodeId } from './node-id.js';
import { Routing } from './routing.js';
import { SessionOwnership } from './sessions.js';
import { DurableStreams } from './streams.js';

export type { ClusterStats } from './context.js';

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
  /**
   * The coordinating Redis is a Redis Cluster: `true` when the URL's host is one of its nodes, or
   * the nodes to start from (`'host:port'` or `{ host, port }`). The cluster's keys carry hash tags
   * (`{<node>}`) so that no command spans two slots. Default: as the store (a `RedisStore` made
   * with `cluster` is on a Redis Cluster, and so is the coordination then).
   */
  redisCluster?: RedisClusterNodes;
  /** Prefix of the cluster's keys. Default: the store's prefix (`mqtt:`). */
  prefix?: string;
  /**
   * Milliseconds a node's lease lasts without a heartbeat; it renews every third of it. Also the
   * longest a new filter's SUBACK waits for another node to confirm it routes by the filter.
   * Default 3000.
   */
  leaseMs?: number;
  /**
   * Milliseconds a CONNECT waits for the node holding its session to let it go, plus up to 5 s while
   * that node routes what its stream holds first. A node that does not answer and whose lease runs
   * out is adopted. Default 1000.
   */
  takeoverTimeout?: number;
  /**
   * Milliseconds between rebuilds of this node's subscription summary and re-reads of the others'
   * (which heal a change notice missed during a reconnection). Default 10 000.
   */
  summaryRefreshMs?: number;
  /**
   * Milliseconds a node keeps the filters of a session that moved to another node, sending on
   * what matches them (publishers' nodes may still route to it until they learn the new node's
   * summary). Default: `summaryRefreshMs`, the bound on that.
   */
  handoffGraceMs?: number;
  /**
   * Bytes of messages (payload plus a small header) one node's QoS 1/2 stream may hold. A node
   * that is down keeps its stream until its lease runs out and a survivor adopts it; one that
   * cannot keep up lets it grow. Beyond this, QoS 1/2 messages for that node are refused on the
   * publishing node (v5 PUBACK/PUBREC 0x97; a v3 publisher's connection closes unacknowledged)
   * rather than acknowledged. Default 64 MiB.
   */
  maxStreamBytes?: number;
  logger?: Logger;
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
 *   notices on a channel; a new filter's SUBACK waits until the other nodes confirm they route by
 *   it). A message accepted on a node is forwarded to the nodes whose summary
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

  readonly #url: string;
  readonly #log: Logger;
  readonly #summaryRefreshMs: number;
  readonly #ctx: ClusterContext;
  readonly #membership: Membership;
  readonly #routing: Routing;
  readonly #streams: DurableStreams;
  readonly #sessions: SessionOwnership;
  readonly #adoption: Adoption;
  readonly #management: ClusterManagement;
  readonly #redisCluster: RedisClusterNodes | undefined;
  readonly #handoffs: Handoffs;
  #cmd: ClusterRedis | undefined;
  #sub: ClusterRedis | undefined;
  #reader: ClusterRedis | undefined;
  #broker: Broker | undefined;
  #writes: Promise<unknown>[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #running = false;
  #closing = false;
  /** Listed, with a lease, summary written: false from a lost connection until the rejoin is done. */
  #joined = false;
  #rejoining: Promise<void> | undefined;

  constructor(options: BrokerClusterOptions) {
    if (!isValidNodeId(options.nodeId)) {
      throw new ClusterError(
        'BAD_OPTION',
        `node id ${JSON.stringify(options.nodeId)}: 1-64 of A-Z a-z 0-9 . _ -`,
      );
    }
    this.nodeId = options.nodeId;
    this.#url = options.url;
    this.#redisCluster = options.redisCluster ?? (options.store.redis instanceof Cluster || undefined);
    this.#log = options.logger ?? silentLogger;
    this.#summaryRefreshMs = options.summaryRefreshMs ?? 10_000;
    this.#ctx = this.#context(new ClusterKeys(options.prefix ?? options.store.prefix));
    this.#membership = new Membership(this.#ctx, options.leaseMs ?? 3000);
    this.#streams = new DurableStreams(this.#ctx, options.maxStreamBytes ?? 64 * 1024 * 1024, (bytes) =>
      this.#routing.deliverForwarded(bytes),
    );
    const delivered = new DeliveredIds(this.#ctx);
    this.#handoffs = new Handoffs(options.handoffGraceMs ?? this.#summaryRefreshMs, (clientId) => {
      // Back here meanwhile: its filters are its own again.
      if (!this.#broker?.sessions.has(clientId)) this.#routing.local.removeClient(clientId);
    });
    this.#routing = new Routing(
      this.#ctx,
      (node, bytes) => this.#streams.append(node, bytes),
      this.#handoffs,
      delivered,
      this.#membership.leaseMs,
    );
    this.#sessions = new SessionOwnership({
      ctx: this.#ctx,
      store: options.store,
      membership: this.#membership,
      summary: this.#routing.local,
      catchUp: () => this.#streams.catchUp(),
      adoptNode: (node) => this.#adoption.adopt(node),
      takeoverTimeout: options.takeoverTimeout ?? 1000,
      handoffs: this.#handoffs,
      delivered,
    });
    this.#adoption = new Adoption({
      ctx: this.#ctx,
      membership: this.#membership,
      sessions: this.#sessions,
      routing: this.#routing,
      streams: this.#streams,
    });
    this.#management = new ClusterManagement({
      ctx: this.#ctx,
      membership: this.#membership,
      broker: () => this.#broker!,
      filterCount: (node) =>
        node === this.nodeId ? this.#routing.local.size : this.#routing.filterCount(node),
      ownerOf: (clientId) => this.#sessions.ownerOf(clientId),
      timeout: Math.max(1000, options.takeoverTimeout ?? 1000),
    });
    this.store = new ClusterStore(options.store, {
      open: (state) => this.#open(state),
      takeWrites: () => {
        const writes = this.#writes;
        this.#writes = [];
        return writes;
      },
      connected: () => this.#joined && this.#cmd?.status === 'ready',
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

  /** Nodes that joined and have not been adopted, with their health and load. */
  nodes(): Promise<ClusterNodeInfo[]> {
    return this.#management.nodes();
  }

  /** The live nodes' figures added up: the cluster-wide online count and the `$SYS/cluster/…` totals. */
  totals(): Promise<ClusterTotals> {
    return this.#management.totals();
  }

  /** Which node holds a client's session and the session as that node describes it; none: undefined. */
  lookup(clientId: string): Promise<ClusterClientLookup | undefined> {
    return this.#management.lookup(clientId);
  }

  /**
   * Disconnects a client on whichever node it is connected to (v5: DISCONNECT with `reasonCode`,
   * default 0x98 Administrative action); `kicked` is false when it is not connected anywhere.
   */
  kick(clientId: string, reasonCode = 0x98): Promise<{ kicked: boolean; nodeId: string | null }> {
    return this.#management.kick(clientId, reasonCode);
  }

  /** The node holding a client's session, if any. */
  ownerOf(clientId: string): Promise<string | undefined> {
    return this.#sessions.ownerOf(clientId);
  }

  // ---- the hook -----------------------------------------------------------------------------------

  readonly #hook: Hook = {
    id: 'cluster',
    onStarted: () => this.#started(),
    onPublished: (_client, message) => this.#routing.forward(message),
    onRetainPublished: (_client, message) => this.#routing.broadcastRetained(message),
    onSessionClaim: (client, clean) => this.#sessions.claim(client, clean),
    onAclCheckDelivery: (clientId, _client, message) => this.#routing.mayDeliver(clientId, message),
    onShareGroup: (message, shareName, topicFilter) =>
      this.#routing.servesShare(message, shareName, topicFilter),
    onSubscribed: (client, packet, codes) => {
      packet.subscriptions.forEach((s, i) => {
        if ((codes[i] ?? 0x80) < 0x80) this.#routing.local.add(client.id, s.topicFilter);
      });
    },
    onUnsubscribed: (client, packet) => {
      for (const filter of packet.topicFilters) this.#routing.local.remove(client.id, filter);
    },
    onSessionEstablished: (client, packet) => {
      if (packet.will !== undefined) this.#sessions.recordWill(client.id, packet.will);
    },
    onDisconnect: (client, _code, _error, sessionEnded) => {
      this.#sessions.dropWill(client.id);
      if (sessionEnded) this.#sessions.sessionGone(client.id);
    },
    onClientExpired: (clientId) => this.#sessions.sessionGone(clientId),
    onSysInfoTick: () => void this.#management.publishSys(),
  };

  // ---- start and stop -----------------------------------------------------------------------------

  async #open(state: StoredState): Promise<StoredState> {
    // Nothing waits for a connection: while Redis is unreachable a command fails at once (the
    // CONNECT or the acknowledgement that needed it is refused) rather than queueing.
    const cmd = openRedis(this.#url, this.#redisCluster, { failFast: true, autoPipelining: true });
    const sub = openRedis(this.#url, this.#redisCluster, { failFast: false });
    const reader = openRedis(this.#url, this.#redisCluster, { failFast: true });
    for (const r of [cmd, sub, reader]) {
      r.on('error', (error: Error) =>
        this.#log.warn({ error: error.message }, 'cluster: Redis connection error'),
      );
    }
    this.#streams.prepare(cmd);
    this.#cmd = cmd;
    this.#sub = sub;
    this.#reader = reader;
    await Promise.all([cmd.connect(), sub.connect(), reader.connect()]);
    await this.#membership.takeLease();
    await this.#register();
    // A lost connection means a possibly lost node: Redis may have restarted empty, or this node's
    // lease may have run out and a survivor adopted it. Until the rejoin is done the store is not
    // writable (QoS 1/2 refused, `broker.ready` false).
    cmd.on('close', () => {
      this.#joined = false;
    });
    cmd.on('ready', () => {
      if (this.#running) void this.#rejoin();
    });
    sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.#onChannel(channel.toString(), data));
    // Resubscribed by ioredis after a reconnection; the summaries are read again then.
    sub.on('ready', () => void this.#routing.loadSummaries());
    await sub.subscribe(
      ...this.#routing.channels(),
      this.#ctx.keys.control(this.nodeId),
      this.#management.channel,
    );
    await this.#routing.loadSummaries();
    this.#joined = true;
    // Keep the stored sessions this node holds; the others belong to other nodes.
    const mine = await this.#sessions.keepOwned(state.sessions);
    this.#log.info(
      { nodeId: this.nodeId, sessions: mine.length, of: state.sessions.length },
      'cluster: joined',
    );
    return { ...state, sessions: mine };
  }

  /** Lists this node and makes sure its stream and consumer group exist. */
  async #register(): Promise<void> {
    await this.#membership.register();
    await this.#streams.create();
  }

  /**
   * Redis is back after an outage. The lease first (so no survivor adopts this node meanwhile), then
   * the node lists itself again (a Redis restarted empty has forgotten it), lets go of the sessions
   * another node took meanwhile (this node's lease ran out and it was adopted) rather than keeping
   * them in two places, rewrites its summary and reads the others'. A failed rejoin is tried again
   * by the next heartbeat; only then is the store writable again.
   */
  #rejoin(): Promise<void> {
    this.#rejoining ??= this.#doRejoin().finally(() => {
      this.#rejoining = undefined;
    });
    return this.#rejoining;
  }

  async #doRejoin(): Promise<void> {
    try {
      await this.#membership.renewLease();
      await this.#register();
      await this.#sessions.reconcile();
      this.#routing.announceAll();
      if (!(await this.#routing.loadSummaries())) throw new Error('summaries not read');
      // Other nodes may be reconnecting too: their leases may have lapsed in a Redis that kept its
      // keys, so give them a lease's time to renew before adopting any of them.
      this.#adoption.holdOff(this.#membership.leaseMs * 2);
      this.#joined = true;
      this.#log.info({ nodeId: this.nodeId }, 'cluster: Redis reachable again, node listed again');
    } catch (error) {
      this.#log.warn({ error: (error as Error).message }, 'cluster: rejoin after a Redis outage failed');
    }
  }

  /** The broker runs: announce the summary, read the stream, renew the lease, watch the others. */
  #started(): void {
    const broker = this.#broker!;
    this.#running = true;
    for (const session of broker.sessions.values()) this.#routing.local.addSession(session);
    this.#routing.announceAll();
    this.#streams.start(this.#reader!);
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.max(100, Math.floor(this.#membership.leaseMs / 3)), () => {
      if (this.#joined) {
        this.#membership.renewLease().catch(() => {});
        this.#management.report().catch(() => {});
      } else if (this.#cmd?.status === 'ready') void this.#rejoin();
    });
    every(this.#summaryRefreshMs, () =>
      this.#routing.refresh(broker.sessions.values() as Iterable<SessionInfo>),
    );
    every(this.#membership.leaseMs, () => void this.#adoption.watch());
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#handoffs.close();
    this.#routing.close();
    const cmd = this.#cmd;
    await this.#streams.stop();
    await Promise.allSettled(this.#writes);
    if (cmd?.status === 'ready') {
      // Gone for good: a survivor adopts what this node's sessions left (no lease, no wait).
      await this.#membership.dropLease();
      await cmd.quit().catch(() => cmd.disconnect());
    } else cmd?.disconnect();
    this.#sub?.disconnect();
  }

  #onChannel(channel: string, data: Buffer): void {
    try {
      if (this.#routing.onChannel(channel, data)) return;
      if (this.#management.onChannel(channel, data)) return;
      if (channel === this.#ctx.keys.control(this.nodeId)) {
        void this.#sessions.onControl(JSON.parse(data.toString()));
      }
    } catch (error) {
      this.#log.warn({ channel, error: (error as Error).message }, 'cluster: malformed notice skipped');
    }
  }

  /** The view every part gets of this node. */
  #context(keys: ClusterKeys): ClusterContext {
    const cluster = this;
    return {
      nodeId: this.nodeId,
      keys,
      log: this.#log,
      stats: this.stats,
      get closing() {
        return cluster.#closing;
      },
      redis: () => {
        const cmd = this.#cmd;
        if (cmd === undefined)
          throw new ClusterError('NOT_OPEN', 'the cluster is not open (broker not started)');
        return cmd;
      },
      broker: (): ClusterBroker => this.#broker!,
      write: (issue) => {
        const cmd = this.#cmd;
        if (cmd === undefined || (this.#closing && cmd.status !== 'ready')) return;
        const write = issue(cmd);
        write.catch(() => {});
        this.#writes.push(write);
      },
      sync: () => new Promise((resolve) => this.store.commit(resolve)),
    };
  }
}
