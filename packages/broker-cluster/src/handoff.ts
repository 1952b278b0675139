import { matchesFilter } from '@x/topics';

interface Departure {
  to: string;
  filters: string[];
  timer: NodeJS.Timeout;
}

/**
 * Sessions that just moved between nodes. On the node a session left, its filters stay in the
 * summary for `graceMs` and every QoS 1/2 message matching them (accepted here or read from this
 * node's stream) is sent on to the session's new node as a copy for that session only: until every
 * node knows the new node's summary, publishers still route to the old one, and without the copy
 * such a message — acknowledged — would reach nobody. On the new node, the session is `arriving`
 * for as long: its deliveries are checked for the copies' duplicates.
 */
export class Handoffs {
  readonly #graceMs: number;
  readonly #onDeparted: (clientId: string) => void;
  readonly #departed = new Map<string, Departure>();
  readonly #arriving = new Map<string, number>();
  /** Sessions a CONNECT here is taking from another node, until they are loaded. */
  readonly #claiming = new Map<string, Promise<void>>();

  /** `onDeparted` runs when the grace period of a session that left ends (drop its filters then). */
  constructor(graceMs: number, onDeparted: (clientId: string) => void) {
    this.#graceMs = graceMs;
    this.#onDeparted = onDeparted;
  }

  /** A session left this node for `to`, with these topic filters. */
  departed(clientId: string, to: string, filters: Iterable<string>): void {
    this.#cancel(clientId);
    const timer = setTimeout(() => {
      this.#departed.delete(clientId);
      this.#onDeparted(clientId);
    }, this.#graceMs);
    timer.unref();
    // Shared subscriptions are balanced over nodes per message: no copy for them.
    this.#departed.set(clientId, {
      to,
      filters: [...filters].filter((f) => !f.startsWith('$share/')),
      timer,
    });
  }

  /** A session came to this node. */
  arrived(clientId: string): void {
    this.#cancel(clientId);
    this.#arriving.set(clientId, Date.now() + this.#graceMs);
  }

  /**
   * A CONNECT here starts taking a session from another node; call the result once the session is
   * loaded (or the claim failed). Copies for it that arrive meanwhile wait (`whenClaimed`).
   */
  claiming(clientId: string): () => void {
    let done!: () => void;
    const claimed = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.#claiming.set(clientId, claimed);
    return () => {
      if (this.#claiming.get(clientId) === claimed) this.#claiming.delete(clientId);
      done();
    };
  }

  /** Resolves once none of these sessions is being claimed here; undefined when none is. */
  whenClaimed(clientIds: readonly string[]): Promise<void> | undefined {
    const waits: Promise<void>[] = [];
    for (const id of clientIds) {
      const claimed = this.#claiming.get(id);
      if (claimed !== undefined) waits.push(claimed);
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => {});
  }

  isArriving(clientId: string): boolean {
    const until = this.#arriving.get(clientId);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#arriving.delete(clientId);
    return false;
  }

  /** The sessions that left, by new node, with a filter matching `topic`. */
  targets(topic: string): Map<string, string[]> | undefined {
    if (this.#departed.size === 0) return undefined;
    let out: Map<string, string[]> | undefined;
    for (const [clientId, d] of this.#departed) {
      if (!d.filters.some((f) => matchesFilter(f, topic))) continue;
      out ??= new Map();
      const list = out.get(d.to);
      if (list === undefined) out.set(d.to, [clientId]);
      else list.push(clientId);
    }
    return out;
  }

  close(): void {
    for (const d of this.#departed.values()) clearTimeout(d.timer);
    this.#departed.clear();
  }

  #cancel(clientId: string): void {
    const d = this.#departed.get(clientId);
    if (d === undefined) return;
    clearTimeout(d.timer);
    this.#departed.delete(clientId);
  }
}
