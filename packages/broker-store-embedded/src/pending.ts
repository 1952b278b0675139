import type { Delivery, Message, SessionSubscription, StoredSession, SysInfo } from '@x/broker';

/** An in-flight message waiting to be written. */
export interface PendingInflight {
  delivery: Delivery;
  released: boolean;
  /** Sending order, given when the flow started. */
  order: number;
  /** A delete of the same packet id came before in this batch: the row is replaced, order and all. */
  replaces: boolean;
  /**
   * The flow's row may be on disk already: a PUBREL update of a flow that an earlier write saved.
   * Its delete must then be written, not cancelled.
   */
  written: boolean;
}

/** What one session changed since the last write. `null` values are deletes. */
export interface PendingClient {
  /** `deleteSession` came first: every stored row of the client goes before the rest is written. */
  deleted: boolean;
  session: StoredSession | undefined;
  subscriptions: Map<string, SessionSubscription | null>;
  queue: Map<number, Delivery | null>;
  inflight: Map<number, PendingInflight | null>;
  /** true: accepted in this batch; 'replaced': accepted again after a delete in this batch; false: delete. */
  inboundQos2: Map<number, boolean | 'replaced'>;
}

/** Bytes a key or a delete costs in the batch (map entry, key, marker), a rough upper figure. */
const ENTRY = 64;

function messageBytes(message: Message): number {
  // The payload is shared with the broker, but it is kept alive by the batch until written.
  return ENTRY + message.topic.length * 2 + message.payload.length;
}

/**
 * The changes recorded since the last successful write, folded by key: a later change to the same
 * row replaces the earlier one, so while the disk fails the batch holds at most one entry per row
 * of the live state, not one per change. `bytes` is kept up to date for the `maxPendingBytes` bound.
 *
 * Order inside the batch does not matter except for `deleteSession`, which clears the client's
 * earlier entries and is written before the client's later ones.
 */
export class PendingBatch {
  readonly clients = new Map<string, PendingClient>();
  readonly retained = new Map<string, Message | null>();
  sysInfo: Readonly<SysInfo> | undefined;
  bytes = 0;
  /** Number of changes recorded (folded or not), for logs. */
  changes = 0;
  /**
   * Set by `absorb`: this batch holds rows of a write that failed, which the disk may have taken in
   * part, so a delete of a row saved in it keeps its delete marker. In a fresh batch a row saved
   * and deleted again never reached the disk, and the pair cancels out (the common case for an
   * online subscriber: the PUBACK comes before the commit that would have written its message).
   */
  #mayBeWritten = false;

  get empty(): boolean {
    return this.clients.size === 0 && this.retained.size === 0 && this.sysInfo === undefined;
  }

  #client(clientId: string): PendingClient {
    let client = this.clients.get(clientId);
    if (client === undefined) {
      client = {
        deleted: false,
        session: undefined,
        subscriptions: new Map(),
        queue: new Map(),
        inflight: new Map(),
        inboundQos2: new Map(),
      };
      this.clients.set(clientId, client);
      this.bytes += ENTRY + clientId.length * 2;
    }
    return client;
  }

  saveSession(session: StoredSession): void {
    this.changes++;
    const client = this.#client(session.clientId);
    if (client.session === undefined) this.bytes += ENTRY * 2;
    client.session = { ...session };
  }

  deleteSession(clientId: string): void {
    this.changes++;
    const known = this.clients.get(clientId);
    if (known !== undefined) this.bytes -= clientBytes(clientId, known);
    this.clients.delete(clientId);
    this.#client(clientId).deleted = true;
  }

  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.changes++;
    const map = this.#client(clientId).subscriptions;
    if (!map.has(subscription.topicFilter)) this.bytes += ENTRY + subscription.topicFilter.length * 2;
    map.set(subscription.topicFilter, { ...subscription });
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.changes++;
    const map = this.#client(clientId).subscriptions;
    if (!map.has(topicFilter)) this.bytes += ENTRY + topicFilter.length * 2;
    map.set(topicFilter, null);
  }

  queueMessage(clientId: string, seq: number, delivery: Delivery): void {
    this.changes++;
    const map = this.#client(clientId).queue;
    this.bytes += messageBytes(delivery.message) - entryBytes(map.get(seq));
    map.set(seq, delivery);
  }

  dequeueMessage(clientId: string, seq: number): void {
    this.changes++;
    const map = this.#client(clientId).queue;
    const known = map.get(seq);
    // Sequence numbers are never reused: a message queued in a fresh batch is not on disk.
    if (known != null && !this.#mayBeWritten) {
      this.bytes -= entryBytes(known);
      map.delete(seq);
      return;
    }
    // A delete marker when the entry came from a failed write: the disk may have taken part of it;
    // deleting a missing row costs one lookup.
    this.bytes += ENTRY - entryBytes(known);
    map.set(seq, null);
  }

  saveInflight(
    clientId: string,
    packetId: number,
    delivery: Delivery,
    released: boolean,
    order: number,
  ): void {
    this.changes++;
    const map = this.#client(clientId).inflight;
    const known = map.get(packetId);
    this.bytes +=
      messageBytes(delivery.message) -
      entryBytes(known === null || known === undefined ? known : known.delivery);
    map.set(
      packetId,
      known === undefined
        ? // A flow starts with a save at PUBLISH (released false); a PUBREL with no entry here
          // updates a row an earlier write saved.
          { delivery, released, order, replaces: false, written: released }
        : known === null
          ? { delivery, released, order, replaces: true, written: false }
          : // A PUBREL state change (or a new message under a live id) keeps the flow's place.
            { delivery, released, order: known.order, replaces: known.replaces, written: known.written },
    );
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.changes++;
    const map = this.#client(clientId).inflight;
    const known = map.get(packetId);
    // A flow that started in this fresh batch (not replacing a row deleted in it, not updating a
    // row written before) never reached the disk: nothing to write.
    if (known != null && !known.replaces && !known.written && !this.#mayBeWritten) {
      this.bytes -= entryBytes(known.delivery);
      map.delete(packetId);
      return;
    }
    this.bytes += ENTRY - entryBytes(known === null || known === undefined ? known : known.delivery);
    map.set(packetId, null);
  }

  saveInboundQos2(clientId: string, packetId: number): void {
    this.changes++;
    const map = this.#client(clientId).inboundQos2;
    const known = map.get(packetId);
    if (known === undefined) this.bytes += ENTRY;
    // After a delete in this batch the row may be on disk: a later delete must still be written.
    map.set(packetId, known === false || known === 'replaced' ? 'replaced' : true);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.changes++;
    const map = this.#client(clientId).inboundQos2;
    const known = map.get(packetId);
    // Accepted in this fresh batch (PUBREL before the commit): the id never reached the disk.
    if (known === true && !this.#mayBeWritten) {
      this.bytes -= ENTRY;
      map.delete(packetId);
      return;
    }
    if (known === undefined) this.bytes += ENTRY;
    map.set(packetId, false);
  }

  saveRetained(message: Message): void {
    this.changes++;
    const known = this.retained.get(message.topic);
    this.bytes += messageBytes(message) - retainedBytes(message.topic, known);
    this.retained.set(message.topic, message);
  }

  deleteRetained(topic: string): void {
    this.changes++;
    const known = this.retained.get(topic);
    this.bytes += ENTRY + topic.length * 2 - retainedBytes(topic, known);
    this.retained.set(topic, null);
  }

  saveSysInfo(info: Readonly<SysInfo>): void {
    this.changes++;
    if (this.sysInfo === undefined) this.bytes += ENTRY * 4;
    this.sysInfo = { ...info };
  }

  /**
   * Folds `later` (recorded after this batch) into this one: used when this batch failed to write
   * while `later` was being recorded, so both are written together, in order, on the next try.
   */
  absorb(later: PendingBatch): void {
    this.#mayBeWritten = true;
    for (const [clientId, client] of later.clients) {
      if (client.deleted) {
        this.deleteSession(clientId);
        this.changes--; // counted in later.changes
      }
      const mine = this.#client(clientId);
      if (client.session !== undefined) mine.session = client.session;
      for (const [k, v] of client.subscriptions) mine.subscriptions.set(k, v);
      for (const [k, v] of client.queue) mine.queue.set(k, v);
      for (const [k, v] of client.inflight) {
        const known = mine.inflight.get(k);
        if (v === null || known === undefined || v.replaces) mine.inflight.set(k, v);
        else if (known === null) mine.inflight.set(k, { ...v, replaces: true });
        else mine.inflight.set(k, { ...v, order: known.order, replaces: known.replaces });
      }
      for (const [k, v] of client.inboundQos2) mine.inboundQos2.set(k, v);
    }
    for (const [k, v] of later.retained) this.retained.set(k, v);
    if (later.sysInfo !== undefined) this.sysInfo = later.sysInfo;
    this.changes += later.changes;
    let bytes = this.sysInfo === undefined ? 0 : ENTRY * 4;
    for (const [clientId, client] of this.clients) bytes += clientBytes(clientId, client);
    for (const [topic, message] of this.retained) bytes += retainedBytes(topic, message);
    this.bytes = bytes;
  }
}

function entryBytes(value: Delivery | null | undefined): number {
  if (value === undefined) return 0;
  if (value === null) return ENTRY;
  return messageBytes(value.message);
}

function retainedBytes(topic: string, value: Message | null | undefined): number {
  if (value === undefined) return 0;
  if (value === null) return ENTRY + topic.length * 2;
  return messageBytes(value);
}

function clientBytes(clientId: string, client: PendingClient): number {
  let bytes = ENTRY + clientId.length * 2 + (client.session === undefined ? 0 : ENTRY * 2);
  for (const topicFilter of client.subscriptions.keys()) bytes += ENTRY + topicFilter.length * 2;
  for (const delivery of client.queue.values()) bytes += entryBytes(delivery);
  for (const flow of client.inflight.values()) bytes += entryBytes(flow === null ? null : flow.delivery);
  bytes += client.inboundQos2.size * ENTRY;
  return bytes;
}
