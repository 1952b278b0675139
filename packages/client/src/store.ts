/** One outgoing QoS 1/2 PUBLISH whose flow has not completed. */
export interface StoredPublish {
  packetId: number;
  /** The PUBLISH as encoded for the client's protocol version (no Topic Alias, DUP clear). */
  packet: Uint8Array;
  /** QoS 2 past PUBREC: the next connection sends PUBREL for it, not the PUBLISH. */
  released: boolean;
}

/**
 * Where a client keeps its outgoing QoS 1/2 publishes until their flow completes, so that they
 * and their packet identifiers survive a restart of the process (MQTT.js users know it as
 * `outgoingStore`). `FileStore` (Node) and `IndexedDbStore` (browsers) implement it.
 *
 * The client calls the methods in the order the events happen and expects them applied in that
 * order (a packet id deleted and then put again is stored). A rejected `put` fails its `publish()`
 * without sending it; other failures are reported on the client's `error` event.
 */
export interface OutgoingStore {
  /**
   * Everything stored, once, before the first connection: the publishes in the order they were
   * put, the released ones in the order they were released.
   */
  list(): Promise<StoredPublish[]>;
  /** Stores a publish under its packet id. Resolves once it is durable: only then is it sent. */
  put(packetId: number, packet: Uint8Array): Promise<void>;
  /** QoS 2: the PUBREC arrived. Resolves once durable: only then is the PUBREL sent. */
  release(packetId: number): Promise<void>;
  /** The flow completed or failed for good. Need not be durable when it resolves. */
  delete(packetId: number): Promise<void>;
  /** Writes what is pending and releases the store; `end()` waits for it. */
  close(): Promise<void>;
}
