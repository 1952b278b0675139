import type { Packet, ProtocolVersion, PublishPacket } from '@x/packets';
import { Decoder, encodedLength, encodeInto } from '@x/packets';
import { type MqttClientError, storeError } from './errors.js';
import type { OutgoingStore } from './store.js';

/** A publish taken back from the store. */
export interface RestoredPublish {
  packet: PublishPacket;
  released: boolean;
}

/**
 * The outbox's side of an outgoing store: packets encoded for it, decoded from it, and failures
 * turned into STORE_ERROR. Calls reach the store in the order the outbox makes them.
 */
export class StoreLink {
  readonly #store: OutgoingStore;
  readonly #protocolVersion: ProtocolVersion;
  readonly #report: (error: MqttClientError) => void;

  constructor(
    store: OutgoingStore,
    protocolVersion: ProtocolVersion,
    report: (error: MqttClientError) => void,
  ) {
    this.#store = store;
    this.#protocolVersion = protocolVersion;
    this.#report = report;
  }

  /** Writes a publish with its packet id; resolves once durable. @throws when it cannot be encoded. */
  put(packet: PublishPacket): Promise<void> {
    // encodedLength + encodeInto, the functions the connection uses: no second encoder in the bundle.
    const bytes = new Uint8Array(encodedLength(packet, this.#protocolVersion));
    encodeInto(packet, this.#protocolVersion, bytes, 0);
    return this.#store.put(packet.packetId as number, bytes).catch(rethrowAsStoreError);
  }

  /** QoS 2 past PUBREC; resolves once durable. */
  release(packetId: number): Promise<void> {
    return this.#store.release(packetId).catch(rethrowAsStoreError);
  }

  /** The flow is over; a failure is reported, nobody waits for it. */
  delete(packetId: number): void {
    this.#store.delete(packetId).catch((error: unknown) => this.#report(storeError(error)));
  }

  /** What an earlier run stored, decoded; an entry that is no QoS 1/2 PUBLISH is reported and dropped. */
  async load(): Promise<RestoredPublish[]> {
    const entries = await this.#store.list().catch(rethrowAsStoreError);
    const restored: RestoredPublish[] = [];
    const seen = new Set<number>();
    for (const entry of entries) {
      let packet: Packet | undefined;
      try {
        // The streaming Decoder the connection uses; one whole packet gives exactly one.
        const packets = new Decoder({ protocolVersion: this.#protocolVersion }).push(entry.packet);
        packet = packets.length === 1 ? packets[0] : undefined;
      } catch {
        packet = undefined;
      }
      if (packet?.type !== 'publish' || packet.qos === 0 || seen.has(entry.packetId)) {
        this.#report(storeError(new Error(`stored packet ${entry.packetId} is not a QoS 1/2 PUBLISH`)));
        if (!seen.has(entry.packetId)) this.delete(entry.packetId);
        continue;
      }
      seen.add(entry.packetId);
      packet.packetId = entry.packetId;
      restored.push({ packet, released: entry.released });
    }
    return restored;
  }

  /** Writes what is pending and closes; a failure is reported. */
  close(): Promise<void> {
    return this.#store.close().catch((error: unknown) => this.#report(storeError(error)));
  }
}

function rethrowAsStoreError(error: unknown): never {
  throw storeError(error);
}
