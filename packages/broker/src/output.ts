import { type AckByte, writeSuccessAck } from '@x/packets';

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

/**
 * First ack buffer of a tick, from Node's buffer pool: 64 acknowledgements. It grows fourfold (the
 * bytes so far copied along) up to 64 KiB; past that a fresh buffer follows the full one.
 */
const FIRST_GATHER = 256;
const MAX_GATHER = 64 * 1024;
const NO_BYTES = Buffer.alloc(0);

/**
 * One connection's output of one tick, sent by one socket write. Encoded packets are kept by
 * reference, in order (a fan-out's shared PUBLISH bytes are not copied per subscriber here); the
 * acknowledgements between them are written straight into a gather buffer, four bytes each, with no
 * buffer or packet object of their own. `take` joins them once, for the one write.
 */
export class TickOutput {
  /** Acknowledgements written; `#start..#length` are those not yet sealed into `#chunks`. */
  #buf: Buffer = NO_BYTES;
  #length = 0;
  #start = 0;
  /** Everything before the unsealed acknowledgements, in order. */
  #chunks: Uint8Array[] | undefined;

  /** Appends encoded bytes (kept by reference: the caller does not change them afterwards). */
  add(bytes: Uint8Array): void {
    this.#seal();
    this.#chunks!.push(bytes);
  }

  /** Appends a PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success (see `writeSuccessAck`). */
  addAck(firstByte: AckByte, packetId: number): void {
    const at = this.#room(4); // first: it may replace the buffer
    this.#length = writeSuccessAck(this.#buf, at, firstByte, packetId);
  }

  /** The tick's bytes, for one socket write. */
  take(): Uint8Array {
    const chunks = this.#chunks;
    if (chunks === undefined) return this.#buf.subarray(0, this.#length);
    this.#seal();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** The offset where `n` more bytes fit: in the current gather buffer, grown or followed by a new one. */
  #room(n: number): number {
    const length = this.#length;
    if (length + n <= this.#buf.length) return length;
    const old = this.#buf;
    const kept = length - this.#start;
    if (old.length >= MAX_GATHER) {
      this.#seal();
      this.#buf = Buffer.allocUnsafe(MAX_GATHER);
      this.#length = this.#start = 0;
      return 0;
    }
    let size = old.length === 0 ? FIRST_GATHER : old.length * 4;
    while (size < kept + n) size *= 4;
    this.#buf = Buffer.allocUnsafe(size);
    old.copy(this.#buf, 0, this.#start, length);
    this.#start = 0;
    this.#length = kept;
    return kept;
  }

  /** Moves the acknowledgements not yet in `#chunks` there, so something else can follow them. */
  #seal(): void {
    this.#chunks ??= [];
    if (this.#length > this.#start) this.#chunks.push(this.#buf.subarray(this.#start, this.#length));
    this.#start = this.#length;
  }
}
