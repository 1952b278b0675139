/**
 * Splits the incoming byte stream into MQTT frames without decoding them: fixed header byte,
 * Remaining Length (1–4 bytes, [MQTT-1.5.5]), body. PUBLISH frames, the hot path, are read in place by
 * the connection; every other frame goes to the @x/packets decoder. A frame that lies within one
 * chunk is handed out as a view; only a frame split across chunks is copied.
 */

/** Called once per complete frame; `body` is valid only during the call. */
export type FrameHandler = (header: number, frame: Buffer, bodyStart: number) => void;

/** Thrown for a Remaining Length that is malformed or above the configured limit. */
export class FrameError extends Error {
  override name = 'FrameError';
}

export class FrameReader {
  // A partial frame waits here; chunks are joined only once the whole frame is present, so a
  // large PUBLISH arriving in many chunks is copied once, not once per chunk.
  #pending: Buffer[] = [];
  #pendingSize = 0;
  #need = 0;
  readonly #maxPacketSize: number;
  readonly #onFrame: FrameHandler;

  /** `maxPacketSize` bounds a whole frame (default 256 MiB, the protocol maximum). */
  constructor(onFrame: FrameHandler, maxPacketSize = 268_435_460) {
    this.#onFrame = onFrame;
    this.#maxPacketSize = maxPacketSize;
  }

  /** Feeds one chunk; calls the handler for each complete frame. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pendingSize > 0) {
      this.#pending.push(chunk);
      this.#pendingSize += chunk.length;
      if (this.#pendingSize < this.#need) return;
      buf = Buffer.concat(this.#pending, this.#pendingSize);
      this.#pending = [];
      this.#pendingSize = 0;
    }
    this.#need = 0;
    let offset = 0;
    const end = buf.length;
    while (offset < end) {
      if (end - offset < 2) break;
      let length = 0;
      let multiplier = 1;
      let pos = offset + 1;
      let complete = false;
      for (let i = 0; i < 4; i++) {
        if (pos >= end) break;
        const byte = buf[pos++] ?? 0;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (i === 3) throw new FrameError('malformed Remaining Length: more than 4 bytes [MQTT-1.5.5]');
      }
      if (!complete) break;
      const frameEnd = pos + length;
      if (frameEnd - offset > this.#maxPacketSize) {
        throw new FrameError(
          `packet of ${frameEnd - offset} bytes exceeds the limit of ${this.#maxPacketSize}`,
        );
      }
      if (frameEnd > end) {
        this.#need = frameEnd - offset;
        break;
      }
      this.#onFrame(buf[offset] ?? 0, buf.subarray(offset, frameEnd), pos - offset);
      offset = frameEnd;
    }
    if (offset < end) {
      this.#pending = [Buffer.from(buf.subarray(offset))];
      this.#pendingSize = end - offset;
    }
  }
}
