import type { ProtocolVersion, QoS, Will } from '@x/packets';
import type { Delivery, Message } from './message.js';
import type { SessionSubscription } from './session.js';
import type { SysInfo } from './system.js';

/**
 * The storage seam: how the broker's state survives a restart.
 *
 * The broker keeps its working state in memory and tells its `Store` every change to the part that
 * must outlive the process, in the order the changes happen:
 *
 * - persistent sessions only (a Session Expiry Interval above 0; v3.1.1 clean session 0): the
 *   session itself, its subscriptions, the messages queued for it, its outbound QoS 1/2 messages in
 *   flight (with their packet ids and QoS 2 state) and the inbound QoS 2 packet ids awaiting PUBREL;
 * - every retained message (a deletion is `deleteRetained`), except `$SYS` topics;
 * - the `$SYS` counters, now and then.
 *
 * The change methods are synchronous and never throw: a store records the change (in memory, in a
 * write batch) and returns. `commit(done)` makes everything recorded before it durable and calls
 * `done` once, with an error when it could not. The broker calls `commit` at most once per
 * event-loop turn (a group commit) and, in acknowledged durability, holds the packets that promise
 * durability (PUBACK/PUBREC of a QoS 1/2 PUBLISH, the CONNACK that creates a persistent session, the
 * SUBACK of a persistent session) until `done` — and refuses what it cannot keep while `writable`
 * is false.
 *
 * At start the broker calls `open()` once and rebuilds its state from the answer; expired sessions
 * and messages are the store's to purge (or the broker drops them while loading). A store never
 * reads the broker: what it needs comes through these calls.
 */
export interface Store {
  /** A name for logs and readiness ('memory', 'redis', 'sqlite'…). */
  readonly name: string;
  /**
   * False while the store cannot accept writes (disk full, read-only, server down): the broker
   * then refuses QoS 1/2 publishes and reports not-ready. Default: always true.
   */
  readonly writable?: boolean;
  /**
   * True when `commit` makes durable nothing but what the change methods recorded (no writes of the
   * store's own ride on it, as a cluster's forwarded messages do). The broker may then send a QoS 1
   * PUBACK before its commit when no stored session holds the message (none took it, or each one
   * acknowledged it): nothing of it is left to keep. Default false.
   */
  readonly commitsOnlyRecordedChanges?: boolean;

  /** Opens the store and returns everything it holds. Rejects with a clear error (corrupt, newer format). */
  open(): Promise<StoredState>;

  /** A persistent session was created or resumed, or its expiry, will or online state changed. */
  saveSession(session: StoredSession): void;
  /** A session ended (expired, clean start, expiry 0 at DISCONNECT): forget it and everything it had. */
  deleteSession(clientId: string): void;

  /** A subscription of a persistent session was added or replaced. */
  saveSubscription(clientId: string, subscription: SessionSubscription): void;
  deleteSubscription(clientId: string, topicFilter: string): void;

  /**
   * A delivery was appended to a persistent session's queue. `seq` (also `delivery.seq`) grows with
   * every message queued for the session, across restarts: `open()` gives each queued delivery back
   * with its `seq`.
   */
  queueMessage(clientId: string, seq: number, delivery: Delivery): void;
  /** The delivery queued under `seq` left the queue (sent, expired or dropped). */
  dequeueMessage(clientId: string, seq: number): void;

  /** An outbound QoS 1/2 message is in flight under `packetId`; `released`: a QoS 2 flow at PUBREL. */
  saveInflight(clientId: string, packetId: number, delivery: Delivery, released: boolean): void;
  /** The outbound flow under `packetId` completed (or its message was dropped). */
  deleteInflight(clientId: string, packetId: number): void;

  /** An inbound QoS 2 PUBLISH was accepted under `packetId` and awaits PUBREL [MQTT-4.3.3-10]. */
  saveInboundQos2(clientId: string, packetId: number): void;
  deleteInboundQos2(clientId: string, packetId: number): void;

  /** A retained message was stored (its payload is owned: it may be kept by reference). */
  saveRetained(message: Message): void;
  deleteRetained(topic: string): void;

  /** The `$SYS` counters (messages and bytes in/out, …), to carry across restarts. */
  saveSysInfo(info: Readonly<SysInfo>): void;

  /**
   * Makes the changes recorded since the previous commit durable, then calls `done` once, with an
   * error when they could not be (the broker then refuses what depended on them). Calls made while an
   * earlier commit is still running complete after it, in order.
   *
   * `urgent`: something waits for this commit that nothing else can release (a PUBREC, a CONNACK, a
   * PUBACK of a retained or QoS 2 message). A store that spaces its writes out to let changes cancel
   * (the embedded store's commit window) writes such a commit without waiting. When false, the only
   * acknowledgements waiting are QoS 1 PUBACKs that also go once their subscribers acknowledge (see
   * `commitsOnlyRecordedChanges`).
   */
  commit(done: (error: Error | undefined) => void, urgent?: boolean): void;

  /** Commits what is pending and releases the store; no change method is called after it. */
  close(): Promise<void>;
}

/** A persistent session as stored. */
export interface StoredSession {
  clientId: string;
  protocolVersion: ProtocolVersion;
  /** Seconds; 0xFFFFFFFF never expires. */
  expiryInterval: number;
  /** Epoch ms at which the session went offline; 0 while a connection has it. */
  disconnectedAt: number;
  /**
   * The will of the connection that has the session: published at the next start when the broker
   * died with the client online (as if its connection had dropped).
   */
  will: Will | undefined;
  /** A will waiting for its Will Delay Interval, due at `dueAt` (epoch ms) [MQTT-3.1.3-9]. */
  pendingWill: { will: Will; dueAt: number } | undefined;
}

/** An outbound QoS 1/2 message of a session, as stored. */
export interface StoredInflight {
  packetId: number;
  delivery: Delivery;
  /** A QoS 2 flow that got its PUBREC: PUBREL is re-sent, not the message [MQTT-4.4.0-1]. */
  released: boolean;
}

/** What `Store.open()` returns. */
export interface StoredState {
  sessions: Array<
    StoredSession & {
      subscriptions: SessionSubscription[];
      /** In queue order, each with the `seq` it was queued under. */
      queue: Delivery[];
      /** In the order they were sent. */
      inflight: StoredInflight[];
      inboundQos2: number[];
    }
  >;
  retained: Message[];
  sysInfo: Partial<SysInfo> | undefined;
}

/** A message as a store gives it back (`Message` with the fields a store does not keep defaulted). */
export function storedMessage(
  topic: string,
  payload: Uint8Array,
  qos: QoS,
  retain: boolean,
  properties: Message['properties'],
  expiresAt: number,
): Message {
  // storeRows -2: pinned, a loaded message is not a PUBLISH whose PUBACK waits (see Message).
  return { topic, payload, qos, retain, properties, expiresAt, origin: '', owned: true, storeRows: -2 };
}
