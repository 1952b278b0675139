import type { Delivery } from './message.js';

/** An outbound QoS 1/2 message waiting for its acknowledgement. */
export interface InflightEntry {
  packetId: number;
  delivery: Delivery;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
  /** Times it was sent again after a reconnection. */
  resends: number;
}

const MAX_PACKET_ID = 65_535;
const noEntries: ReadonlyMap<number, InflightEntry> = new Map();

/**
 * A session's outbound in-flight messages by packet id, with packet-id allocation. Allocation walks
 * forward from the last id, so ids are not reused while the peer may still hold an old one, and
 * skips ids in use; the in-flight window keeps the walk short.
 */
export class Inflight {
  /** Created on first use: most idle sessions never have anything in flight. */
  #entries: Map<number, InflightEntry> | undefined;
  #lastId = 0;

  get size(): number {
    return this.#entries === undefined ? 0 : this.#entries.size;
  }

  /** A free packet id (1..65535), or 0 when all are in use. */
  allocate(): number {
    const entries = this.#entries;
    if (entries !== undefined && entries.size >= MAX_PACKET_ID) return 0;
    let id = this.#lastId;
    do {
      id = id === MAX_PACKET_ID ? 1 : id + 1;
    } while (entries?.has(id));
    this.#lastId = id;
    return id;
  }

  add(entry: InflightEntry): void {
    if (this.#entries === undefined) this.#entries = new Map();
    this.#entries.set(entry.packetId, entry);
  }

  get(packetId: number): InflightEntry | undefined {
    return this.#entries?.get(packetId);
  }

  delete(packetId: number): boolean {
    return this.#entries?.delete(packetId) ?? false;
  }

  values(): IterableIterator<InflightEntry> {
    return (this.#entries ?? noEntries).values();
  }

  clear(): void {
    this.#entries = undefined;
  }
}
