/** A connection whose writes of this tick wait for one socket write. */
export interface Flushable {
  flush(): void;
  resume(): void;
  readonly state: string;
}

/**
 * Output batching and fan-out backpressure, shared by every connection. Everything written to a
 * client in one turn of the event loop goes to its socket as one buffer once the turn's reads are
 * handled (`setImmediate`, not `nextTick`: a subscriber fed by ten publishers whose packets came in
 * the same poll gets one socket write, not ten; the write syscall is the largest cost of a QoS 1
 * message in a CPU profile). When one turn's output
 * passes `maxBytesPerTick`, publishers stop being read until the event loop has turned and the
 * writes are out, instead of the broker queueing the fan-out in memory.
 */
export class WriteScheduler {
  readonly #maxBytesPerTick: number;
  #toFlush: Flushable[] = [];
  #flushScheduled = false;
  #toResume: Flushable[] = [];
  /** Bytes written to clients since the last flush. */
  tickBytes = 0;

  constructor(maxBytesPerTick: number) {
    this.#maxBytesPerTick = maxBytesPerTick;
  }

  /** Batches a client's writes of this tick into one socket write. */
  scheduleFlush(client: Flushable): void {
    this.#toFlush.push(client);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes every batch now. */
  readonly flush = (): void => {
    this.#flushScheduled = false;
    this.tickBytes = 0;
    const clients = this.#toFlush;
    this.#toFlush = [];
    for (const client of clients) client.flush();
  };

  /** True when this tick's output exceeds `maxBytesPerTick`: publishers are paused. */
  get overloaded(): boolean {
    return this.tickBytes > this.#maxBytesPerTick;
  }

  /** Resumes a paused publisher once the event loop has turned (writes handed over). */
  resumeLater(client: Flushable): void {
    if (this.#toResume.push(client) === 1) {
      setImmediate(() => {
        const clients = this.#toResume;
        this.#toResume = [];
        for (const c of clients) if (c.state !== 'closed') c.resume();
      });
    }
  }
}
