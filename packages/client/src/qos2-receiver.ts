/**
 * The receiving side of QoS 2 (section 4.3.3, method B: deliver on PUBLISH, remember the packet id
 * until PUBREL).
 *
 * Optionally (`remember` > 0, the `qos2ReplayGuard` option) it also guards against a broker that
 * loses track of a completed flow: Mosquitto 2.0 restarted from its persistent store re-sends, with
 * DUP set, a PUBLISH whose PUBREL/PUBCOMP had already been exchanged. A DUP PUBLISH whose id, topic
 * and payload match one of the last `remember` completed flows is then acknowledged, not delivered
 * twice. That departs from [MQTT-4.3.3-12] (after PUBCOMP a PUBLISH with that packet id is a new
 * message), hence off by default.
 */
export class Qos2Receiver {
  /** PUBREC sent, waiting for PUBREL: packet id → fingerprint. */
  readonly #pending = new Map<number, number>();
  /** Recently completed (PUBCOMP sent), oldest first. */
  readonly #completed = new Map<number, number>();
  /** Completed flows remembered; 0 keeps none (spec behaviour). */
  readonly #remember: number;

  constructor(remember = 0) {
    this.#remember = remember;
  }

  /** Flows waiting for PUBREL. */
  get size(): number {
    return this.#pending.size;
  }

  has(packetId: number): boolean {
    return this.#pending.has(packetId);
  }

  /** True for a DUP PUBLISH that repeats a message whose flow already completed. */
  isReplay(packetId: number, fingerprint: number): boolean {
    return this.#remember > 0 && this.#completed.get(packetId) === fingerprint;
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
    if (this.#remember === 0) return true;
    this.#completed.set(packetId, fingerprint);
    if (this.#completed.size > this.#remember) {
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
