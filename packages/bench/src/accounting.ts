/**
 * Exact message accounting on the subscriber side. Every (subscriber, publisher) stream has a growing
 * bitset of the sequence numbers seen, so a message received twice is a duplicate and a message whose
 * sequence number is below the highest already seen is out of order. Losses are computed at the end,
 * from what the publishers say they sent and how many subscribers each publisher's topic reaches.
 */

/** One subscriber's view of one publisher's sequence. */
export class StreamTracker {
  #bits = new Uint8Array(64);
  #highest = -1;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;

  /** Records the arrival of `sequence`; returns false when it was a duplicate. */
  /** The highest sequence number seen, or -1 before the first arrival. */
  get highest(): number {
    return this.#highest;
  }

  record(sequence: number): boolean {
    const byte = sequence >>> 3;
    if (byte >= this.#bits.length) {
      let size = this.#bits.length * 2;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bits);
      this.#bits = grown;
    }
    const mask = 1 << (sequence & 7);
    const current = this.#bits[byte] ?? 0;
    if ((current & mask) !== 0) {
      this.duplicates++;
      return false;
    }
    this.#bits[byte] = current | mask;
    this.unique++;
    if (sequence < this.#highest) this.outOfOrder++;
    else this.#highest = sequence;
    return true;
  }
}

/** Per-publisher totals summed over the subscribers of one worker (or of the whole run). */
export interface PublisherTally {
  unique: number;
  duplicates: number;
  outOfOrder: number;
  /** Σ over subscribers of (highest sequence seen + 1): how far each subscriber's stream got. */
  reached: number;
}

/** Tallies keyed by publisher id, summed over subscribers: what workers send back to be merged. */
export type TallyMap = Record<number, PublisherTally>;

/** The streams of one subscriber connection. */
export class SubscriberLedger {
  readonly streams = new Map<number, StreamTracker>();
  received = 0;
  /** Messages without a bench header of this run (another tool or an earlier run on the topic). */
  unexpected = 0;

  record(publisherId: number, sequence: number): boolean {
    this.received++;
    let stream = this.streams.get(publisherId);
    if (!stream) {
      stream = new StreamTracker();
      this.streams.set(publisherId, stream);
    }
    return stream.record(sequence);
  }

  /** Adds this ledger's per-publisher counts into `into`. */
  tally(into: TallyMap): TallyMap {
    for (const [publisherId, s] of this.streams) {
      const t = into[publisherId] ?? { unique: 0, duplicates: 0, outOfOrder: 0, reached: 0 };
      into[publisherId] = t;
      t.unique += s.unique;
      t.duplicates += s.duplicates;
      t.outOfOrder += s.outOfOrder;
      t.reached += s.highest + 1;
    }
    return into;
  }
}

/** Sums tally maps from several workers. */
export function mergeTallies(maps: TallyMap[]): TallyMap {
  const out: TallyMap = {};
  for (const map of maps) {
    for (const [key, t] of Object.entries(map)) {
      const id = Number(key);
      const o = out[id] ?? { unique: 0, duplicates: 0, outOfOrder: 0, reached: 0 };
      out[id] = o;
      o.unique += t.unique;
      o.duplicates += t.duplicates;
      o.outOfOrder += t.outOfOrder;
      o.reached += t.reached;
    }
  }
  return out;
}

/** The accounting figures every scenario reports. */
export interface Accounting {
  /** Messages the publishers wrote (QoS 0) or handed to the broker (QoS 1/2). */
  sent: number;
  /** Deliveries the subscribers should have seen: each message times the subscribers it matches. */
  expected: number;
  /** Deliveries seen, duplicates included. */
  received: number;
  /** Expected deliveries that never arrived. */
  lost: number;
  /** Deliveries of a message the same subscriber had already seen. */
  duplicated: number;
  /** First deliveries whose sequence number is below one already seen from the same publisher. */
  outOfOrder: number;
  /** Deliveries without this run's bench header. */
  unexpected: number;
  /**
   * Expected deliveries still on their way when the run was cut short (global timeout or interrupt):
   * those after the last sequence number each subscriber saw from the publisher. A broker keeps a
   * publisher's order, so those may yet have arrived; gaps before that point count as lost. Always 0
   * for a run that ended by itself, where everything missing after the drain is lost.
   */
  unfinished: number;
}

/**
 * Works out the accounting from what was sent (`sent[publisherId]`), how many subscribers each
 * publisher reaches (`fanout[publisherId]`) and the merged subscriber tallies. With `cutShort`
 * (the run was stopped before it could drain) missing deliveries past each stream's last arrival
 * are `unfinished`, not `lost`.
 */
export function account(
  sent: Record<number, number>,
  fanout: Record<number, number>,
  tallies: TallyMap,
  unexpected: number,
  cutShort = false,
): Accounting {
  let totalSent = 0;
  let expected = 0;
  let unique = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let lost = 0;
  let unfinished = 0;
  const ids = new Set([...Object.keys(sent), ...Object.keys(tallies)].map(Number));
  for (const id of ids) {
    const s = sent[id] ?? 0;
    const e = s * (fanout[id] ?? 0);
    const t = tallies[id];
    totalSent += s;
    expected += e;
    if (t) {
      unique += t.unique;
      duplicated += t.duplicates;
      outOfOrder += t.outOfOrder;
    }
    const tail = cutShort ? Math.max(0, e - (t?.reached ?? 0)) : 0;
    unfinished += tail;
    lost += Math.max(0, e - (t?.unique ?? 0) - tail);
  }
  return {
    sent: totalSent,
    expected,
    received: unique + duplicated,
    lost,
    duplicated,
    outOfOrder,
    unexpected,
    unfinished,
  };
}
