/** How many completed QoS 2 receptions are remembered to recognise a broker's stale re-delivery. */
const REMEMBERED = 256;

/**
 * The receiving side of QoS 2 (section 4.3.3, method B: deliver on PUBLISH, remember the packet id
 * until PUBREL).
 *
 * It also guards against a broker that loses track of a completed flow: Mosquitto 2.0 restarted from
 * its persistent store re-sends, with DUP set, a PUBLISH whose PUBREL/PUBCOMP had already been
 * exchanged. A DUP PUBLISH is by definition a re-delivery [MQTT-3.3.1-1] and a reused packet id
 * would first arrive without DUP, so a DUP PUBLISH whose id, topic and payload match a recently
 * completed one is the same message again: it is acknowledged, not delivered twice.
 */
export class Qos2Receiver {
  /** PUBREC sent, waiting for PUBREL: packet id → fingerprint. */
  readonly #pending = new Map<number, number>();
  /** Recently completed (PUBCOMP sent), oldest first. */
  readonly #completed = new Map<number, number>();

  /** Flows waiting for PUBREL. */
  get size(): number {
    return this.#pending.size;
  }

  has(packetId: number): boolean {
    return this.#pending.has(packetId);
  }

  /** True for a DUP PUBLISH that repeats a message whose flow already completed. */
  isReplay(packetId: number, fingerprint: number): boolean {
    return this.#completed.get(packetId) === fingerprint;
  }

  /** PUBREC is being sent for this packet id. */
  received(packetId: number, fingerprint: number): void {
    this.#completed.delete(packetId);
    this.#pending.set(packetId, fingerprint);
  }

  /** PUBREL arrived; returns false for an unknown packet id. */
  release(packetId: number): boolean {
    const fingerprint = this.#pending.get(packetId);
    if (fingerprint === undefined) return false;
    this.#pending.delete(packetId);
    this.#completed.set(packetId, fingerprint);
    if (this.#completed.size > REMEMBERED) {
      const oldest = this.#completed.keys().next().value as number;
      this.#completed.delete(oldest);
    }
    return true;
  }

  /** The session is gone. */
  clear(): void {
    this.#pending.clear();
    this.#completed.clear();
  }
}

/** FNV-1a over the topic and payload: cheap identity of a message for {@link Qos2Receiver}. */
export function fingerprint(topic: string, payload: Uint8Array): number {
  let h = 0x811c9dc5 ^ payload.length;
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193);
  for (let i = 0; i < payload.length; i++) h = Math.imul(h ^ (payload[i] as number), 0x01000193);
  return h >>> 0;
}
