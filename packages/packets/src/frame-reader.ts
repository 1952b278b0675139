import { readRemainingLength } from './decode.js';
import { MAX_PACKET_SIZE } from './decoder.js';
import { MqttProtocolError } from './errors.js';
import { NEED_MORE, vbiSize } from './vbi.js';

/**
 * Called once per whole frame. `first` is the fixed header's first byte (packet type `first >> 4`,
 * flags `first & 0x0f`); the frame is `buf[start, end)` and its body `buf[bodyStart, end)`. Offsets
 * instead of a view, so the hot path allocates nothing per frame: take
 * `buf.subarray(start, end)` for {@link decode}. `buf` is the chunk that was pushed, or a buffer
 * joining a frame split across chunks; it is valid only during the call, so copy what must outlive it.
 */
export type FrameHandler = (
  first: number,
  buf: Buffer,
  start: number,
  bodyStart: number,
  end: number,
) => void;

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /**
   * The largest frame accepted, fixed header included, in bytes; a frame announcing more is
   * rejected before any of its body is buffered. Default: {@link MAX_PACKET_SIZE} (268435460).
   */
  maxPacketSize?: number | undefined;
}

/**
 * Splits a byte stream into MQTT frames without decoding them: first byte, Remaining Length
 * (section 2.1.4), body. For code that reads a few fields in place on its hot path (a load
 * generator's PUBLISH and acknowledgements) and hands the rest to {@link decode}; use
 * {@link Decoder} to get packets.
 *
 * A frame that lies within one chunk is read where it lies. A frame split across chunks
 * waits as a list of pieces and is joined once, when its last byte arrives, so a large PUBLISH in
 * many chunks is copied once; the rest of that last chunk is read in place again. Memory: at most one
 * partial frame, bounded by `maxPacketSize`.
 *
 * Errors: `push` throws {@link MqttProtocolError} for a malformed Remaining Length
 * (`MALFORMED_VARIABLE_BYTE_INTEGER`, `NON_MINIMAL_VARIABLE_BYTE_INTEGER`) or a frame above
 * `maxPacketSize` (`PACKET_TOO_LARGE`). The stream cannot be resynchronised after that, nor after an
 * error thrown by the handler (it leaves `push` at once, and the rest of the chunk is not read), so
 * close the connection.
 */
export class FrameReader {
  readonly #onFrame: FrameHandler;
  readonly #maxPacketSize: number;
  /** Pieces of a partial frame (or of a partial fixed header while `#need` is 0). */
  #pending: Buffer[] = [];
  #pendingSize = 0;
  /** The whole size of the partial frame, 0 while its fixed header is incomplete. */
  #need = 0;
  #bodyStart = 0;

  constructor(onFrame: FrameHandler, options: FrameReaderOptions = {}) {
    const max = options.maxPacketSize ?? MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2)
      throw new RangeError(`maxPacketSize must be an integer ≥ 2, not ${max}`);
    this.#onFrame = onFrame;
    this.#maxPacketSize = max;
  }

  /** Bytes of a partial frame held between calls. */
  get bufferedBytes(): number {
    return this.#pendingSize;
  }

  /** Feeds one chunk; calls the handler for each frame it completes, in order. */
  push(chunk: Buffer): void {
    let offset = 0;
    if (this.#pendingSize > 0) {
      offset = this.#continue(chunk);
      if (offset < 0) return;
    }
    const end = chunk.length;
    while (end - offset >= 2) {
      const rl = readRemainingLength(chunk, offset + 1, end, offset);
      if (rl === NEED_MORE) break;
      const bodyStart = 1 + vbiSize(rl);
      const size = bodyStart + rl;
      this.#checkSize(size);
      if (offset + size > end) {
        this.#need = size;
        this.#bodyStart = bodyStart;
        break;
      }
      this.#onFrame(chunk[offset]!, chunk, offset, offset + bodyStart, offset + size);
      offset += size;
    }
    if (offset < end) {
      // A copy, so a small tail does not keep the whole chunk alive.
      const tail = Buffer.from(chunk.subarray(offset));
      this.#pending = [tail];
      this.#pendingSize = tail.length;
    }
  }

  /**
   * Feeds the start of `chunk` into the partial frame. Returns where the chunk goes on, or -1 when
   * the whole chunk went into the still partial frame.
   */
  #continue(chunk: Buffer): number {
    let offset = 0;
    if (this.#need === 0) {
      // The fixed header itself was split: it is at most 5 bytes, so join that much and read it.
      const head = Buffer.concat([...this.#pending, chunk.subarray(0, 5)]);
      const rl = head.length < 2 ? NEED_MORE : readRemainingLength(head, 1, head.length, 0);
      if (rl === NEED_MORE) {
        // Fewer than 5 bytes in all, so `head` holds the whole chunk.
        this.#pending = [head];
        this.#pendingSize = head.length;
        return -1;
      }
      const bodyStart = 1 + vbiSize(rl);
      this.#checkSize(bodyStart + rl);
      offset = bodyStart - this.#pendingSize;
      this.#pending = [head.subarray(0, bodyStart)];
      this.#pendingSize = bodyStart;
      this.#need = bodyStart + rl;
      this.#bodyStart = bodyStart;
    }
    const missing = this.#need - this.#pendingSize;
    if (chunk.length - offset < missing) {
      this.#pending.push(offset === 0 ? chunk : chunk.subarray(offset));
      this.#pendingSize += chunk.length - offset;
      return -1;
    }
    this.#pending.push(chunk.subarray(offset, offset + missing));
    const frame = Buffer.concat(this.#pending, this.#need);
    const bodyStart = this.#bodyStart;
    this.#pending = [];
    this.#pendingSize = 0;
    this.#need = 0;
    this.#onFrame(frame[0]!, frame, 0, bodyStart, frame.length);
    return offset + missing;
  }

  #checkSize(size: number): void {
    if (size > this.#maxPacketSize) {
      throw new MqttProtocolError(
        'PACKET_TOO_LARGE',
        `a packet of ${size} bytes is announced, more than the maximum packet size ${this.#maxPacketSize}`,
        { offset: 1 },
      );
    }
  }
}
