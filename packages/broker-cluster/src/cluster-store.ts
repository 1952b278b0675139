import type {
  Delivery,
  Message,
  SessionSubscription,
  Store,
  StoredSession,
  StoredState,
  SysInfo,
} from '@x/broker';
import type { RedisStore } from '@x/broker-store-redis';

/** What the store wrapper needs from the cluster. */
export interface ClusterStoreDeps {
  /** Connects the cluster and keeps, of what the store holds, the sessions this node owns. */
  open(state: StoredState): Promise<StoredState>;
  /** The cluster's Redis writes issued since the last call (forwarded QoS 1/2 messages, summary). */
  takeWrites(): Promise<unknown>[];
  /** False while the cluster's own Redis connection is down. */
  connected(): boolean;
  close(): Promise<void>;
}

/**
 * The shared `RedisStore` as one node sees it. A commit is done when the store's transaction and
 * every cluster write issued before it (XADD of a forwarded QoS 1/2 message, a summary change) have
 * been answered: the broker holds a PUBACK/PUBREC until then, so an acknowledged message is in the
 * stream of every node that needs it. `open()` keeps the sessions this node owns; `$SYS` counters
 * are per node and not stored.
 */
export class ClusterStore implements Store {
  readonly name = 'redis-cluster';
  readonly inner: RedisStore;
  readonly #deps: ClusterStoreDeps;
  /** Commits call back in the order they were made, whichever of their writes answers first. */
  #tail: Promise<void> = Promise.resolve();

  constructor(inner: RedisStore, deps: ClusterStoreDeps) {
    this.inner = inner;
    this.#deps = deps;
  }

  get writable(): boolean {
    return this.inner.writable && this.#deps.connected();
  }

  async open(): Promise<StoredState> {
    return this.#deps.open(await this.inner.open());
  }

  saveSession(session: StoredSession): void {
    this.inner.saveSession(session);
  }
  deleteSession(clientId: string): void {
    this.inner.deleteSession(clientId);
  }
  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.inner.saveSubscription(clientId, subscription);
  }
  deleteSubscription(clientId: string, topicFilter: string): void {
    this.inner.deleteSubscription(clientId, topicFilter);
  }
  queueMessage(clientId: string, seq: number, delivery: Delivery): void {
    this.inner.queueMessage(clientId, seq, delivery);
  }
  dequeueMessage(clientId: string, seq: number): void {
    this.inner.dequeueMessage(clientId, seq);
  }
  saveInflight(clientId: string, packetId: number, delivery: Delivery, released: boolean): void {
    this.inner.saveInflight(clientId, packetId, delivery, released);
  }
  deleteInflight(clientId: string, packetId: number): void {
    this.inner.deleteInflight(clientId, packetId);
  }
  saveInboundQos2(clientId: string, packetId: number): void {
    this.inner.saveInboundQos2(clientId, packetId);
  }
  deleteInboundQos2(clientId: string, packetId: number): void {
    this.inner.deleteInboundQos2(clientId, packetId);
  }
  saveRetained(message: Message): void {
    this.inner.saveRetained(message);
  }
  deleteRetained(topic: string): void {
    this.inner.deleteRetained(topic);
  }
  saveSysInfo(_info: Readonly<SysInfo>): void {
    // Per-node figures: several nodes writing one hash would overwrite each other.
  }

  commit(done: (error: Error | undefined) => void): void {
    const writes = this.#deps.takeWrites();
    const stored = new Promise<Error | undefined>((resolve) => this.inner.commit(resolve));
    const all =
      writes.length === 0
        ? stored
        : Promise.all([
            stored,
            Promise.all(writes).then(
              () => undefined,
              (error: unknown) =>
                new Error(`cluster write failed: ${(error as Error).message ?? String(error)}`, {
                  cause: error,
                }),
            ),
          ]).then(([a, b]) => a ?? b);
    this.#tail = this.#tail.then(() => all).then(done);
  }

  async close(): Promise<void> {
    await this.#deps.close();
    await this.inner.close();
  }
}
