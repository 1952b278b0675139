/**
 * For a store that folds the changes of many commits into one batch while it writes the previous
 * one (the embedded and Redis stores): when the next batch may go.
 *
 * Normally at once: the moment the last write ends (or at the first commit when nothing is being
 * written). Under one kind of load that is the slow choice. When most of what the broker records is
 * undone a millisecond later (an online subscriber's messages: queued, sent, acknowledged), a batch
 * handed over every millisecond catches many rows between their save and their delete, and the
 * store writes each twice, while the event loop encodes and sends them. Waiting a few milliseconds
 * between hand-overs lets those pairs fold away in the batch instead.
 *
 * So the pacer waits only while the last batch handed over was large and mostly cancelled out: a
 * lone publisher's commits (a few changes each) and messages queued for offline sessions (nothing
 * cancels) still go at once, and their acknowledgements wait for no timer. The acknowledgements it
 * delays are sent no earlier than before: only after the commit that makes them true, or when the
 * message needs nothing kept (the broker's early PUBACK), which the wait does not touch.
 */
export class CommitPacer {
  readonly #windowMs: number;
  readonly #retry: () => void;
  readonly #now: () => number;
  /** When the last batch was handed over (ms on `now`'s clock); -Infinity before the first. */
  #lastAt = Number.NEGATIVE_INFINITY;
  /** Whether the last batch called for waiting (see the class comment). */
  #folding = false;
  /** A commit waiting for the next batch is urgent: the batch is not held. */
  #urgent = false;
  /** Set while the next batch is held; it calls `retry` when the wait is over. */
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param windowMs the least time between two hand-overs while changes fold away (0: never wait)
   * @param retry called when a batch that {@link mayGo} held may go
   * @param now a monotonic clock in milliseconds
   */
  constructor(windowMs: number, retry: () => void, now: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#retry = retry;
    this.#now = now;
  }

  /** A commit that something waits for which nothing else releases (see `Store.commit`). */
  urgent(): void {
    this.#urgent = true;
  }

  /**
   * Whether the next batch may be handed over now. When not, `retry` is called once it may (a
   * second call meanwhile changes nothing).
   */
  mayGo(): boolean {
    if (this.#urgent) return true;
    if (this.#timer !== undefined) return false;
    const wait = this.delay();
    if (wait === 0) return true;
    this.#timer = setTimeout(this.#fire, Math.ceil(wait));
    return false;
  }

  /**
   * A batch was handed over (or cancelled out entirely): `changes` recorded into it, `rows` (values
   * to write) left after the folding.
   */
  handedOver(changes: number, rows: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#urgent = false;
    this.#lastAt = this.#now();
    this.#folding = changes >= MIN_CHANGES && rows * 2 <= changes;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#retry();
  };

  /** Milliseconds to wait before handing the next batch over: 0 means now. */
  delay(): number {
    if (!this.#folding) return 0;
    return Math.max(0, this.#lastAt + this.#windowMs - this.#now());
  }
}

/**
 * Fewer changes than this in a batch is a light load: waiting would gather little and delay the
 * acknowledgements of the few clients there are.
 */
const MIN_CHANGES = 64;
