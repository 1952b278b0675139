import type { ProtocolVersion, QoS, Will } from '@x/packets';
import type { Client } from './client.js';
import type { ClientInfo } from './client-info.js';
import { Inflight } from './inflight.js';
import type { Delivery } from './message.js';
import type { HeldAck } from './persistence.js';
import { RingQueue } from './queue.js';
import { SubscriptionMap } from './subscription-map.js';

/** One subscription of a session, as granted. */
export interface SessionSubscription {
  topicFilter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier: number | undefined;
}

export const NEVER_EXPIRES = 0xffffffff;

/** What the host application and plugins see of a session. */
export interface SessionInfo {
  readonly clientId: string;
  readonly protocolVersion: ProtocolVersion;
  /** The live connection, when online. */
  readonly client: ClientInfo | undefined;
  /** Session Expiry Interval in seconds (0xFFFFFFFF: never). */
  readonly expiryInterval: number;
  readonly subscriptions: ReadonlyMap<string, Readonly<SessionSubscription>>;
  /** Outbound QoS 1/2 messages awaiting acknowledgement. */
  readonly inflightCount: number;
  /** Messages waiting to be sent. */
  readonly queuedCount: number;
  /** Messages not delivered to this session (slow client, full queue, too large, expired). */
  readonly droppedCount: number;
}

/**
 * Session state: what survives a disconnection (subscriptions, in-flight and queued messages, QoS 2
 * packet ids awaiting PUBREL, a delayed will). The connection (`Client`) is attached while online.
 */
export class Session implements SessionInfo {
  readonly clientId: string;
  protocolVersion: ProtocolVersion;
  readonly inflight = new Inflight();
  /** Messages waiting for the client to come online or for room in its in-flight window. */
  readonly queue = new RingQueue<Delivery>();
  /** Made by the first `pushOverflow`: most sessions never overflow. */
  #overflow: RingQueue<Delivery> | undefined;
  #overflowHolds: RingQueue<HeldAck> | undefined;
  /** Bytes (payload and topic) of the messages in `overflow`. */
  overflowBytes = 0;
  /** Epoch ms of the client's last progress while `overflow` is not empty (stall detection). */
  progressAt = 0;
  #subscriptions: SubscriptionMap<SessionSubscription> | undefined;
  #inboundQos2: Set<number> | undefined;
  /** The live connection, when online. */
  client: Client | undefined;
  /** Session Expiry Interval in seconds to apply on disconnection. */
  expiryInterval = 0;
  /** Epoch ms at which an offline session expires; 0 when not scheduled. */
  expiresAt = 0;
  /** The will of the current (or last) connection. */
  will: Will | undefined;
  /** A will waiting for its Will Delay Interval, and when it is due (epoch ms). */
  pendingWill: Will | undefined;
  willDueAt = 0;
  /** Epoch ms at which the session went offline (0 while online or never connected here). */
  disconnectedAt = 0;
  /** True while a store holds this session (it is persistent and the broker has a store). */
  stored = false;
  droppedCount = 0;
  /** Bytes (payload and topic) of the messages in `queue`. */
  queuedBytes = 0;
  /** User name of the connection that created the session (for `bindClientIdToUsername`). */
  owner: string | undefined;
  /** Sequence number of the next delivery queued for a stored session. */
  nextSeq = 1;

  constructor(clientId: string, protocolVersion: ProtocolVersion) {
    this.clientId = clientId;
    this.protocolVersion = protocolVersion;
  }

  /** The session's subscriptions by filter (created on first use, like the other collections). */
  get subscriptions(): SubscriptionMap<SessionSubscription> {
    if (this.#subscriptions === undefined) this.#subscriptions = new SubscriptionMap();
    return this.#subscriptions;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /**
   * Messages for the online client that came while `queue` was full, each with its publisher's held
   * acknowledgement (`overflowHolds`, in step): they move into `queue` as it makes room. Until the
   * first `pushOverflow` both are one shared empty queue that refuses `push`.
   */
  get overflow(): RingQueue<Delivery> {
    return this.#overflow ?? (noItems as EmptyQueue<Delivery>);
  }

  get overflowHolds(): RingQueue<HeldAck> {
    return this.#overflowHolds ?? (noItems as EmptyQueue<HeldAck>);
  }

  /** Appends to the overflow, with the held acknowledgement that goes with the delivery. */
  pushOverflow(delivery: Delivery, hold: HeldAck): void {
    this.#overflow ??= new RingQueue();
    this.#overflowHolds ??= new RingQueue();
    this.#overflow.push(delivery);
    this.#overflowHolds.push(hold);
  }

  /** Inbound QoS 2 packet ids received and PUBREC'd, awaiting PUBREL (exactly-once). */
  get inboundQos2(): Set<number> {
    if (this.#inboundQos2 === undefined) this.#inboundQos2 = new Set();
    return this.#inboundQos2;
  }
}

/** The overflow of a session that never overflowed: empty, and a `push` to it is a bug. */
class EmptyQueue<T> extends RingQueue<T> {
  override push(_item: T): void {
    throw new Error('push to a shared empty queue: use Session.pushOverflow');
  }
}

const noItems = new EmptyQueue<never>();
