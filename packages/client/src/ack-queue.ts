/**
 * Consumer-controlled acknowledgement of incoming QoS 1/2 messages.
 *
 * A ticket is held by every consumer of the message (the dispatch itself, each listener that returned
 * a promise, each iterator it was queued in). When the last hold is released, or `ack()` is called,
 * the ticket is done. Acknowledgements leave strictly in arrival order ([MQTT-4.6.0-2] PUBACK and
 * [MQTT-4.6.0-3] PUBREC in the order the PUBLISH packets were received), so a finished ticket
 * waits for the older unfinished ones:
 *
 *   head                     tail
 *   [done][held][done][held] ← new
 *     │ sent at once
 *          └ blocks the rest until done
 *
 * Unacknowledged messages count against the Receive Maximum this client announced, which is what
 * paces the server.
 */
export class AckTicket {
  readonly packetId: number;
  readonly qos: 1 | 2;
  /** QoS 2: identity of the message, see `Qos2Receiver`. */
  readonly fingerprint: number;
  holds = 1;
  done = false;
  /** Set when the session that owned the packet id ended: acking it would answer a stranger. */
  stale = false;
  /** The connection (the inbox counts them) the PUBLISH came on. */
  readonly connection: number;
  readonly #queue: AckQueue;

  constructor(queue: AckQueue, packetId: number, qos: 1 | 2, fingerprint: number, connection: number) {
    this.#queue = queue;
    this.fingerprint = fingerprint;
    this.packetId = packetId;
    this.qos = qos;
    this.connection = connection;
  }

  /** Drops one hold; the last one completes the ticket. */
  release(): void {
    if (this.done || --this.holds > 0) return;
    this.complete();
  }

  /** Completes the ticket whatever the holds. */
  complete(): void {
    if (this.done) return;
    this.done = true;
    if (!this.stale) this.#queue.flush();
  }
}

export class AckQueue {
  #items: (AckTicket | undefined)[] = [];
  #head = 0;
  readonly #pending = new Set<number>();
  /** Sends the acknowledgement; returns false when it cannot go out now (offline). */
  readonly #send: (ticket: AckTicket) => boolean;

  constructor(send: (ticket: AckTicket) => boolean) {
    this.#send = send;
  }

  /** Unacknowledged messages. */
  get size(): number {
    return this.#pending.size;
  }

  has(packetId: number): boolean {
    return this.#pending.has(packetId);
  }

  add(packetId: number, qos: 1 | 2, fingerprint = 0, connection = 0): AckTicket {
    const ticket = new AckTicket(this, packetId, qos, fingerprint, connection);
    this.#items.push(ticket);
    this.#pending.add(packetId);
    return ticket;
  }

  /** Sends the acknowledgements that are due, in order. */
  flush(): void {
    const items = this.#items;
    while (this.#head < items.length) {
      const ticket = items[this.#head] as AckTicket;
      if (!ticket.done || !this.#send(ticket)) break;
      this.#pending.delete(ticket.packetId);
      items[this.#head++] = undefined;
    }
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Forgets every ticket: the session they belonged to is gone. */
  clear(): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      const ticket = this.#items[i];
      if (ticket) ticket.stale = true;
    }
    this.#items = [];
    this.#head = 0;
    this.#pending.clear();
  }
}
