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
const FIRST_SLOTS = 32;

/**
 * A session's outbound in-flight messages by packet id, with packet-id allocation. Allocation walks
 * forward from the last id, so ids are not reused while the peer may still hold an old one.
 *
 * Entries sit in a table indexed by the low bits of their packet id, not in a Map: a Map whose keys
 * come and go at every QoS 1/2 message reallocates its table every few messages. Allocation skips
 * ids whose slot is taken, so a slot never holds two entries; the table doubles once it is half
 * full, and doubling never makes two ids share a slot (ids apart from each other in n bits stay so
 * in n + 1). An id added from storage whose slot is taken grows the table until it fits (at 65 536
 * slots every id has its own). Ids are handed out in a cycle, so the sending order is the order of
 * the ids going back from the last one (what `values` follows).
 *
 * ```
 *   ids 33, 34, 35 in flight, 32 slots:  slot 1 → 33, slot 2 → 34, slot 3 → 35, the rest empty
 * ```
 */
export class Inflight {
  /** Created on first use: most idle sessions never have anything in flight. */
  #slots: (InflightEntry | undefined)[] | undefined;
  #size = 0;
  #lastId = 0;

  get size(): number {
    return this.#size;
  }

  /** A free packet id (1..65535), or 0 when all are in use. */
  allocate(): number {
    if (this.#size >= MAX_PACKET_ID) return 0;
    const slots = this.#room();
    const mask = slots.length - 1;
    let id = this.#lastId;
    do {
      id = id === MAX_PACKET_ID ? 1 : id + 1;
    } while (slots[id & mask] !== undefined);
    this.#lastId = id;
    return id;
  }

  add(entry: InflightEntry): void {
    let slots = this.#room();
    while (slots[entry.packetId & (slots.length - 1)] !== undefined) {
      if (slots[entry.packetId & (slots.length - 1)]!.packetId === entry.packetId) {
        this.#size--; // replaced
        break;
      }
      slots = this.#grow();
    }
    slots[entry.packetId & (slots.length - 1)] = entry;
    this.#size++;
    this.#lastId = entry.packetId;
  }

  get(packetId: number): InflightEntry | undefined {
    const slots = this.#slots;
    if (slots === undefined) return undefined;
    const entry = slots[packetId & (slots.length - 1)];
    return entry?.packetId === packetId ? entry : undefined;
  }

  delete(packetId: number): boolean {
    const slots = this.#slots;
    if (slots === undefined) return false;
    const slot = packetId & (slots.length - 1);
    if (slots[slot]?.packetId !== packetId) return false;
    slots[slot] = undefined;
    this.#size--;
    return true;
  }

  /** The entries in the order they were added (the order they were sent). */
  values(): IterableIterator<InflightEntry> {
    const slots = this.#slots;
    if (slots === undefined || this.#size === 0) return noEntries.values();
    const entries: InflightEntry[] = [];
    for (const entry of slots) if (entry !== undefined) entries.push(entry);
    const last = this.#lastId;
    // The id sent longest ago is the furthest back from the last id, counting back cyclically.
    const age = (id: number) => (last - id + MAX_PACKET_ID) % MAX_PACKET_ID;
    return entries.sort((a, b) => age(b.packetId) - age(a.packetId)).values();
  }

  clear(): void {
    this.#slots = undefined;
    this.#size = 0;
  }

  /** The table, made or doubled so that one more entry keeps it at most half full. */
  #room(): (InflightEntry | undefined)[] {
    const slots = this.#slots;
    if (slots === undefined) {
      this.#slots = new Array<InflightEntry | undefined>(FIRST_SLOTS).fill(undefined);
      return this.#slots;
    }
    return (this.#size + 1) * 2 > slots.length && slots.length <= MAX_PACKET_ID ? this.#grow() : slots;
  }

  #grow(): (InflightEntry | undefined)[] {
    const old = this.#slots!;
    const slots = new Array<InflightEntry | undefined>(old.length * 2).fill(undefined);
    const mask = slots.length - 1;
    for (const entry of old) if (entry !== undefined) slots[entry.packetId & mask] = entry;
    this.#slots = slots;
    return slots;
  }
}

const noEntries: InflightEntry[] = [];
