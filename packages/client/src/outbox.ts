import type {
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from '@x/packets';
import { isFailureReasonCode, ReasonCode } from '@x/packets';
import { AckByte, type Connection, toClientError } from './connection.js';
import { ClientErrorCode, MqttClientError, reasonName } from './errors.js';
import type { PublishResult, SubscribeResult } from './options.js';
import { StoreLink } from './outbox-store.js';
import type { OutgoingStore } from './store.js';
import { Subscriptions } from './subscriptions.js';
import type { OutgoingAliases } from './topic-alias.js';

/** What the outbox needs from its client. */
export interface OutboxHost {
  readonly protocolVersion: ProtocolVersion;
  /** The live connection (after CONNACK), if any. */
  connection(): Connection | undefined;
  /** An error no promise carries. */
  report(error: MqttClientError): void;
}

export const Kind = { PUBLISH: 0, SUBSCRIBE: 1, UNSUBSCRIBE: 2 } as const;

/** Operation.stored: not in the outgoing store, being written to it, written (durable). */
const NOT_STORED = 0;
const STORING = 1;
const STORED = 2;

/** An operation waiting for its turn or for its acknowledgement. */
export interface Operation {
  kind: 0 | 1 | 2;
  packet: PublishPacket | SubscribePacket | UnsubscribePacket;
  /** PUBLISH QoS 2: false until PUBREC arrives, then true (PUBREL sent, waiting for PUBCOMP). */
  released: boolean;
  /** Order in which PUBRECs arrived, for re-sending PUBRELs in that order. */
  releasedAt: number;
  /** Date.now() when it was submitted while offline (0 otherwise): the offline wait starts then. */
  since: number;
  /** Rejected by operationTimeout while in flight; kept only to finish its flow if the session resumes. */
  timedOut: boolean;
  /** In the outgoing store: NOT_STORED, STORING (not sent until durable) or STORED. */
  stored: 0 | 1 | 2;
  /** QoS 2 with a store: PUBREC arrived, the release is being written (PUBREL waits for it). */
  releasing: boolean;
  resolve: ((value: never) => void) | undefined;
  reject: ((error: Error) => void) | undefined;
}

/** The result of every plain success (shared: it is frozen). */
export const SUCCESS: PublishResult = Object.freeze({ reasonCode: 0 });

/**
 * The sending half of the session: packet identifiers, QoS 1/2 publishes, subscribes and
 * unsubscribes in flight, the queue of operations waiting for the connection or for the server's
 * Receive Maximum, and the subscriptions to restore. It survives reconnects.
 *
 *   submit() ─► queue ─► (connected, quota left) ─► in flight ─► ack ─► resolve
 *                  ▲                                   │
 *                  └──────── reconnect: re-sent ◄──────┘
 */
export class Outbox {
  readonly #host: OutboxHost;
  readonly #queueLimit: number;
  /** ms an operation may wait while offline (operationTimeout); Infinity: no limit. */
  readonly #operationTimeout: number;
  /** Date.now() when the connection was lost; 0 while connected. */
  #offlineSince = 0;
  /** The one timer that expires operations waiting offline (none per operation). */
  #expiry: ReturnType<typeof setTimeout> | undefined;
  readonly #inflight = new Map<number, Operation>();
  /** Packet ids of stored publishes still queued (given out when they were stored). */
  readonly #reserved = new Set<number>();
  readonly #store: StoreLink | undefined;
  #publishing = 0;
  #nextPacketId = 1;
  #releases = 0;
  #queue: (Operation | undefined)[] = [];
  #queueHead = 0;
  readonly #subscriptions = new Subscriptions();
  /** The server's Receive Maximum (v5 CONNACK). */
  sendQuota = 65_535;
  /** Automatic outgoing topic aliases of the current connection. */
  aliases: OutgoingAliases | undefined;

  constructor(
    host: OutboxHost,
    queueLimit: number,
    operationTimeout = Number.POSITIVE_INFINITY,
    store?: OutgoingStore,
  ) {
    this.#host = host;
    this.#store = store && new StoreLink(store, host.protocolVersion, (error) => host.report(error));
    this.#queueLimit = queueLimit;
    this.#operationTimeout = operationTimeout;
  }

  /** Operations sent and not yet acknowledged. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Operations waiting to be sent. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** True when nothing waits, so a new operation may go out at once. */
  get idle(): boolean {
    return this.#queueHead === this.#queue.length;
  }

  /** Sends now when the connection and the quota allow, otherwise queues (bounded by queueLimit). */
  submit(kind: 0 | 1 | 2, packet: Operation['packet']): Promise<unknown> {
    if (this.queued >= this.#queueLimit) {
      return Promise.reject(
        new MqttClientError(
          ClientErrorCode.QUEUE_FULL,
          `${this.queued} operations already queued (queueLimit)`,
        ),
      );
    }
    const op = newOperation(kind, packet);
    // The promise's settle functions go straight into the operation: no closure per operation.
    capturing = op;
    const promise = new Promise(capture);
    if (this.#store && packet.type === 'publish' && packet.qos > 0 && !this.#persist(op, packet)) {
      return promise;
    }
    if (this.#host.connection()) {
      if (this.#queueHead === this.#queue.length && this.#canStart(op)) this.#start(op);
      else this.#queue.push(op);
      return promise;
    }
    op.since = Date.now();
    this.#queue.push(op);
    if (this.#offlineSince > 0 && this.#expiry === undefined) this.#expire();
    return promise;
  }

  #canStart(op: Operation): boolean {
    return (
      op.stored !== STORING &&
      (op.kind !== Kind.PUBLISH ||
        op.packet.type !== 'publish' ||
        op.packet.qos === 0 ||
        this.#publishing < this.sendQuota)
    );
  }

  /**
   * Gives a QoS 1/2 publish its packet id now and writes it to the outgoing store; it waits in the
   * queue until the write is durable, so that whatever the server may have seen is in the store
   * (a restarted client then never re-uses a packet id the server still holds). False when it
   * failed at once (the promise is rejected).
   */
  #persist(op: Operation, packet: PublishPacket): boolean {
    const store = this.#store as StoreLink;
    let stored: Promise<void>;
    try {
      if (this.#inflight.size + this.#reserved.size >= 65_535) {
        throw new MqttClientError(ClientErrorCode.QUEUE_FULL, 'all 65 535 packet identifiers are in use');
      }
      packet.packetId = this.#allocatePacketId();
      stored = store.put(packet);
    } catch (error) {
      packet.packetId = undefined;
      op.reject?.(toClientError(error));
      return false;
    }
    const id = packet.packetId;
    this.#reserved.add(id);
    op.stored = STORING;
    stored.then(
      () => {
        op.stored = STORED;
        if (this.#queueHead < this.#queue.length) this.pump();
      },
      (error: MqttClientError) => {
        op.stored = NOT_STORED;
        this.#reserved.delete(id);
        const at = this.#queue.indexOf(op, this.#queueHead);
        if (at >= 0) this.#queue.splice(at, 1);
        op.reject?.(error);
        this.pump();
      },
    );
    return true;
  }

  /**
   * Takes back the publishes an outgoing store kept from an earlier run, with their packet ids:
   * the released ones in flight (`resume()` sends their PUBREL), the others at the head of the
   * queue with DUP set (they may have reached the server), sent within the server's Receive Maximum.
   */
  async restore(): Promise<void> {
    for (const { packet, released } of (await this.#store?.load()) ?? []) {
      const id = packet.packetId as number;
      packet.dup = !released;
      const op = newOperation(Kind.PUBLISH, packet);
      op.stored = STORED;
      op.released = released;
      if (released) {
        op.releasedAt = ++this.#releases;
        this.#inflight.set(id, op);
        this.#publishing++;
      } else {
        this.#reserved.add(id);
        this.#queue.push(op);
      }
    }
  }

  /** Sends an operation for the first time on the current connection. */
  #start(op: Operation): void {
    const connection = this.#host.connection() as Connection;
    const packet = op.packet;
    if (packet.type === 'publish' && packet.qos === 0) {
      try {
        this.sendPublish(connection, packet);
        op.resolve?.(SUCCESS as never);
      } catch (error) {
        op.reject?.(toClientError(error));
      }
      return;
    }
    let id: number;
    if (op.stored === NOT_STORED) {
      id = this.#allocatePacketId();
      packet.packetId = id;
    } else {
      id = packet.packetId as number;
      this.#reserved.delete(id);
    }
    this.#inflight.set(id, op);
    if (packet.type === 'publish') this.#publishing++;
    try {
      // A restored publish keeps its DUP: it may have reached the server before the restart.
      this.#sendOperation(connection, op, packet.type === 'publish' && packet.dup);
    } catch (error) {
      this.#finish(id, op);
      op.reject?.(toClientError(error));
    }
  }

  #sendOperation(connection: Connection, op: Operation, dup: boolean): void {
    const packet = op.packet;
    if (packet.type === 'publish') {
      if (op.released) {
        connection.sendAck(AckByte.pubrel, packet.packetId as number);
        return;
      }
      packet.dup = dup; // [MQTT-3.3.1-1] DUP on a re-delivery
      this.sendPublish(connection, packet);
    } else {
      connection.send(packet);
    }
  }

  /** Sends a PUBLISH, through the connection's automatic topic aliases when there are any. */
  sendPublish(connection: Connection, packet: PublishPacket): void {
    const aliases = this.aliases;
    connection.send(aliases ? aliases.apply(packet) : packet);
  }

  #allocatePacketId(): number {
    // [MQTT-2.2.1-3] a packet identifier is unique among the ones in use
    for (;;) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65_535 ? 1 : id + 1;
      if (!this.#inflight.has(id) && (this.#reserved.size === 0 || !this.#reserved.has(id))) return id;
    }
  }

  #finish(id: number, op: Operation): void {
    this.#inflight.delete(id);
    if (op.stored !== NOT_STORED) this.#store?.delete(id);
    if (op.kind === Kind.PUBLISH) this.#publishing--;
    if (this.#queueHead < this.#queue.length) this.pump();
  }

  /** Starts queued operations while the connection, the quota and back-pressure allow. */
  pump(): void {
    const connection = this.#host.connection();
    if (!connection) return;
    const queue = this.#queue;
    while (this.#queueHead < queue.length) {
      const op = queue[this.#queueHead] as Operation;
      if (!this.#canStart(op) || connection.congested) break;
      queue[this.#queueHead++] = undefined;
      this.#start(op);
    }
    if (this.#queueHead === queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > queue.length) {
      this.#queue = queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /**
   * After a CONNACK: without a session on the server, subscribe again (when asked); then re-send
   * what is unacknowledged and start what is queued.
   */
  resume(connection: Connection, sessionPresent: boolean, resubscribe: boolean): void {
    this.#offlineSince = 0;
    if (this.#expiry !== undefined) clearTimeout(this.#expiry);
    this.#expiry = undefined;
    if (!sessionPresent && resubscribe) this.#resubscribe();
    // [MQTT-4.4.0-1] re-send unacknowledged PUBLISH (DUP) in their original order, then PUBREL in
    // the order their PUBRECs arrived [MQTT-4.6.0-3].
    const entries = [...this.#inflight];
    const released = entries
      .filter(([, op]) => op.released)
      .sort((a, b) => a[1].releasedAt - b[1].releasedAt);
    for (const [id, op] of [...entries.filter(([, op]) => !op.released), ...released]) {
      if (!sessionPresent && op.timedOut) {
        // Its promise already rejected and a new session owes it nothing: do not send it now.
        this.#finish(id, op);
        continue;
      }
      if (!sessionPresent && op.released) {
        // The server had taken the message (PUBREC); its new session cannot complete the flow.
        this.#finish(id, op);
        op.resolve?.({ reasonCode: 0 } as never);
        continue;
      }
      try {
        this.#sendOperation(connection, op, sessionPresent && op.kind === Kind.PUBLISH);
      } catch (error) {
        this.#finish(id, op);
        op.reject?.(toClientError(error));
      }
    }
    this.pump();
  }

  #resubscribe(): void {
    const pending = new Set<string>();
    for (const op of this.#inflight.values()) {
      if (op.packet.type === 'subscribe') for (const s of op.packet.subscriptions) pending.add(s.topicFilter);
    }
    for (const packet of this.#subscriptions.packets(pending)) {
      const op = newOperation(Kind.SUBSCRIBE, packet);
      op.reject = (error) => this.#host.report(toClientError(error));
      // Resubscriptions go first, before publishes that may depend on them.
      this.#queue.splice(this.#queueHead, 0, op);
    }
  }

  /** PUBACK, PUBREC or PUBCOMP for one of our publishes. */
  onAck(
    connection: Connection,
    type: 'puback' | 'pubrec' | 'pubcomp',
    packetId: number,
    reasonCode: number,
    properties: Properties | undefined,
  ): void {
    switch (type) {
      case 'puback':
      case 'pubcomp': {
        const op = this.#inflight.get(packetId);
        if (op?.packet.type !== 'publish' || (type === 'puback') !== (op.packet.qos === 1)) return;
        if (type === 'pubcomp' && !op.released) return;
        this.#finish(packetId, op);
        // A PUBCOMP never fails the publish: the server took the message with its PUBREC. Its only
        // failure code, 0x92, means it no longer knows the packet id (a session restored without
        // that state): the flow is over all the same, so resolve and report the code.
        if (isFailureReasonCode(reasonCode) && type === 'puback')
          op.reject?.(publishRejected(reasonCode, properties));
        else if (reasonCode === 0 && !properties) op.resolve?.(SUCCESS as never);
        else op.resolve?.({ reasonCode, properties: properties } as never);
        return;
      }
      case 'pubrec': {
        const op = this.#inflight.get(packetId);
        if (op?.packet.type !== 'publish' || op.packet.qos !== 2) {
          // Answer an unknown PUBREC (v5: 0x92 Packet Identifier not found) so that the server's flow ends.
          connection.send({
            type: 'pubrel',
            packetId: packetId,
            ...(this.#host.protocolVersion === 5 ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
          });
          return;
        }
        if (isFailureReasonCode(reasonCode)) {
          // A PUBREC with a failure reason ends the flow: no PUBREL (section 4.3.3).
          this.#finish(packetId, op);
          op.reject?.(publishRejected(reasonCode, properties));
          return;
        }
        if (!op.released && op.stored !== NOT_STORED) {
          this.#release(packetId, op);
          return;
        }
        if (!op.released) {
          op.released = true;
          op.releasedAt = ++this.#releases;
        }
        // [MQTT-4.3.3-9] answer PUBREC with PUBREL
        connection.sendAck(AckByte.pubrel, packetId);
        return;
      }
    }
  }

  /**
   * A stored QoS 2 publish got its PUBREC: the PUBREL goes out once the store has recorded the
   * release. Sent earlier, a crash could leave the store re-sending a PUBLISH whose flow the server
   * had already completed, and the server would take it as a new message.
   */
  #release(packetId: number, op: Operation): void {
    if (op.releasing) return;
    op.releasing = true;
    (this.#store as StoreLink).release(packetId).then(
      () => {
        op.releasing = false;
        op.released = true;
        op.releasedAt = ++this.#releases;
        const connection = this.#host.connection();
        // [MQTT-4.3.3-9] answer PUBREC with PUBREL, on whatever connection is up now (offline, the
        // next resume() sends it)
        if (connection && this.#inflight.get(packetId) === op) connection.sendAck(AckByte.pubrel, packetId);
      },
      (error: MqttClientError) => {
        // Still unreleased: the PUBLISH is re-sent on the next connection and the PUBREC tries again.
        op.releasing = false;
        this.#host.report(error);
      },
    );
  }

  onSuback(packet: SubackPacket): void {
    const op = this.#inflight.get(packet.packetId);
    if (op?.packet.type !== 'subscribe') return;
    this.#finish(packet.packetId, op);
    const subs = op.packet.subscriptions;
    const results: SubscribeResult[] = subs.map((sub, i) => {
      const reasonCode = packet.reasonCodes[i] ?? ReasonCode.UnspecifiedError;
      const ok = !isFailureReasonCode(reasonCode);
      if (ok) this.#subscriptions.granted(sub, (op.packet as SubscribePacket).properties);
      return { topicFilter: sub.topicFilter, reasonCode, qos: ok ? (reasonCode as QoS) : undefined };
    });
    if (op.resolve) op.resolve(results as never);
    else {
      const failed = results.find((r) => isFailureReasonCode(r.reasonCode));
      if (failed) {
        this.#host.report(
          new MqttClientError(
            ClientErrorCode.PROTOCOL_ERROR,
            `resubscribe to ${failed.topicFilter} refused: ${reasonName(failed.reasonCode)}`,
            {
              reasonCode: failed.reasonCode,
            },
          ),
        );
      }
    }
  }

  onUnsuback(packet: UnsubackPacket): void {
    const op = this.#inflight.get(packet.packetId);
    if (op?.packet.type !== 'unsubscribe') return;
    this.#finish(packet.packetId, op);
    const results = op.packet.topicFilters.map((topicFilter, i) => {
      this.#subscriptions.removed(topicFilter);
      return { topicFilter, reasonCode: packet.reasonCodes?.[i] ?? 0 };
    });
    op.resolve?.(results as never);
  }

  /**
   * The connection is lost and a reconnect will follow: from now on operations may wait at most
   * operationTimeout (counted from now, or from their submission when later).
   */
  offline(): void {
    if (this.#operationTimeout === Number.POSITIVE_INFINITY) return;
    this.#offlineSince = Date.now();
    this.#expire();
  }

  /**
   * Rejects operations that waited offline longer than operationTimeout with OPERATION_TIMEOUT, then
   * sets the one timer for the next deadline. Queued operations leave the queue; operations in
   * flight keep their packet id (a resumed session still completes their flow, MQTT-4.4.0-1) but
   * their promise settles now.
   */
  #expire(): void {
    this.#expiry = undefined;
    if (this.#offlineSince === 0 || this.#host.connection()) return;
    const now = Date.now();
    const timeout = this.#operationTimeout;
    let next = Number.POSITIVE_INFINITY;
    const expired: Operation[] = [];
    const check = (op: Operation): boolean => {
      // Internal operations (resubscriptions) and the already expired have nothing to settle.
      if (op.resolve === undefined || op.timedOut) return false;
      const deadline = Math.max(op.since, this.#offlineSince) + timeout;
      if (deadline <= now) return true;
      if (deadline < next) next = deadline;
      return false;
    };
    for (const op of this.#inflight.values()) {
      if (!check(op)) continue;
      op.timedOut = true;
      expired.push(op);
    }
    const queue = this.#queue;
    let kept = this.#queueHead;
    for (let i = this.#queueHead; i < queue.length; i++) {
      const op = queue[i] as Operation;
      if (!check(op)) {
        queue[kept++] = op;
        continue;
      }
      expired.push(op);
      if (op.stored !== NOT_STORED) {
        const id = op.packet.packetId as number;
        this.#reserved.delete(id);
        this.#store?.delete(id);
      }
    }
    queue.length = kept;
    if (next !== Number.POSITIVE_INFINITY) {
      this.#expiry = setTimeout(() => this.#expire(), next - now);
      (this.#expiry as { unref?: () => void }).unref?.();
    }
    for (const op of expired) {
      const reject = op.reject;
      op.resolve = op.reject = undefined;
      reject?.(
        new MqttClientError(
          ClientErrorCode.OPERATION_TIMEOUT,
          `${operationName(op)} waited offline for more than ${timeout} ms (operationTimeout)${
            op.timedOut ? '; it was sent before and may still complete if the session resumes' : ''
          }`,
        ),
      );
    }
  }

  /** The client is closed: the store writes what is pending and closes (failures are reported). */
  closeStore(): Promise<void> | undefined {
    return this.#store?.close();
  }

  /** Rejects everything: the client is closed. */
  rejectAll(reason: Error): void {
    if (this.#expiry !== undefined) clearTimeout(this.#expiry);
    this.#expiry = undefined;
    this.#offlineSince = 0;
    const ops = [...this.#inflight.values(), ...this.#queue.slice(this.#queueHead)];
    // What the outgoing store holds stays there, for the next client that opens it.
    this.#inflight.clear();
    this.#reserved.clear();
    this.#publishing = 0;
    this.#queue = [];
    this.#queueHead = 0;
    for (const op of ops) op?.reject?.(reason);
  }
}

function newOperation(kind: 0 | 1 | 2, packet: Operation['packet']): Operation {
  return {
    kind,
    packet,
    released: false,
    releasedAt: 0,
    since: 0,
    timedOut: false,
    stored: NOT_STORED,
    releasing: false,
    resolve: undefined,
    reject: undefined,
  };
}

/** The operation whose promise `capture` is creating (set right before `new Promise(capture)`). */
let capturing: Operation | undefined;

/** A Promise executor shared by all operations: stores the settle functions in `capturing`. */
function capture(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  const op = capturing as Operation;
  capturing = undefined;
  op.resolve = resolve as Operation['resolve'];
  op.reject = reject;
}

function operationName(op: Operation): string {
  return op.packet.type === 'publish'
    ? `publish to ${op.packet.topic} (QoS ${op.packet.qos})`
    : op.packet.type === 'subscribe'
      ? 'subscribe'
      : 'unsubscribe';
}

function publishRejected(reasonCode: number, properties: Properties | undefined): MqttClientError {
  const reason = properties?.reasonString ? `: ${properties.reasonString}` : '';
  return new MqttClientError(
    ClientErrorCode.PUBLISH_REJECTED,
    `publish refused: ${reasonName(reasonCode)}${reason}`,
    {
      reasonCode,
    },
  );
}
