import { type Packet, ReasonCode } from '@x/packets';
import type { Client } from './client.js';
import type { Logger } from './logger.js';
import type { Delivery, Message } from './message.js';
import { RingQueue } from './queue.js';
import type { Session, SessionSubscription } from './session.js';
import type { Store, StoredSession } from './storage.js';
import type { SysInfo } from './system.js';

/**
 * A publisher's PUBACK or PUBREC held back because its message waits in the overflow of online
 * subscribers whose queues are full (backpressure: the publisher's own window slows it down). It is
 * let go once every one of those subscribers has taken the message into its queue, or dropped it.
 */
export class HeldAck {
  readonly client: Client;
  /** Bytes of the held message (payload and topic), counted against the publisher's `maxHeldBytes`. */
  readonly bytes: number;
  /** The acknowledgement, once the publish handler has made it. */
  packet: Packet | undefined;
  /** Subscriber overflows still holding the message. */
  waiting = 0;
  /** A subscriber dropped it (its consumer stalled): v5 publishers are told 0x97. */
  dropped = false;

  constructor(client: Client, bytes: number) {
    this.client = client;
    this.bytes = bytes;
  }
}

/**
 * The broker's side of the storage seam. The broker's parts report state changes here; this object
 * decides what a store is told (persistent sessions only, retained messages except `$SYS`), runs one
 * group commit per event-loop turn, and holds the acknowledgements that promise durability until
 * their commit is done. Without a store every call returns at once.
 *
 * Acknowledgements a subscriber's full queue holds back (`HeldAck`) wait here too, per publisher
 * and in order, before the commit.
 *
 * A QoS 1 PUBACK also goes before its commit when nothing of the message is left to keep: it went to
 * no persistent session, or every one it went to has acknowledged it (QoS 1); rows of it still on
 * their way to the disk would at worst deliver it again after a crash, which QoS 1 allows. An online
 * subscriber often acknowledges sooner than a commit ends, so the publisher's window does not wait
 * for the disk. Only with a store whose commit covers nothing else
 * (`commitsOnlyRecordedChanges`: not a cluster's, which forwards messages to other nodes in it).
 *
 * ```
 *   handlers / router / registry ──changes──▶ Persistence ──saveX/deleteX──▶ Store
 *   acks ──▶ per publisher, behind its HeldAcks ──▶ per publisher, in order ──▶ sent when its turn's
 *            commit is done (or refused), or once the store keeps nothing of its message
 * ```
 */
export class Persistence {
  readonly #store: Store | undefined;
  readonly #durable: boolean;
  /** Whether a QoS 1 PUBACK may go before its commit when the store keeps nothing of the message (see the class comment). */
  readonly #releaseDelivered: boolean;
  readonly #log: Logger;
  readonly #stats: SysInfo;
  #scheduled = false;
  /** Whether this turn recorded a change in the store (see {@link #changed}). */
  #changes = false;
  /**
   * The group commit being gathered: each acknowledgement waits for the commit of the turn it was
   * held in. Acknowledgements wait per client (`Client.durableAcks`, in order); a Success PUBACK or
   * PUBREC is held as a number (its packet id, plus {@link HELD_PUBREC} for a PUBREC), so the common
   * case makes no packet object and is sent with `sendAck`.
   */
  #turn = 1;
  /** The last turn whose commit succeeded. */
  #committedTurn = 0;
  /** The clients that held an acknowledgement in this turn, each once. */
  #turnClients: Client[] = [];
  /**
   * Something waits for this turn's commit that nothing else can release: a PUBREC, a CONNACK, a
   * PUBACK whose message a commit must keep (retained, QoS 2). A store that paces its writes then
   * hands the batch over at once (see `Store.commit`).
   */
  #urgent = false;
  /** Clients with acknowledgements waiting, by client id: a message the store no longer keeps finds its publisher here. */
  readonly #waiting = new Map<string, Client>();
  /** Continuations waiting for the next commit (a CONNACK that creates a persistent session). */
  #after: Array<(error: Error | undefined) => void> = [];
  /** Whether the last commit failed: its error is logged once, not at every failing turn. */
  #failing = false;
  /** The `$SYS` figures last given to the store (or equal to what it loaded). */
  #storedSysInfo: SysInfo | undefined;
  /** Figures that changed since then and wait for the next commit to carry them. */
  #owedSysInfo: SysInfo | undefined;
  /** When figures last went to the store (or the store opened), ms since the epoch. */
  #sysSavedAt = 0;
  /** The figures commit on their own at most this often (see `BrokerOptions.sysSaveInterval`). */
  readonly #sysSaveInterval: number;

  /** `durable`: hold acknowledgements until the store has committed what they acknowledge. */
  constructor(
    store: Store | undefined,
    durable: boolean,
    log: Logger,
    stats: SysInfo,
    sysSaveInterval: number,
  ) {
    this.#store = store;
    this.#stats = stats;
    this.#sysSaveInterval = sysSaveInterval;
    this.#durable = durable && store !== undefined;
    this.#releaseDelivered = this.#durable && store?.commitsOnlyRecordedChanges === true;
    this.#log = log;
  }

  get store(): Store | undefined {
    return this.#store;
  }

  /** False while the store cannot write: QoS 1/2 publishes are then refused, readiness fails. */
  get writable(): boolean {
    return this.#store === undefined || (this.#store.writable ?? true);
  }

  // ---- sessions -----------------------------------------------------------------------------------

  /**
   * A session was attached, detached, or its expiry or will changed: stored while its Session
   * Expiry Interval is above 0, forgotten by the store when it drops to 0.
   */
  sessionChanged(session: Session): void {
    const store = this.#store;
    if (store === undefined) return;
    if (session.expiryInterval > 0) {
      store.saveSession(storedSession(session));
      if (!session.stored) {
        session.stored = true;
        // A session that becomes persistent brings what it already has.
        for (const sub of session.subscriptions.values()) store.saveSubscription(session.clientId, sub);
      }
    } else if (session.stored) {
      store.deleteSession(session.clientId);
      session.stored = false;
    } else return;
    this.#changed();
  }

  sessionEnded(session: Session): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.deleteSession(session.clientId);
    session.stored = false;
    this.#changed();
  }

  subscribed(session: Session, subscription: SessionSubscription): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.saveSubscription(session.clientId, subscription);
    this.#changed();
  }

  unsubscribed(session: Session, topicFilter: string): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.deleteSubscription(session.clientId, topicFilter);
    this.#changed();
  }

  // ---- outbound messages of a session -------------------------------------------------------------

  /** A delivery was appended to the session's queue: it gets the session's next sequence number. */
  queued(session: Session, delivery: Delivery): void {
    if (this.#store === undefined || !session.stored) return;
    if (this.#releaseDelivered) deliveryStored(delivery.message, true);
    delivery.seq = session.nextSeq++;
    this.#store.queueMessage(session.clientId, delivery.seq, delivery);
    this.#changed();
  }

  /** A delivery left the head of the session's queue. */
  dequeued(session: Session, delivery: Delivery): void {
    if (this.#store === undefined || delivery.seq === undefined) return;
    if (session.stored) {
      this.#store.dequeueMessage(session.clientId, delivery.seq);
      // Sent (and counted again in flight, in the same call), expired or dropped.
      const rows = delivery.message.storeRows ?? PINNED;
      if (rows > 0) delivery.message.storeRows = rows - 1;
      this.#changed();
    }
    delivery.seq = undefined;
  }

  inflight(session: Session, packetId: number, delivery: Delivery, released: boolean): void {
    if (this.#store === undefined || !session.stored || delivery.qos === 0) return;
    this.#store.saveInflight(session.clientId, packetId, delivery, released);
    if (this.#releaseDelivered) deliveryStored(delivery.message, delivery.qos === 1 && !released);
    this.#changed();
  }

  /**
   * The outbound flow under `packetId` ended. `message`: a QoS 1 flow's message, acknowledged by the
   * subscriber. When that was its last delivery to a stored session, nothing of the message is left
   * to keep, and its publisher's PUBACK need not wait for a commit.
   */
  completed(session: Session, packetId: number, message?: Message): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.deleteInflight(session.clientId, packetId);
    this.#changed();
    if (message === undefined || !this.#releaseDelivered) return;
    const rows = message.storeRows ?? PINNED;
    if (rows <= 0) return;
    message.storeRows = rows - 1;
    if (rows !== 1) return;
    const publisher = this.#waiting.get(message.origin);
    if (publisher !== undefined) this.#release(publisher, this.#committedTurn, undefined);
  }

  // ---- inbound QoS 2 ------------------------------------------------------------------------------

  inboundAccepted(session: Session, packetId: number): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.saveInboundQos2(session.clientId, packetId);
    this.#changed();
  }

  inboundReleased(session: Session, packetId: number): void {
    if (this.#store === undefined || !session.stored) return;
    this.#store.deleteInboundQos2(session.clientId, packetId);
    this.#changed();
  }

  // ---- retained messages and $SYS -----------------------------------------------------------------

  retained(message: Message): void {
    if (this.#store === undefined || message.topic.startsWith('$SYS/')) return;
    message.storeRows = PINNED; // a retained copy is kept only by a commit
    this.#store.saveRetained(message);
    this.#changed();
  }

  retainedDeleted(topic: string): void {
    if (this.#store === undefined || topic.startsWith('$SYS/')) return;
    this.#store.deleteRetained(topic);
    this.#changed();
  }

  /** The store holds figures equal to `info`: it has just loaded them, or it is new and has none to keep. */
  sysInfoStored(info: Readonly<SysInfo>): void {
    this.#storedSysInfo = { ...info };
    this.#sysSavedAt = Date.now();
  }

  /**
   * The figures of a `$SYS` round. They are statistics, not state anything depends on, so they are
   * not worth a commit of their own every round: an idle broker's do not change at all, and a busy
   * broker whose clients keep no persistent session would otherwise commit every `sysInterval` for
   * them alone, starting an embedded store's threads (about 18 MB) and writing the disk for nothing
   * else. Changed figures ride on the next commit made for anything else, and commit on their own
   * once `sysSaveInterval` has passed since the last save; `flush` (at close) writes the last ones.
   */
  sysInfo(info: Readonly<SysInfo>): void {
    if (this.#store === undefined) return;
    if (this.#storedSysInfo !== undefined && sameFigures(this.#storedSysInfo, info)) {
      this.#owedSysInfo = undefined;
      return;
    }
    this.#owedSysInfo = { ...info };
    if (Date.now() - this.#sysSavedAt >= this.#sysSaveInterval) this.#changed();
  }

  // ---- acknowledgements ---------------------------------------------------------------------------

  /**
   * Sends a PUBACK, PUBREC or SUBACK once everything recorded before it is durable (acknowledged
   * durability), or now. `hold`: the message waits in full subscriber queues' overflow, the
   * acknowledgement goes once they let it go. A client's acknowledgements keep their order behind
   * held ones [MQTT-4.6.0-2] [MQTT-4.6.0-3].
   */
  acknowledge(client: Client, packet: Packet, hold?: HeldAck): void {
    if (hold !== undefined || client.heldAcks !== undefined) {
      const entry = hold ?? new HeldAck(client, 0);
      entry.packet = packet;
      if (client.heldAcks === undefined) client.heldAcks = new RingQueue();
      client.heldAcks.push(entry);
      this.#sendReleased(client);
      return;
    }
    this.#commitThenSend(client, packet);
  }

  /**
   * The PUBACK or PUBREC of a client's PUBLISH (see `acknowledge`). The common case, Success with
   * nothing to wait for, is written at once as its bytes; a packet object is made only for a reason
   * code or an acknowledgement that waits (held, or for a durable commit).
   */
  acknowledgePublish(
    client: Client,
    type: 'puback' | 'pubrec',
    packetId: number,
    reasonCode: number,
    hold: HeldAck | undefined,
    message?: Message,
  ): void {
    if (reasonCode === 0 && hold === undefined && client.heldAcks === undefined) {
      if (!this.#durable) client.sendAck(type, packetId);
      else if (type === 'pubrec') this.#hold(client, packetId + HELD_PUBREC, undefined);
      else if (!this.#releaseDelivered || message === undefined) this.#hold(client, packetId, undefined);
      else if (message.storeRows === 0 && (client.durableAcks?.length ?? 0) === 0) {
        // Nothing of it went to the store (no persistent session took it, or each one already
        // acknowledged it): nothing for a commit to keep.
        client.sendAck(type, packetId);
      } else this.#hold(client, packetId, message);
      return;
    }
    this.acknowledge(client, reasonCode ? { type, packetId, reasonCode } : { type, packetId }, hold);
  }

  /**
   * One subscriber overflow let go of a held message (`dropped`: without queueing it). The last one
   * releases the acknowledgement, and the publisher's held bytes.
   */
  released(hold: HeldAck, dropped: boolean): void {
    if (dropped) hold.dropped = true;
    if (--hold.waiting > 0) return;
    const client = hold.client;
    client.heldBytes -= hold.bytes;
    this.#stats.heldBytes -= hold.bytes;
    if (hold.packet !== undefined) this.#sendReleased(client);
    client.heldReleased();
  }

  /** Sends the client's acknowledgements at the head of its queue that nothing holds any more. */
  #sendReleased(client: Client): void {
    const queue = client.heldAcks!;
    for (let head = queue.peek(); head !== undefined && head.waiting === 0; head = queue.peek()) {
      queue.shift();
      let packet = head.packet!;
      if (head.dropped && client.protocolVersion === 5 && packet.type !== 'suback') {
        // The message was not kept for a subscriber: the publisher hears of it (Quota exceeded).
        const session = client.session;
        if (packet.type === 'pubrec' && session?.inboundQos2.delete(packet.packetId))
          this.inboundReleased(session, packet.packetId);
        packet = { ...packet, reasonCode: ReasonCode.QuotaExceeded } as Packet;
      }
      if (client.state !== 'closed') this.#commitThenSend(client, packet);
    }
    if (queue.length === 0) client.heldAcks = undefined;
  }

  #commitThenSend(client: Client, packet: Packet): void {
    if (!this.#durable || this.#nothingToCommitFor(client, packet)) {
      client.send(packet);
      return;
    }
    this.#hold(client, packet, undefined);
  }

  /**
   * A SUBACK of a session the store does not keep, with none of the client's acknowledgements
   * waiting before it: its subscriptions recorded nothing, so with a store that commits only what
   * was recorded (not a cluster's, whose commits carry subscription summaries) there is nothing for
   * it to wait for. A broker whose clients use clean sessions then makes no per-client state for
   * durable acknowledgements at all.
   */
  #nothingToCommitFor(client: Client, packet: Packet): boolean {
    return (
      packet.type === 'suback' &&
      this.#releaseDelivered &&
      client.session?.stored !== true &&
      (client.durableAcks?.length ?? 0) === 0
    );
  }

  /**
   * Holds an acknowledgement until this turn's commit is done, behind the client's earlier ones.
   * `message`: a Success PUBACK's message, which may leave nothing in the store before then (see
   * `completed`).
   */
  #hold(client: Client, ack: Packet | number, message: Message | undefined): void {
    let acks = client.durableAcks;
    if (acks === undefined) acks = client.durableAcks = new RingQueue(24);
    if (acks.length === 0) this.#waiting.set(client.id, client);
    acks.push(ack);
    acks.push(message);
    acks.push(this.#turn);
    // Only a counted message's PUBACK may go before the commit (`#release`).
    if (message === undefined || (message.storeRows ?? PINNED) < 0) this.#urgent = true;
    if (client.durableTurn !== this.#turn) {
      client.durableTurn = this.#turn;
      this.#turnClients.push(client);
    }
    this.#touch();
  }

  /**
   * Sends the client's acknowledgements at the head of its queue that may go: those of turns up to
   * `upTo` (committed, or failed with `error`: then refused), and PUBACKs of messages the store
   * holds nothing of any more.
   */
  #release(client: Client, upTo: number, error: Error | undefined): void {
    const acks = client.durableAcks;
    if (acks === undefined) return;
    while (acks.length > 0 && client.state !== 'closed') {
      const ack = acks.peek() as Packet | number;
      const nothingToKeep = (acks.at(1) as Message | undefined)?.storeRows === 0;
      if ((acks.at(2) as number) > upTo && !nothingToKeep) break;
      acks.shift();
      acks.shift();
      acks.shift();
      if (typeof ack !== 'number') {
        if (error === undefined) client.send(ack);
        else refuse(client, ack);
      } else {
        const type = ack >= HELD_PUBREC ? 'pubrec' : 'puback';
        const packetId = ack >= HELD_PUBREC ? ack - HELD_PUBREC : ack;
        if (error === undefined || nothingToKeep) client.sendAck(type, packetId);
        else refuse(client, { type, packetId });
      }
    }
    if (client.state === 'closed') acks.clear();
    if (acks.length === 0 && this.#waiting.get(client.id) === client) this.#waiting.delete(client.id);
  }

  /** Calls `then` once everything recorded so far is durable (at once without a durable store). */
  afterCommit(then: (error: Error | undefined) => void): void {
    if (!this.#durable) {
      then(undefined);
      return;
    }
    this.#after.push(then);
    this.#urgent = true;
    this.#touch();
  }

  /** Commits what is pending now (before a shutdown). */
  flush(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#commit(resolve));
  }

  /** A change was recorded in the store (or is owed to it): this turn's commit writes something. */
  #changed(): void {
    this.#changes = true;
    this.#touch();
  }

  /** One commit per event-loop turn, after the turn's I/O callbacks have recorded their changes. */
  #touch(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#commit);
  }

  /** `done` runs after this commit, whatever its outcome (used by {@link flush}). */
  readonly #commit = (done?: () => void): void => {
    this.#scheduled = false;
    const store = this.#store;
    if (store === undefined) return;
    // Owed figures ride on a commit that writes something anyway, or on the last one (flush); not
    // on one that only orders acknowledgements (a clean session's SUBACK), which writes nothing.
    const owed = this.#owedSysInfo;
    if (owed !== undefined && (this.#changes || done !== undefined)) {
      store.saveSysInfo(owed);
      this.#storedSysInfo = owed;
      this.#owedSysInfo = undefined;
      this.#sysSavedAt = Date.now();
    }
    this.#changes = false;
    const turn = this.#turn++;
    const clients = this.#turnClients;
    const after = this.#after;
    const urgent = this.#urgent || done !== undefined;
    this.#turnClients = [];
    this.#after = [];
    this.#urgent = false;
    store.commit((error) => {
      this.#committed(error, turn, clients, after);
      done?.();
    }, urgent);
  };

  #committed(
    error: Error | undefined,
    turn: number,
    clients: Client[],
    after: Array<(e: Error | undefined) => void>,
  ): void {
    if (error !== undefined) {
      if (!this.#failing) this.#log.error({ error: error.message }, 'store commit failed');
      this.#failing = true;
    } else {
      this.#failing = false;
      this.#committedTurn = turn;
    }
    for (const client of clients) this.#release(client, turn, error);
    for (const then of after) then(error);
  }
}

/** Added to a held Success acknowledgement's packet id (1..65535) to mark it a PUBREC. */
const HELD_PUBREC = 0x10000;
/** `Message.storeRows`: the store keeps something of the message that a commit must write. */
const PINNED = -2;

/**
 * A delivery of `message` to a stored session was queued or went in flight. `counted`: a queued
 * delivery or a QoS 1 flow, which its subscriber's PUBACK ends; anything else pins the message to
 * its commit (see `Message.storeRows`).
 */
function deliveryStored(message: Message, counted: boolean): void {
  const rows = message.storeRows ?? PINNED;
  message.storeRows = counted && rows >= 0 ? rows + 1 : PINNED;
}

/**
 * A PUBLISH that could not be made durable is not acknowledged as if it were: v5 clients get the
 * failure reason code (Quota exceeded; the flow ends), v3 clients, whose acknowledgements cannot
 * refuse, lose the connection without the acknowledgement and send the PUBLISH again on their next
 * connection.
 */
function refuse(client: Client, packet: Packet): void {
  if (client.protocolVersion === 5 && (packet.type === 'puback' || packet.type === 'pubrec')) {
    if (packet.type === 'pubrec') client.session?.inboundQos2.delete(packet.packetId);
    client.send({ ...packet, reasonCode: ReasonCode.QuotaExceeded });
  } else if (packet.type === 'suback') {
    // The subscriptions are live already (in memory): the client is told so; the log says why they
    // may not survive a restart.
    client.send(packet);
  } else client.close(new Error('store commit failed: acknowledgement withheld'));
}

function storedSession(session: Session): StoredSession {
  return {
    clientId: session.clientId,
    protocolVersion: session.protocolVersion,
    expiryInterval: session.expiryInterval,
    disconnectedAt: session.client === undefined ? session.disconnectedAt : 0,
    will: session.client === undefined ? undefined : session.will,
    pendingWill:
      session.pendingWill === undefined ? undefined : { will: session.pendingWill, dueAt: session.willDueAt },
  };
}

/**
 * Whether two sets of figures are the same for the store. The retained count is left out: it is
 * counted from the retained messages themselves when the broker starts, and the first $SYS round
 * changes it by adding its own (which the store does not keep).
 */
function sameFigures(a: Readonly<SysInfo>, b: Readonly<SysInfo>): boolean {
  for (const key of Object.keys(a) as (keyof SysInfo)[])
    if (key !== 'retained' && a[key] !== b[key]) return false;
  return true;
}
