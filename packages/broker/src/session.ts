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
  #subscriptions: SubscriptionMap<SessionSubscription> | undefined;
  /**
   * What an online session that never overflows, never drops and has no delayed will does not use
   * (overflow queues, timers of an offline session, drop count), made on first use: fields cost 8
   * bytes each on every idle connection's session.
   */
  #rare: SessionRare | undefined;
  /** The live connection, when online. */
  client: Client | undefined;
  /** Session Expiry Interval in seconds to apply on disconnection. */
  expiryInterval = 0;
  /** The will of the current (or last) connection. */
  will: Will | undefined;
  /** True while a store holds this session (it is persistent and the broker has a store). */
  stored = false;
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

  #more(): SessionRare {
    this.#rare ??= { ...RARE_UNSET };
    return this.#rare;
  }

  /** Sets a rare field, making the rare part only for a value other than its unset one. */
  #put<K extends keyof SessionRare>(key: K, value: SessionRare[K]): void {
    if (this.#rare !== undefined || value !== RARE_UNSET[key]) this.#more()[key] = value;
  }

  /**
   * Messages for the online client that came while `queue` was full, each with its publisher's held
   * acknowledgement (`overflowHolds`, in step): they move into `queue` as it makes room. Until the
   * first `pushOverflow` both are one shared empty queue that refuses `push`.
   */
  get overflow(): RingQueue<Delivery> {
    return this.#rare?.overflow ?? (noItems as EmptyQueue<Delivery>);
  }

  get overflowHolds(): RingQueue<HeldAck> {
    return this.#rare?.overflowHolds ?? (noItems as EmptyQueue<HeldAck>);
  }

  /** Appends to the overflow, with the held acknowledgement that goes with the delivery. */
  pushOverflow(delivery: Delivery, hold: HeldAck): void {
    const rare = this.#more();
    rare.overflow ??= new RingQueue();
    rare.overflowHolds ??= new RingQueue();
    rare.overflow.push(delivery);
    rare.overflowHolds.push(hold);
  }

  /** Bytes (payload and topic) of the messages in `overflow`. */
  get overflowBytes(): number {
    return this.#rare?.overflowBytes ?? 0;
  }
  set overflowBytes(bytes: number) {
    this.#put('overflowBytes', bytes);
  }

  /** Epoch ms of the client's last progress while `overflow` is not empty (stall detection). */
  get progressAt(): number {
    return this.#rare?.progressAt ?? 0;
  }
  set progressAt(at: number) {
    this.#put('progressAt', at);
  }

  /** Epoch ms at which an offline session expires; 0 when not scheduled. */
  get expiresAt(): number {
    return this.#rare?.expiresAt ?? 0;
  }
  set expiresAt(at: number) {
    this.#put('expiresAt', at);
  }

  /** A will waiting for its Will Delay Interval. */
  get pendingWill(): Will | undefined {
    return this.#rare?.pendingWill;
  }
  set pendingWill(will: Will | undefined) {
    this.#put('pendingWill', will);
  }

  /** When `pendingWill` is due (epoch ms). */
  get willDueAt(): number {
    return this.#rare?.willDueAt ?? 0;
  }
  set willDueAt(at: number) {
    this.#put('willDueAt', at);
  }

  /** Epoch ms at which the session went offline (0 while online or never connected here). */
  get disconnectedAt(): number {
    return this.#rare?.disconnectedAt ?? 0;
  }
  set disconnectedAt(at: number) {
    this.#put('disconnectedAt', at);
  }

  /** Messages not delivered to this session (slow client, full queue, too large, expired). */
  get droppedCount(): number {
    return this.#rare?.droppedCount ?? 0;
  }
  set droppedCount(count: number) {
    this.#put('droppedCount', count);
  }

  /** Inbound QoS 2 packet ids received and PUBREC'd, awaiting PUBREL (exactly-once). */
  get inboundQos2(): Set<number> {
    const rare = this.#more();
    rare.inboundQos2 ??= new Set();
    return rare.inboundQos2;
  }
}

/** The part of a session's state that few sessions use (see `Session.#rare`). */
interface SessionRare {
  overflow: RingQueue<Delivery> | undefined;
  overflowHolds: RingQueue<HeldAck> | undefined;
  overflowBytes: number;
  progressAt: number;
  inboundQos2: Set<number> | undefined;
  expiresAt: number;
  pendingWill: Will | undefined;
  willDueAt: number;
  disconnectedAt: number;
  droppedCount: number;
}

/** Each rare field's value while unset: what the getters answer before the rare part exists. */
const RARE_UNSET: Readonly<SessionRare> = {
  overflow: undefined,
  overflowHolds: undefined,
  overflowBytes: 0,
  progressAt: 0,
  inboundQos2: undefined,
  expiresAt: 0,
  pendingWill: undefined,
  willDueAt: 0,
  disconnectedAt: 0,
  droppedCount: 0,
};

/** The overflow of a session that never overflowed: empty, and a `push` to it is a bug. */
class EmptyQueue<T> extends RingQueue<T> {
  override push(_item: T): void {
    throw new Error('push to a shared empty queue: use Session.pushOverflow');
  }
}

const noItems = new EmptyQueue<never>();
