import { encode, type PublishPacket, ReasonCode } from '@x/packets';
import {
  MatchBuffer,
  random,
  roundRobin,
  type ShareGroup,
  type ShareStrategy,
  type Subscription,
} from '@x/topics';
import type { Client } from './client.js';
import type { BrokerContext } from './context.js';
import { diagnostics } from './diagnostics.js';
import { type DropReason, mayDeliver, mayServeShare, type Subscriber } from './hooks.js';
import { LogBudget } from './logger.js';
import { type Delivery, isExpired, type Message, ownPayload, ownPayloadFrom } from './message.js';
import { encodeDelivery, packetIdOffset, publishPacket, withPacketId } from './outbound.js';
import { HeldAck } from './persistence.js';
import type { Session } from './session.js';

/** Drop lines: at most 10 a second over the whole process. */
const dropLog = new LogBudget(10);
/** Stalled-consumer lines: at most 10 a second. */
const stallLog = new LogBudget(10);

/**
 * The encoded outbound forms of the message being routed, each shared by every recipient of those
 * bytes. One instance per nesting depth, reused by every route: a PUBLISH costs no array or form
 * objects here, only the encoded bytes themselves.
 */
export class Forms {
  #count = 0;
  readonly #keys: (number | string)[] = [];
  readonly #bytes: (Uint8Array | undefined)[] = [];
  readonly #idOffsets: number[] = [];

  /** The index of the form with this key, or -1. */
  find(key: number | string): number {
    for (let i = 0; i < this.#count; i++) if (this.#keys[i] === key) return i;
    return -1;
  }

  add(key: number | string, bytes: Uint8Array, idOffset: number): void {
    const i = this.#count++;
    this.#keys[i] = key;
    this.#bytes[i] = bytes;
    this.#idOffsets[i] = idOffset;
  }

  bytes(i: number): Uint8Array {
    return this.#bytes[i]!;
  }

  idOffset(i: number): number {
    return this.#idOffsets[i]!;
  }

  /** Forgets the forms (and lets their bytes go) once the route is over. */
  clear(): void {
    for (let i = 0; i < this.#count; i++) this.#bytes[i] = undefined;
    this.#count = 0;
  }
}

/**
 * Fan-out: one trie match per PUBLISH, one encode per distinct outbound form (protocol family, QoS,
 * retain flag, subscription identifiers), packet ids patched into copies for QoS 1/2. Delivery
 * respects each client's in-flight window, maximum packet size and socket backpressure, and never
 * lets a slow client hold up the others: it is the one whose messages wait or are dropped.
 *
 * A QoS 1/2 message from a client for an online subscriber whose queue is full is not dropped: it
 * waits in that session's overflow, and the publisher's acknowledgement is held (`HeldAck`) until
 * the queue takes it, so only the publishers feeding a slow subscriber slow down:
 *
 * ```
 *   PUBLISH ─▶ route ─▶ in flight │ queue (bounded) │ overflow ─┐ each entry holds its publisher's
 *                          ▲ ack/drain ◀── refill ◀──────────┘ PUBACK/PUBREC until it moves left
 * ```
 * A subscriber that makes no progress for `stalledConsumerTimeout` is disconnected (`sweepStalled`).
 */
export class Router {
  readonly #ctx: BrokerContext;
  readonly #pickMember: ShareStrategy<string>;
  #now = 0;
  /**
   * Match results are written into reused buffers instead of fresh arrays per PUBLISH. A hook may
   * publish from inside a route, so each nesting depth has its own buffer.
   */
  readonly #buffers: MatchBuffer<string>[] = [];
  /** The encodings of the message being routed, per nesting depth like the buffers. */
  readonly #forms: Forms[] = [];
  #depth = 0;
  /** Recipients whose full queue refused the message being routed (for the publisher's answer). */
  #refused = 0;
  /** Recipients refused by a full queue during the last `route` call. */
  lastRefused = 0;
  /** The client whose acknowledgement the message being routed may hold (QoS 1/2 from a client). */
  #holder: Client | undefined;
  /** The held acknowledgement of the message being routed, made when a first overflow holds it. */
  #hold: HeldAck | undefined;
  /** The acknowledgement the last `route` call holds back (for the publish handler). */
  lastHold: HeldAck | undefined;
  /** Online sessions with messages in their overflow, watched for stalls. */
  readonly #overflowing = new Set<Session>();

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
    this.#pickMember = ctx.options.sharedSubscriptionStrategy === 'random' ? random() : roundRobin();
  }

  /** Routes a message to every matching subscriber; returns how many deliveries were made. */
  route(message: Message, publisher: Client | undefined): number {
    const depth = this.#depth++;
    const outerRefused = this.#refused;
    const outerHolder = this.#holder;
    const outerHold = this.#hold;
    this.#refused = 0;
    this.#holder = message.qos > 0 ? publisher : undefined;
    this.#hold = undefined;
    try {
      let buffer = this.#buffers[depth];
      if (buffer === undefined) {
        buffer = new MatchBuffer<string>();
        this.#buffers[depth] = buffer;
        this.#forms[depth] = new Forms();
      }
      return this.#route(message, publisher, buffer, this.#forms[depth]!);
    } finally {
      this.#forms[depth]!.clear();
      this.#depth--;
      this.lastRefused = this.#refused;
      this.lastHold = this.#hold;
      this.#refused = outerRefused;
      this.#holder = outerHolder;
      this.#hold = outerHold;
    }
  }

  #route(message: Message, publisher: Client | undefined, buffer: MatchBuffer<string>, forms: Forms): number {
    const broker = this.#ctx;
    const now = Date.now();
    this.#now = now;
    const matchCount = broker.subscriptions.matchInto(
      message.topic,
      buffer,
      message.origin === '' ? undefined : message.origin,
    );
    const matches = buffer.matches;
    const hooks = broker.hooks;
    const gated = hooks.on.onAclCheckDelivery.length > 0;
    let count = 0;
    if (buffer.sharedCount === 0 && !hooks.has('onSelectSubscribers')) {
      for (let i = 0; i < matchCount; i++) {
        const match = matches[i]!;
        const session = broker.sessions.get(match.clientId);
        if (session === undefined) continue;
        if (gated && !mayDeliver(hooks, session.clientId, session.client, message)) continue;
        const ids = match.subscriptionIdentifiers;
        if (
          this.#deliverMatch(
            forms,
            session,
            message,
            match.qos,
            match.retainAsPublished,
            ids.length ? (ids as number[]) : undefined,
          )
        )
          count++;
      }
    } else {
      const subscribers: Subscriber[] = [];
      for (let i = 0; i < matchCount; i++) {
        const match = matches[i]!;
        const ids = match.subscriptionIdentifiers;
        subscribers.push({
          clientId: match.clientId,
          qos: match.qos,
          noLocal: match.noLocal,
          retainAsPublished: match.retainAsPublished,
          subscriptionIds: ids.length ? (ids as number[]) : undefined,
        });
      }
      const shareGated = hooks.on.onShareGroup.length > 0;
      for (let g = 0; g < buffer.sharedCount; g++) {
        const group = buffer.shared[g]!;
        if (shareGated && !mayServeShare(hooks, message, group.shareName, group.topicFilter)) continue;
        const member = this.#pickShareMember(group, message, publisher?.id);
        if (member === undefined) continue;
        subscribers.push({
          clientId: member.clientId,
          qos: member.qos,
          noLocal: false,
          retainAsPublished: member.retainAsPublished,
          subscriptionIds:
            member.subscriptionIdentifier === undefined ? undefined : [member.subscriptionIdentifier],
        });
      }
      let selected: Subscriber[] = subscribers;
      for (const h of hooks.on.onSelectSubscribers) selected = h.onSelectSubscribers!(selected, message);
      for (const s of selected) {
        const session = broker.sessions.get(s.clientId);
        if (session === undefined) continue;
        if (gated && !mayDeliver(hooks, session.clientId, session.client, message)) continue;
        if (this.#deliverMatch(forms, session, message, s.qos, s.retainAsPublished, s.subscriptionIds))
          count++;
      }
    }
    if (broker.inline.hasSubscriptions) count += broker.inline.deliver(message);
    return count;
  }

  /**
   * The member of a share group that gets the message, by the configured strategy: an online member
   * the delivery gates (`onAclCheckDelivery`) allow, else an offline one they allow (its session
   * queues the message), else none.
   */
  #pickShareMember(
    group: ShareGroup<string>,
    message: Message,
    publisherId: string | undefined,
  ): Subscription<string> | undefined {
    const outer = this.#shareMessage;
    this.#shareMessage = message;
    try {
      const context = { topicName: message.topic, publisherId, eligible: this.#onlineAllowed };
      const online = this.#pickMember(group, context);
      if (online !== undefined) return online;
      context.eligible = this.#allowed;
      return this.#pickMember(group, context);
    } finally {
      this.#shareMessage = outer;
    }
  }

  /** The message whose share group is being resolved, for the two eligibility tests below. */
  #shareMessage: Message | undefined;

  readonly #allowed = (member: Subscription<string>): boolean => {
    const hooks = this.#ctx.hooks;
    if (hooks.on.onAclCheckDelivery.length === 0) return true;
    const session = this.#ctx.sessions.get(member.clientId);
    return mayDeliver(hooks, member.clientId, session?.client, this.#shareMessage!);
  };

  readonly #onlineAllowed = (member: Subscription<string>): boolean =>
    this.#ctx.sessions.get(member.clientId)?.client?.state === 'connected' && this.#allowed(member);

  #deliverMatch(
    forms: Forms,
    session: Session,
    message: Message,
    subQos: 0 | 1 | 2,
    retainAsPublished: boolean,
    subscriptionIds: number[] | undefined,
  ): boolean {
    const qos = message.qos < subQos ? message.qos : subQos; // [MQTT-3.8.4-8]
    // [MQTT-3.3.1-12] [MQTT-3.3.1-13] retain flag as published only when asked
    const retain = retainAsPublished ? message.retain : false;
    return this.deliver(session, { message, qos, retain, subscriptionIds }, forms);
  }

  /**
   * Delivers to one session: now when it is online and has room, into its bounded queue otherwise.
   * `forms` (the current route's encodings) lets other recipients reuse the encoded bytes.
   */
  deliver(session: Session, delivery: Delivery, forms: Forms | undefined): boolean {
    const client = session.client;
    const { message } = delivery;
    if (client === undefined || client.state !== 'connected') {
      // QoS 0 messages are kept for offline sessions only when asked (section 4.1 allows either).
      if (delivery.qos === 0 && !this.#ctx.options.queueQos0Messages) return false;
      return this.#enqueue(session, delivery, false);
    }
    if (delivery.qos === 0) {
      if (client.congested) {
        this.#drop(session.clientId, message, 'slow-client');
        return false;
      }
      return this.#send(client, delivery, 0, false, forms);
    }
    if (
      session.queue.length > 0 ||
      session.overflow.length > 0 ||
      session.inflight.size >= client.sendQuota ||
      client.congested
    ) {
      return this.#enqueue(session, delivery, false);
    }
    return this.#sendQos(session, client, delivery, forms, false);
  }

  /** Sends queued messages while the client is online and has room in its window and socket. */
  drain(session: Session): void {
    const client = session.client;
    if (client === undefined || client.state !== 'connected') return;
    const now = Date.now();
    this.#now = now;
    let moved = false;
    while (session.inflight.size < client.sendQuota && !client.congested) {
      if (session.queue.length === 0 && !this.#refill(session)) break;
      const delivery = session.queue.shift()!;
      moved = true;
      session.queuedBytes -= delivery.message.payload.length + delivery.message.topic.length;
      this.#ctx.persistence.dequeued(session, delivery);
      if (isExpired(delivery.message, now)) {
        this.#drop(session.clientId, delivery.message, 'expired');
        continue;
      }
      if (delivery.qos === 0) this.#send(client, delivery, 0, false, undefined);
      else this.#sendQos(session, client, delivery, undefined, true);
    }
    if (session.overflow.length > 0) {
      if (moved) session.progressAt = now;
      this.#refill(session);
    }
  }

  /**
   * Moves overflow into the queue while it has room (an empty queue takes one message whatever its
   * size); each move lets go of a publisher's held acknowledgement. True when something moved.
   */
  #refill(session: Session): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.#ctx.options;
    const queued = this.#ctx.hooks.on.onMessageQueued;
    let moved = false;
    for (let delivery = session.overflow.peek(); delivery !== undefined; delivery = session.overflow.peek()) {
      const size = delivery.message.payload.length + delivery.message.topic.length;
      const queue = session.queue;
      if (
        queue.length > 0 &&
        (queue.length >= maxQueuedMessages || session.queuedBytes + size > maxQueuedBytes)
      )
        break;
      session.overflow.shift();
      const hold = session.overflowHolds.shift()!;
      session.overflowBytes -= size;
      queue.push(delivery);
      session.queuedBytes += size;
      this.#ctx.persistence.queued(session, delivery);
      for (const h of queued) h.onMessageQueued!(session.clientId, delivery, false);
      this.#ctx.persistence.released(hold, false);
      moved = true;
    }
    if (session.overflow.length === 0) this.#overflowing.delete(session);
    return moved;
  }

  /**
   * The session's connection closed. What waited in its overflow goes to its queue when the session
   * persists, as far as the queue's bounds allow; the rest is dropped (counted, logged, v5
   * publishers told 0x97). A session that ends with its connection takes it along, like its queue.
   * Either way the publishers' acknowledgements are let go.
   */
  detached(session: Session, persistent: boolean): void {
    if (session.overflow.length === 0) return;
    this.#overflowing.delete(session);
    const deliveries = [...session.overflow];
    const holds = [...session.overflowHolds];
    session.overflow.clear();
    session.overflowHolds.clear();
    session.overflowBytes = 0;
    for (let i = 0; i < deliveries.length; i++) {
      const kept = !persistent || this.#enqueue(session, deliveries[i]!, false);
      this.#ctx.persistence.released(holds[i]!, !kept);
    }
  }

  /**
   * Disconnects the subscribers that have held publishers back (messages in their overflow) for
   * longer than `stalledConsumerTimeout` without progress. The publishers they held then go on.
   */
  sweepStalled(now: number): void {
    const timeout = this.#ctx.options.stalledConsumerTimeout;
    for (const session of this.#overflowing) {
      if (now - session.progressAt <= timeout) continue;
      this.#overflowing.delete(session);
      const client = session.client;
      if (client === undefined || client.state !== 'connected') continue;
      this.#ctx.stats.stalledConsumers++;
      const suppressed = stallLog.take(now);
      if (suppressed >= 0) {
        this.#ctx.log.warn(
          {
            clientId: session.clientId,
            queued: session.queue.length,
            overflowBytes: session.overflowBytes,
            timeout,
            ...(suppressed ? { suppressed } : {}),
          },
          'stalled consumer disconnected: its queue was full without progress',
        );
      }
      client.disconnect(ReasonCode.QuotaExceeded, 'stalled: queue full without progress');
    }
  }

  /**
   * Re-sends a resumed session's unacknowledged messages in their original order, PUBLISH with DUP
   * [MQTT-3.3.1-1] [MQTT-4.4.0-1], PUBREL as PUBREL.
   */
  resend(session: Session, client: Client): void {
    const now = Date.now();
    this.#now = now;
    const hooks = this.#ctx.hooks;
    for (const entry of session.inflight.values()) {
      if (entry.state === 'pubrel') {
        client.sendAck('pubrel', entry.packetId);
        continue;
      }
      entry.resends++;
      const packet = publishPacket(entry.delivery, client.protocolVersion, entry.packetId, true, now);
      this.#write(client, packet, undefined);
      for (const h of hooks.on.onQosPublish)
        h.onQosPublish!(session.clientId, entry.packetId, entry.delivery.message, true);
    }
  }

  /**
   * Appends to the session's queue; `requeued` when the delivery was just taken from its head. A
   * full queue of an online session takes a client's QoS 1/2 message into its overflow instead.
   */
  #enqueue(session: Session, delivery: Delivery, requeued: boolean): boolean {
    const size = delivery.message.payload.length + delivery.message.topic.length;
    const options = this.#ctx.options;
    if (
      session.overflow.length > 0 ||
      session.queue.length >= options.maxQueuedMessages ||
      session.queuedBytes + size > options.maxQueuedBytes
    ) {
      const holder = this.#holder;
      if (holder !== undefined && delivery.qos > 0 && session.client?.state === 'connected') {
        this.#overflow(session, delivery, size, holder);
        return true;
      }
      this.#refused++;
      this.#drop(session.clientId, delivery.message, 'queue-full');
      return false;
    }
    ownPayload(delivery.message);
    session.queue.push(delivery);
    session.queuedBytes += size;
    this.#ctx.persistence.queued(session, delivery);
    const queued = this.#ctx.hooks.on.onMessageQueued;
    if (queued.length > 0) for (const h of queued) h.onMessageQueued!(session.clientId, delivery, requeued);
    return true;
  }

  /** Holds a delivery in the session's overflow, and with it the publisher's acknowledgement. */
  #overflow(session: Session, delivery: Delivery, size: number, holder: Client): void {
    let hold = this.#hold;
    if (hold === undefined) {
      // Once per message, however many subscribers hold it: it is one copy in memory.
      hold = new HeldAck(holder, size);
      this.#hold = hold;
      holder.heldBytes += size;
      const stats = this.#ctx.stats;
      stats.acksHeld++;
      stats.heldBytes += size;
      if (holder.heldBytes > stats.heldBytesPeak) stats.heldBytesPeak = holder.heldBytes;
    }
    hold.waiting++;
    ownPayload(delivery.message);
    if (session.overflow.length === 0) {
      session.progressAt = Date.now();
      this.#overflowing.add(session);
    }
    session.pushOverflow(delivery, hold);
    session.overflowBytes += size;
  }

  /** `fromQueue`: the delivery was taken from the session's queue (by `drain`). */
  #sendQos(
    session: Session,
    client: Client,
    delivery: Delivery,
    forms: Forms | undefined,
    fromQueue: boolean,
  ): boolean {
    const packetId = session.inflight.allocate();
    if (packetId === 0) {
      for (const h of this.#ctx.hooks.on.onPacketIdExhausted)
        h.onPacketIdExhausted!(session.clientId, delivery.message);
      return this.#enqueue(session, delivery, fromQueue);
    }
    if (!this.#send(client, delivery, packetId, false, forms)) return false;
    ownPayload(delivery.message);
    session.inflight.add({ packetId, delivery, state: 'publish', resends: 0 });
    this.#ctx.persistence.inflight(session, packetId, delivery, false);
    const qosPublish = this.#ctx.hooks.on.onQosPublish;
    if (qosPublish.length > 0)
      for (const h of qosPublish) h.onQosPublish!(session.clientId, packetId, delivery.message, false);
    return true;
  }

  /** Encodes (or reuses the shared encoding) and writes; false when dropped for size. */
  #send(
    client: Client,
    delivery: Delivery,
    packetId: number,
    dup: boolean,
    forms: Forms | undefined,
  ): boolean {
    if (client.aliasesOut !== undefined || forms === undefined) {
      const packet = publishPacket(delivery, client.protocolVersion, packetId, dup, this.#now);
      return this.#write(client, packet, delivery.message);
    }
    const version = client.protocolVersion === 5 ? 5 : 4;
    const ids = delivery.subscriptionIds;
    // A number for the common forms, a string only when subscription identifiers make it unique.
    const base = version * 8 + delivery.qos * 2 + (delivery.retain ? 1 : 0);
    const key: number | string = ids === undefined || version !== 5 ? base : `${base}:${ids.join(',')}`;
    const found = forms.find(key);
    let bytes: Uint8Array;
    if (found < 0) {
      // Encoded with this recipient's packet id: the first (often the only) recipient sends these
      // bytes as they are; later ones get a copy with their own id patched in.
      bytes = encodeDelivery(delivery, version, delivery.qos > 0 ? packetId : 1, dup, this.#now);
      forms.add(key, bytes, delivery.qos > 0 ? packetIdOffset(bytes) : 0);
      // Kept in flight: the message's own copy of its payload is the tail of these bytes.
      if (delivery.qos > 0) ownPayloadFrom(delivery.message, bytes);
    } else {
      const shared = forms.bytes(found);
      bytes = delivery.qos > 0 ? withPacketId(shared, forms.idOffset(found), packetId, dup) : shared;
    }
    // [MQTT-3.1.2-24] never send a packet larger than the client's Maximum Packet Size
    if (bytes.length > client.maxPacketSize) {
      this.#drop(client.id, delivery.message, 'packet-too-large');
      return false;
    }
    client.write(bytes);
    this.#ctx.stats.messagesSent++;
    const sent = this.#ctx.hooks.on.onPacketSent;
    if (sent.length > 0) {
      // The shared bytes have no packet object of their own: one is built only for these hooks.
      const packet = publishPacket(delivery, version, packetId, dup, this.#now);
      for (const h of sent) h.onPacketSent!(client, packet, bytes.length);
    }
    return true;
  }

  /**
   * Individual encoding: server → client topic aliases, queued and re-sent messages. Aliases are
   * kept in least-recently-used order (a Map's insertion order: a use moves the topic to the end);
   * once the client's Topic Alias Maximum is reached, a new topic takes over the alias of the least
   * recently used one, sent with its full name so the client re-maps it [MQTT-3.3.2-11].
   */
  #write(client: Client, packet: PublishPacket, message: Message | undefined): boolean {
    const aliases = client.aliasesOut;
    const topic = packet.topic;
    let assigned = 0;
    let evicted: string | undefined;
    if (aliases !== undefined) {
      const alias = aliases.get(topic);
      if (alias !== undefined) {
        aliases.delete(topic);
        aliases.set(topic, alias);
        packet.properties = { ...packet.properties, topicAlias: alias };
        packet.topic = '';
      } else {
        if (aliases.size < client.topicAliasMaximum) assigned = aliases.size + 1;
        else {
          const oldest = aliases.keys().next();
          if (!oldest.done) {
            evicted = oldest.value;
            assigned = aliases.get(evicted)!;
            aliases.delete(evicted);
          }
        }
        if (assigned !== 0) {
          aliases.set(topic, assigned);
          packet.properties = { ...packet.properties, topicAlias: assigned };
        }
      }
    }
    const bytes = encode(packet, client.protocolVersion);
    if (bytes.length > client.maxPacketSize) {
      // Not sent: the client's mappings stay as they were.
      if (assigned !== 0) {
        aliases!.delete(topic);
        if (evicted !== undefined) aliases!.set(evicted, assigned);
      }
      if (message) this.#drop(client.id, message, 'packet-too-large');
      return false;
    }
    client.write(bytes);
    this.#ctx.stats.messagesSent++;
    const sent = this.#ctx.hooks.on.onPacketSent;
    if (sent.length > 0) for (const h of sent) h.onPacketSent!(client, packet, bytes.length);
    return true;
  }

  #drop(clientId: string, message: Message, reason: DropReason): void {
    this.#ctx.stats.publishDropped++;
    const session = this.#ctx.sessions.get(clientId);
    if (session !== undefined) session.droppedCount++;
    const suppressed = dropLog.take(Date.now());
    if (suppressed >= 0) {
      this.#ctx.log.warn(
        { clientId, topic: message.topic, reason, ...(suppressed ? { suppressed } : {}) },
        'message not delivered',
      );
    }
    for (const h of this.#ctx.hooks.on.onPublishDropped) h.onPublishDropped!(clientId, message, reason);
    if (diagnostics.publishDropped.hasSubscribers) {
      diagnostics.publishDropped.publish({ clientId, topic: message.topic, reason });
    }
  }
}
