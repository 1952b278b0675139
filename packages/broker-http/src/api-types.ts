/**
 * The JSON shapes the management API sends and accepts, shared with its clients (the dashboard
 * imports them from `@x/broker-http/api-types`). This file imports nothing, so a browser build can
 * type-check against it without pulling in Node.js types; `api.ts` checks its answers against it.
 */

/** Where the broker is in its life. */
export type BrokerStateName = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** `{ "error": { "code", "message" } }`, sent with every 4xx/5xx answer. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** One page of a list endpoint. */
export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

/** `GET /api/v1/info`. */
export interface InfoResponse {
  name: string;
  version: string;
  node: string;
  startedAt: string;
  /** Seconds since start. */
  uptime: number;
  state: BrokerStateName;
  listeners: Array<{ id: string; address: string }>;
  /** Running and, with a store, able to write to it (what `/readyz` answers). */
  ready: boolean;
  /** The store's name ('redis', 'sqlite'…), null without one. */
  store: string | null;
  /** True when a store or a storage hook keeps sessions or retained messages across restarts. */
  persistent: boolean;
  memory: MemoryFigures;
}

/** Process memory, bytes. */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** `GET /api/v1/config`: the broker options in force and the host's config (secrets masked). */
export interface ConfigResponse {
  broker: Record<string, unknown>;
  app?: unknown;
}

/** `GET /api/v1/stats` (and `/stats`): the `$SYS` figures. */
export interface StatsResponse {
  version: string;
  /** Epoch ms of the start. */
  started: number;
  clientsConnected: number;
  clientsTotal: number;
  clientsMaximum: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  subscriptions: number;
  retained: number;
  inflight: number;
  publishDropped: number;
  connectionsTotal: number;
  /** Connections closed at once for a limit (a listener's `maxConnections` or `connectionRate`, the broker's `maxConnections`). */
  connectionsRefused: number;
  readPauses: number;
  /** PUBACK/PUBREC held back because a subscriber's queue was full (backpressure). */
  acksHeld: number;
  /** Bytes of messages whose acknowledgement is held now. */
  heldBytes: number;
  /** The most bytes one publisher ever had held. */
  heldBytesPeak: number;
  /** Subscribers disconnected for staying stalled with a full queue. */
  stalledConsumers: number;
}

/** `GET /api/v1/clients/count`. */
export interface ClientCountResponse {
  online: number;
  sessions: number;
}

/** One row of `GET /api/v1/clients`. */
export interface ClientSummary {
  clientId: string;
  online: boolean;
  /** 3 (3.1), 4 (3.1.1) or 5. */
  protocolVersion: number;
  username: string | null;
  remoteAddress: string | null;
  listener: string | null;
  /** ISO time, null while offline. */
  connectedAt: string | null;
}

/** A subscription as a session holds it. */
export interface SubscriptionOptions {
  topicFilter: string;
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number | undefined;
}

/** `GET /api/v1/clients/{id}`. */
export interface ClientDetails extends ClientSummary {
  /** Seconds; null while offline. */
  keepAlive: number | null;
  lastSeen: string | null;
  sessionExpiryInterval: number;
  inflight: number;
  queued: number;
  /** Messages not delivered to this session (slow client, full queue, too large, expired). */
  dropped: number;
  subscriptions: SubscriptionOptions[];
}

/** `POST /api/v1/clients/{id}/kick`. */
export interface KickResponse {
  kicked: string;
}

/** One block-list entry: exactly one of client id, user name or remote address (IP or CIDR). */
export interface BlockEntryBody {
  id: number;
  clientId?: string;
  username?: string;
  remote?: string;
  /** Epoch ms. */
  addedAt: number;
  reason?: string;
}

/** `POST /api/v1/blocklist`. */
export interface BlockRequest {
  clientId?: string;
  username?: string;
  remote?: string;
  reason?: string;
}

/** v5 properties `POST /api/v1/publish` accepts. */
export interface PublishProperties {
  payloadFormatIndicator?: 0 | 1;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  /** Base64. */
  correlationData?: string;
  userProperties?: Array<[string, string]>;
}

/** `POST /api/v1/publish`. */
export interface PublishRequest {
  topic: string;
  payload?: string;
  /** Default utf8. */
  encoding?: 'utf8' | 'base64';
  qos?: 0 | 1 | 2;
  retain?: boolean;
  properties?: PublishProperties;
}

export interface PublishResponse {
  published: true;
  topic: string;
  bytes: number;
}

/** One row of `GET /api/v1/retained`. */
export interface RetainedItem {
  topic: string;
  qos: 0 | 1 | 2;
  /** Base64. */
  payload: string;
  bytes: number;
  properties: Record<string, unknown> | null;
}

/** `DELETE /api/v1/retained?topic=`. */
export interface DeleteRetainedResponse {
  deleted: string;
}

/** One row of `GET /api/v1/subscriptions`. */
export interface SubscriptionItem {
  clientId: string;
  topicFilter: string;
  qos: number;
}

/**
 * Server-sent events of `GET /api/v1/stream?filter=`: `message` events carry a
 * {@link StreamMessage}, `dropped` events a {@link StreamDropped}.
 */
export interface StreamMessage {
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** The payload as text when it is valid UTF-8, else base64; cut at the stream's payload limit. */
  payload: string;
  encoding: 'utf8' | 'base64';
  /** The payload's full size. */
  bytes: number;
  truncated: boolean;
  /** Epoch ms when the broker routed it. */
  at: number;
}

/** How many messages this stream has dropped so far because the browser read too slowly. */
export interface StreamDropped {
  dropped: number;
}

/**
 * One sample of `GET /api/v1/stream/stats` (event `sample`); the first event, `history`, holds
 * the samples of the last 15 minutes as `StatsSample[]`.
 */
export interface StatsSample {
  /** Epoch ms. */
  t: number;
  connections: number;
  /** Connections accepted since start (it moves on every connect, even when the count stays). */
  connectionsTotal: number;
  sessions: number;
  subscriptions: number;
  retained: number;
  inflight: number;
  /** Messages dropped since start. */
  dropped: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
  rss: number;
  heapUsed: number;
}

/** `POST /api/v1/traces`: what to trace (a client id, a topic filter, or both) and its bounds. */
export interface TraceRequestBody {
  clientId?: string;
  topicFilter?: string;
  /** Byte budget of the trace's records; default 1 MiB. */
  maxBytes?: number;
  /** Milliseconds before the trace stops itself (0: only the byte budget); default 600 000. */
  durationMs?: number;
  /** First N payload bytes as hex in each PUBLISH record; default 0. */
  payloadBytes?: number;
}

/** A packet trace: `POST`, `GET` and `DELETE /api/v1/traces/:id`, and the items of `GET /api/v1/traces`. */
export interface TraceItem {
  id: number;
  clientId?: string;
  topicFilter?: string;
  maxBytes: number;
  durationMs: number;
  payloadBytes: number;
  startedAt: string;
  packets: number;
  bytes: number;
  active: boolean;
  /** Why it ended: 'stopped' (asked), 'max-bytes', 'duration', 'broker-stopped'. */
  stopReason?: string;
  stoppedAt?: string;
}
