import { randomBytes } from 'node:crypto';
import type { Broker, SessionInfo, SysInfo } from '@x/broker';
import type { ClusterContext } from './context.js';
import type { Membership } from './membership.js';

/** A node's load, as it reports it with each lease renewal (its figures since it started). */
export interface ClusterNodeLoad {
  /** Its broker is running and its store can write (what its `/readyz` answers). */
  ready: boolean;
  clientsConnected: number;
  /** Sessions it holds, online or not. */
  sessions: number;
  subscriptions: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  /** Messages it forwarded to other nodes (one per node reached). */
  forwarded: number;
  /** Messages it received from other nodes. */
  received: number;
}

/** One node as `nodes()` lists it. */
export interface ClusterNodeInfo {
  nodeId: string;
  /** Its lease is current. */
  alive: boolean;
  /** The node answering. */
  self: boolean;
  /** Topic filters in its summary (known here). */
  filters: number;
  /** Epoch ms of its last lease renewal (with its load report); null before the first. */
  lastRenewal: number | null;
  /** Its load as of `lastRenewal` (this node's: now); null before its first report. */
  load: ClusterNodeLoad | null;
}

/** The figures of every live node added up (`$SYS/cluster/…`, the API's online count). */
export interface ClusterTotals {
  /** Nodes listed (alive or awaiting adoption). */
  nodes: number;
  /** Nodes whose lease is current. */
  alive: number;
  clientsConnected: number;
  sessions: number;
  subscriptions: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  forwarded: number;
}

/** A session as the node holding it describes it. */
export interface ClusterSessionInfo {
  clientId: string;
  online: boolean;
  protocolVersion: number;
  username: string | null;
  remoteAddress: string | null;
  /** Epoch ms of its connection, when online. */
  connectedAt: number | null;
  /** Session Expiry Interval, seconds. */
  sessionExpiryInterval: number;
  inflight: number;
  queued: number;
  dropped: number;
  subscriptions: Array<{ topicFilter: string; qos: number }>;
}

/** Where a client's session is, cluster-wide. */
export interface ClusterClientLookup {
  clientId: string;
  /** The node holding its session. */
  nodeId: string;
  /** That node's lease is current. */
  nodeAlive: boolean;
  /** As that node describes it; null when it did not answer in time (or no longer has it). */
  session: ClusterSessionInfo | null;
}

/** The broker seams management uses. */
export type ManagedBroker = Pick<
  Broker,
  'sessions' | 'kick' | 'refreshStats' | 'publish' | 'ready' | 'connectedCount'
>;

/** What management needs from the other parts. */
export interface ManagementDeps {
  readonly ctx: ClusterContext;
  readonly membership: Membership;
  broker(): ManagedBroker;
  /** Filters in a node's summary, as this node knows it. */
  filterCount(node: string): number;
  ownerOf(clientId: string): Promise<string | undefined>;
  /** Milliseconds a request to another node waits for its answer. */
  readonly timeout: number;
}

interface Report extends ClusterNodeLoad {
  at: number;
}

interface Request {
  k: 'lookup' | 'kick' | 'answer';
  /** Request id. */
  r: string;
  c?: string;
  rc?: number;
  from?: string;
  v?: unknown;
}

/** `$SYS/cluster/<suffix>` → the total it carries. */
const SYS_TOPICS: Array<[string, (t: ClusterTotals) => number]> = [
  ['nodes/alive', (t) => t.alive],
  ['nodes/total', (t) => t.nodes],
  ['clients/connected', (t) => t.clientsConnected],
  ['clients/total', (t) => t.sessions],
  ['subscriptions/count', (t) => t.subscriptions],
  ['messages/received', (t) => t.messagesReceived],
  ['messages/sent', (t) => t.messagesSent],
  ['messages/forwarded', (t) => t.forwarded],
  ['bytes/received', (t) => t.bytesReceived],
  ['bytes/sent', (t) => t.bytesSent],
];

/**
 * The cluster seen whole, for the management API and `$SYS/cluster/…`: each node writes its load
 * next to its lease at every renewal (`cluster:{<node>}:load`), so listing the nodes or adding up
 * their figures reads Redis only; a question about one client goes to the node holding its session
 * (request and answer on `cluster:api:<node>`), which describes it or disconnects it.
 */
export class ClusterManagement {
  readonly #deps: ManagementDeps;
  readonly #ctx: ClusterContext;
  readonly #waiting = new Map<string, (value: unknown) => void>();

  constructor(deps: ManagementDeps) {
    this.#deps = deps;
    this.#ctx = deps.ctx;
  }

  /** The channel this node answers management requests on. */
  get channel(): string {
    return this.#ctx.keys.api(this.#ctx.nodeId);
  }

  /** Writes this node's load (with the lease renewal); it outlives a dead node by ten leases at most. */
  report(): Promise<unknown> {
    const report: Report = { ...this.#load(), at: Date.now() };
    const ttl = this.#deps.membership.leaseMs * 10;
    return this.#ctx.redis().set(this.#ctx.keys.load(this.#ctx.nodeId), JSON.stringify(report), 'PX', ttl);
  }

  /** Nodes that joined and have not been adopted, with their health and load. */
  async nodes(): Promise<ClusterNodeInfo[]> {
    const ids = await this.#deps.membership.members();
    return Promise.all(
      ids.map(async (nodeId): Promise<ClusterNodeInfo> => {
        const self = nodeId === this.#ctx.nodeId;
        const [alive, report] = await Promise.all([
          this.#deps.membership.isAlive(nodeId),
          this.#report(nodeId),
        ]);
        const { at = null, ...load } = report ?? {};
        return {
          nodeId,
          alive,
          self,
          filters: this.#deps.filterCount(nodeId),
          lastRenewal: at,
          load: self ? this.#load() : report === undefined ? null : (load as ClusterNodeLoad),
        };
      }),
    );
  }

  /** The live nodes' figures added up (this node's as they are now, the others' as last reported). */
  async totals(): Promise<ClusterTotals> {
    const nodes = await this.nodes();
    const totals: ClusterTotals = {
      nodes: nodes.length,
      alive: 0,
      clientsConnected: 0,
      sessions: 0,
      subscriptions: 0,
      messagesReceived: 0,
      messagesSent: 0,
      bytesReceived: 0,
      bytesSent: 0,
      forwarded: 0,
    };
    for (const node of nodes) {
      if (!node.alive || node.load === null) continue;
      const l = node.load;
      totals.alive++;
      totals.clientsConnected += l.clientsConnected;
      totals.sessions += l.sessions;
      totals.subscriptions += l.subscriptions;
      totals.messagesReceived += l.messagesReceived;
      totals.messagesSent += l.messagesSent;
      totals.bytesReceived += l.bytesReceived;
      totals.bytesSent += l.bytesSent;
      totals.forwarded += l.forwarded;
    }
    return totals;
  }

  /** Which node holds a client's session, and the session as that node describes it. */
  async lookup(clientId: string): Promise<ClusterClientLookup | undefined> {
    const nodeId = await this.#deps.ownerOf(clientId);
    if (nodeId === undefined) return undefined;
    if (nodeId === this.#ctx.nodeId) {
      return { clientId, nodeId, nodeAlive: true, session: this.#describe(clientId) };
    }
    const nodeAlive = await this.#deps.membership.isAlive(nodeId);
    const answer = nodeAlive ? await this.#ask(nodeId, { k: 'lookup', c: clientId }) : undefined;
    return { clientId, nodeId, nodeAlive, session: (answer as ClusterSessionInfo | null) ?? null };
  }

  /**
   * Disconnects a client wherever it is connected (v5: DISCONNECT with `reasonCode`): the node
   * holding its session does it. `kicked` is false when it is not connected (or its node did not
   * answer in time); `nodeId` is the holder, if any.
   */
  async kick(clientId: string, reasonCode: number): Promise<{ kicked: boolean; nodeId: string | null }> {
    const nodeId = await this.#deps.ownerOf(clientId);
    if (nodeId === undefined) return { kicked: false, nodeId: null };
    if (nodeId === this.#ctx.nodeId) {
      return { kicked: this.#deps.broker().kick(clientId, reasonCode), nodeId };
    }
    const answer = await this.#ask(nodeId, { k: 'kick', c: clientId, rc: reasonCode });
    return { kicked: answer === true, nodeId };
  }

  /** Publishes the totals as retained `$SYS/cluster/…` topics on this node (with its `$SYS` tick). */
  async publishSys(): Promise<void> {
    let totals: ClusterTotals;
    try {
      totals = await this.totals();
    } catch (error) {
      this.#ctx.log.warn({ error: (error as Error).message }, 'cluster: $SYS totals not read');
      return;
    }
    const broker = this.#deps.broker();
    for (const [suffix, value] of SYS_TOPICS) {
      broker.publish(`$SYS/cluster/${suffix}`, String(value(totals)), { retain: true });
    }
  }

  /** Handles a notice on this node's management channel; false when `channel` is not it. */
  onChannel(channel: string, data: Buffer): boolean {
    if (channel !== this.channel) return false;
    const notice = JSON.parse(data.toString()) as Request;
    if (notice.k === 'answer') {
      this.#waiting.get(notice.r)?.(notice.v);
      return true;
    }
    if (notice.from === undefined || notice.c === undefined) return true;
    const value =
      notice.k === 'lookup'
        ? this.#describe(notice.c)
        : this.#deps.broker().kick(notice.c, notice.rc ?? 0x98);
    const answer: Request = { k: 'answer', r: notice.r, v: value };
    this.#ctx
      .redis()
      .publish(this.#ctx.keys.api(notice.from), JSON.stringify(answer))
      .catch(() => {});
    return true;
  }

  /** Asks another node; its answer, or undefined when none came within the timeout. */
  async #ask(node: string, request: Omit<Request, 'r' | 'from'>): Promise<unknown> {
    const r = randomBytes(8).toString('hex');
    const answered = new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(r);
        resolve(undefined);
      }, this.#deps.timeout);
      this.#waiting.set(r, (value) => {
        clearTimeout(timer);
        this.#waiting.delete(r);
        resolve(value);
      });
    });
    const notice: Request = { ...request, r, from: this.#ctx.nodeId };
    await this.#ctx.redis().publish(this.#ctx.keys.api(node), JSON.stringify(notice));
    return answered;
  }

  async #report(node: string): Promise<Report | undefined> {
    const json = await this.#ctx.redis().get(this.#ctx.keys.load(node));
    if (json === null) return undefined;
    try {
      return JSON.parse(json) as Report;
    } catch {
      return undefined;
    }
  }

  #load(): ClusterNodeLoad {
    const broker = this.#deps.broker();
    const s: Readonly<SysInfo> = broker.refreshStats();
    return {
      ready: broker.ready,
      clientsConnected: s.clientsConnected,
      sessions: s.clientsTotal,
      subscriptions: s.subscriptions,
      messagesReceived: s.messagesReceived,
      messagesSent: s.messagesSent,
      bytesReceived: s.bytesReceived,
      bytesSent: s.bytesSent,
      forwarded: this.#ctx.stats.forwarded,
      received: this.#ctx.stats.received,
    };
  }

  #describe(clientId: string): ClusterSessionInfo | null {
    const session: SessionInfo | undefined = this.#deps.broker().sessions.get(clientId);
    if (session === undefined) return null;
    const client = session.client?.state === 'connected' ? session.client : undefined;
    return {
      clientId,
      online: client !== undefined,
      protocolVersion: session.protocolVersion,
      username: client?.username ?? null,
      remoteAddress: client?.remoteAddress ?? null,
      connectedAt: client?.connectedAt ?? null,
      sessionExpiryInterval: session.expiryInterval,
      inflight: session.inflightCount,
      queued: session.queuedCount,
      dropped: session.droppedCount,
      subscriptions: [...session.subscriptions.values()].map((s) => ({
        topicFilter: s.topicFilter,
        qos: s.qos,
      })),
    };
  }
}
