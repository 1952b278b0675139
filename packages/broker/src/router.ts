import { encode, type PublishPacket } from '@x/packets';
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
import { type DropReason, mayDeliver, type Subscriber } from './hooks.js';
import { LogBudget } from './logger.js';
import { type Delivery, isExpired, type Message, ownPayload } from './message.js';
import { packetIdOffset, publishPacket, withPacketId } from './outbound.js';
import type { Session } from './session.js';

/** Drop lines: at most 10 a second over the whole process. */
const dropLog = new LogBudget(10);

/** One encoded outbound form of the message being routed, shared by every recipient of those bytes. */
interface Form {
  key: number | string;
  bytes: Uint8Array;
  idOffset: number;
}

/**
 * Fan-out: one trie match per PUBLISH, one encode per distinct outbound form (protocol family, QoS,
 * retain flag, subscription identifiers), packet ids patched into copies for QoS 1/2. Delivery
 * respects each client's in-flight window, maximum packet size and socket backpressure, and never
 * lets a slow client hold up the others: it is the one whose messages wait or are dropped.
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
  #depth = 0;
  /** Recipients whose full queue refused the message being routed (for the publisher's answer). */
  #refused = 0;
  /** Recipients refused by a full queue during the last `route` call. */
  lastRefused = 0;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
    this.#pickMember = ctx.options.sharedSubscriptionStrategy === 'random' ? random() : roundRobin();
  }

  /** Routes a message to every matching subscriber; returns how many deliveries were made. */
  route(message: Message, publisher: Client | undefined): number {
    const depth = this.#depth++;
    const outerRefused = this.#refused;
    this.#refused = 0;
    try {
      let buffer = this.#buffers[depth];
      if (buffer === undefined) {
        buffer = new MatchBuffer<string>();
        this.#buffers[depth] = buffer;
      }
      return this.#route(message, publisher, buffer);
    } finally {
      this.#depth--;
      this.lastRefused = this.#refused;
      this.#refused = outerRefused;
    }
  }

  #route(message: Message, publisher: Client | undefined, buffer: MatchBuffer<string>): number {
    const broker = this.#ctx;
    const now = Date.now();
    this.#now = now;
    // Per call, not per router: a hook may publish from inside a route (re-entrancy).
    const forms: Form[] = [];
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
      for (let g = 0; g < buffer.sharedCount; g++) {
        const member = this.#pickShareMember(buffer.shared[g]!, message, publisher?.id);
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
    forms: Form[],
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
  deliver(session: Session, delivery: Delivery, forms: Form[] | undefined): boolean {
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
    if (session.queue.length > 0 || session.inflight.size >= client.sendQuota || client.congested) {
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
    while (session.queue.length > 0 && session.inflight.size < client.sendQuota && !client.congested) {
      const delivery = session.queue.shift()!;
      session.queuedBytes -= delivery.message.payload.length + delivery.message.topic.length;
      this.#ctx.persistence.dequeued(session, delivery);
      if (isExpired(delivery.message, now)) {
        this.#drop(session.clientId, delivery.message, 'expired');
        continue;
      }
      if (delivery.qos === 0) this.#send(client, delivery, 0, false, undefined);
      else this.#sendQos(session, client, delivery, undefined, true);
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
        client.send({ type: 'pubrel', packetId: entry.packetId });
        continue;
      }
      entry.resends++;
      const packet = publishPacket(entry.delivery, client.protocolVersion, entry.packetId, true, now);
      this.#write(client, packet, undefined);
      for (const h of hooks.on.onQosPublish)
        h.onQosPublish!(session.clientId, entry.packetId, entry.delivery.message, true);
    }
  }

  /** Appends to the session's queue; `requeued` when the delivery was just taken from its head. */
  #enqueue(session: Session, delivery: Delivery, requeued: boolean): boolean {
    const size = delivery.message.payload.length + delivery.message.topic.length;
    const options = this.#ctx.options;
    if (
      session.queue.length >= options.maxQueuedMessages ||
      session.queuedBytes + size > options.maxQueuedBytes
    ) {
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

  /** `fromQueue`: the delivery was taken from the session's queue (by `drain`). */
  #sendQos(
    session: Session,
    client: Client,
    delivery: Delivery,
    forms: Form[] | undefined,
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
    for (const h of this.#ctx.hooks.on.onQosPublish)
      h.onQosPublish!(session.clientId, packetId, delivery.message, false);
    return true;
  }

  /** Encodes (or reuses the shared encoding) and writes; false when dropped for size. */
  #send(
    client: Client,
    delivery: Delivery,
    packetId: number,
    dup: boolean,
    forms: Form[] | undefined,
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
    let form: Form | undefined;
    for (const f of forms) {
      if (f.key === key) {
        form = f;
        break;
      }
    }
    if (form === undefined) {
      const packet = publishPacket(delivery, version, 1, false, this.#now);
      const bytes = encode(packet, version);
      form = { key, bytes, idOffset: delivery.qos > 0 ? packetIdOffset(bytes) : 0 };
      forms.push(form);
    }
    // [MQTT-3.1.2-24] never send a packet larger than the client's Maximum Packet Size
    if (form.bytes.length > client.maxPacketSize) {
      this.#drop(client.id, delivery.message, 'packet-too-large');
      return false;
    }
    client.write(delivery.qos > 0 ? withPacketId(form.bytes, form.idOffset, packetId, dup) : form.bytes);
    this.#ctx.stats.messagesSent++;
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
