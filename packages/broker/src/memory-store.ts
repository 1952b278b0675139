import type { Delivery, Message } from './message.js';
import type { SessionSubscription } from './session.js';
import type { Store, StoredInflight, StoredSession, StoredState } from './storage.js';
import type { SysInfo } from './system.js';

interface SessionRecord {
  session: StoredSession;
  subscriptions: Map<string, SessionSubscription>;
  queue: Map<number, Delivery>;
  inflight: Map<number, StoredInflight>;
  inboundQos2: Set<number>;
}

/**
 * A store that keeps what it is told in this process's memory: a broker closed and replaced by a
 * new one given the same `MemoryStore` resumes every persistent session, queue, in-flight message
 * and retained message. Useful in tests and for restarting a broker inside one process; nothing
 * survives the process. Every commit is immediate.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #retained = new Map<string, Message>();
  #sysInfo: Partial<SysInfo> | undefined;

  async open(): Promise<StoredState> {
    return {
      sessions: Array.from(this.#sessions.values(), (r) => ({
        ...r.session,
        subscriptions: [...r.subscriptions.values()],
        queue: [...r.queue.values()],
        inflight: [...r.inflight.values()],
        inboundQos2: [...r.inboundQos2],
      })),
      retained: [...this.#retained.values()],
      sysInfo: this.#sysInfo,
    };
  }

  saveSession(session: StoredSession): void {
    const record = this.#sessions.get(session.clientId);
    if (record) record.session = { ...session };
    else
      this.#sessions.set(session.clientId, {
        session: { ...session },
        subscriptions: new Map(),
        queue: new Map(),
        inflight: new Map(),
        inboundQos2: new Set(),
      });
  }

  deleteSession(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.#sessions.get(clientId)?.subscriptions.set(subscription.topicFilter, { ...subscription });
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#sessions.get(clientId)?.subscriptions.delete(topicFilter);
  }

  queueMessage(clientId: string, seq: number, delivery: Delivery): void {
    this.#sessions.get(clientId)?.queue.set(seq, delivery);
  }

  dequeueMessage(clientId: string, seq: number): void {
    this.#sessions.get(clientId)?.queue.delete(seq);
  }

  saveInflight(clientId: string, packetId: number, delivery: Delivery, released: boolean): void {
    const inflight = this.#sessions.get(clientId)?.inflight;
    if (inflight === undefined) return;
    // A PUBREL state change keeps the flow's place in the sending order.
    const known = inflight.get(packetId);
    if (known !== undefined && known.delivery === delivery) known.released = released;
    else inflight.set(packetId, { packetId, delivery, released });
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#sessions.get(clientId)?.inflight.delete(packetId);
  }

  saveInboundQos2(clientId: string, packetId: number): void {
    this.#sessions.get(clientId)?.inboundQos2.add(packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.#sessions.get(clientId)?.inboundQos2.delete(packetId);
  }

  saveRetained(message: Message): void {
    this.#retained.set(message.topic, message);
  }

  deleteRetained(topic: string): void {
    this.#retained.delete(topic);
  }

  saveSysInfo(info: Readonly<SysInfo>): void {
    this.#sysInfo = { ...info };
  }

  commit(done: (error: Error | undefined) => void): void {
    done(undefined);
  }

  async close(): Promise<void> {}
}
