import { asBuffer, decodeBody, packetTypeOf, readRemainingLength } from './decode.js';
import { MqttProtocolError } from './errors.js';
import type { Packet, ProtocolVersion } from './packet.js';
import { hex } from './reader.js';
import { MAX_VARIABLE_BYTE_INTEGER, NEED_MORE, vbiSize } from './vbi.js';

/** The largest packet MQTT can express: a 5-byte fixed header and the largest Remaining Length. */
export const MAX_PACKET_SIZE = 1 + 4 + MAX_VARIABLE_BYTE_INTEGER;

/** Bodies up to this size get their final buffer as soon as the header is read. */
const PREALLOCATE_LIMIT = 64 * 1024;

export interface DecoderOptions {
  /**
   * The protocol level to decode at (3, 4 or 5), as a client knows it from its own CONNECT.
   * Default: undefined, the server side: the first packet must be a CONNECT [MQTT-3.1.0-1], and its
   * level is used from then on.
   */
  protocolVersion?: ProtocolVersion | undefined;
  /**
   * The largest packet accepted, fixed header included, in bytes. A packet announcing more is
   * rejected with reason code 0x95 (Packet Too Large) before any of its body is buffered.
   * Default: {@link MAX_PACKET_SIZE} (268435460), the most MQTT can express.
   */
  maxPacketSize?: number | undefined;
}

/**
 * A streaming decoder for one connection. Give it the chunks as they arrive; it returns the packets
 * each chunk completes.
 *
 * Memory: it keeps at most one partial packet. A packet that lies whole inside one chunk is decoded in
 * place, so its payload is a view into that chunk (see the lifetime rule in `packet.ts`). Bytes kept
 * across calls are copied, so the caller may reuse a chunk's memory once `push` has returned and the
 * packets it returned are handled.
 *
 * Errors: `push` throws {@link MqttProtocolError} for malformed or forbidden input, and throws that same
 * error on every later call: after a protocol error the stream cannot be resynchronised and the
 * connection must close. The whole packets that the same chunk completed before the bad one are not
 * lost: they ride on the error as `error.packetsBefore`, so a server can still act on them (deliver a
 * PUBLISH that preceded the garbage) before it closes the connection.
 */
export class Decoder {
  #version: ProtocolVersion | undefined;
  readonly #maxPacketSize: number;
  #error: MqttProtocolError | undefined;
  /** The partial fixed header: first byte and up to 4 Remaining Length bytes. */
  /** A fixed header split across chunks (made on first need: most connections never split one). */
  #head: Buffer | undefined;
  #headLength = 0;
  /** The partial body, once the header is known: its first byte, header and body lengths. */
  #first = 0;
  #headerSize = 0;
  #bodyLength = -1;
  #filled = 0;
  #body: Buffer | undefined;
  #pieces: Buffer[] | undefined;

  constructor(options: DecoderOptions = {}) {
    const v = options.protocolVersion;
    if (v !== undefined && v !== 3 && v !== 4 && v !== 5) {
      throw new RangeError(`protocolVersion must be 3, 4 or 5, not ${String(v)}`);
    }
    const max = options.maxPacketSize ?? MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2)
      throw new RangeError(`maxPacketSize must be an integer ≥ 2, not ${max}`);
    this.#version = v;
    this.#maxPacketSize = max;
  }

  /** The level in force: the one given, or the level of the CONNECT once it has been decoded. */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.#version;
  }

  /** Bytes of a partial packet held between calls. */
  get bufferedBytes(): number {
    return this.#bodyLength >= 0 ? this.#headerSize + this.#filled : this.#headLength;
  }

  /** Decodes what `chunk` completes. Returns the whole packets, in order (possibly none). */
  push(chunk: Uint8Array): Packet[] {
    if (this.#error !== undefined) {
      // Packets handed out with the first throw must not be handed out twice.
      this.#error.packetsBefore = [];
      throw this.#error;
    }
    const buf = asBuffer(chunk);
    const out: Packet[] = [];
    try {
      const len = buf.length;
      let pos = 0;
      if (this.#headLength > 0) pos = this.#continueHeader(buf, out);
      if (this.#bodyLength >= 0) pos = this.#continueBody(buf, pos, out);
      while (pos < len) {
        const first = buf[pos]!;
        this.#checkFirstByte(first);
        const rl = readRemainingLength(buf, pos + 1, len, pos);
        if (rl === NEED_MORE) {
          this.#head ??= Buffer.alloc(5);
          buf.copy(this.#head, 0, pos, len);
          this.#headLength = len - pos;
          break;
        }
        const headerSize = 1 + vbiSize(rl);
        this.#checkSize(headerSize + rl);
        const end = pos + headerSize + rl;
        if (end <= len) {
          out.push(this.#decode(first, buf, pos + headerSize, end, pos));
          pos = end;
          continue;
        }
        this.#startBody(first, headerSize, rl);
        pos = this.#continueBody(buf, pos + headerSize, out);
      }
    } catch (error) {
      if (error instanceof MqttProtocolError) {
        error.packetsBefore = out;
        this.#error = error;
      }
      this.#body = undefined;
      this.#pieces = undefined;
      throw error;
    }
    return out;
  }

  #checkFirstByte(first: number): void {
    if (this.#version === undefined) {
      // [MQTT-3.1.0-1]
      if (first >>> 4 !== 1) {
        throw new MqttProtocolError(
          'EXPECTED_CONNECT',
          `the first packet must be CONNECT, not type ${first >>> 4} (first byte ${hex(first)})`,
          {
            offset: 0,
          },
        );
      }
    } else {
      packetTypeOf(first, this.#version);
    }
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

  /** Feeds bytes into a partial fixed header; returns where the chunk continues. */
  #continueHeader(buf: Buffer, out: Packet[]): number {
    const head = this.#head as Buffer;
    let pos = 0;
    while (pos < buf.length) {
      head[this.#headLength++] = buf[pos++]!;
      const rl = readRemainingLength(head, 1, this.#headLength, 0);
      if (rl === NEED_MORE) continue;
      const headerSize = this.#headLength;
      this.#headLength = 0;
      this.#checkSize(headerSize + rl);
      this.#startBody(head[0]!, headerSize, rl);
      if (rl === 0) this.#finishBody(out);
      return pos;
    }
    return pos;
  }

  #startBody(first: number, headerSize: number, bodyLength: number): void {
    this.#first = first;
    this.#headerSize = headerSize;
    this.#bodyLength = bodyLength;
    this.#filled = 0;
    // Small bodies get their buffer at once; large ones collect copies of what actually arrives, so
    // an announced size alone cannot make the decoder allocate.
    if (bodyLength <= PREALLOCATE_LIMIT) this.#body = Buffer.allocUnsafe(bodyLength);
    else this.#pieces = [];
  }

  /** Copies bytes of the partial body from `buf` at `pos`; returns where the chunk continues. */
  #continueBody(buf: Buffer, pos: number, out: Packet[]): number {
    const take = Math.min(this.#bodyLength - this.#filled, buf.length - pos);
    if (take > 0) {
      if (this.#body !== undefined) buf.copy(this.#body, this.#filled, pos, pos + take);
      else this.#pieces!.push(Buffer.from(buf.subarray(pos, pos + take)));
      this.#filled += take;
    }
    if (this.#filled === this.#bodyLength) this.#finishBody(out);
    return pos + take;
  }

  #finishBody(out: Packet[]): void {
    const body = this.#body ?? Buffer.concat(this.#pieces!, this.#bodyLength);
    this.#body = undefined;
    this.#pieces = undefined;
    const first = this.#first;
    const headerSize = this.#headerSize;
    this.#bodyLength = -1;
    this.#filled = 0;
    // The header is not in `body`: its first byte sits `headerSize` bytes before index 0.
    out.push(this.#decode(first, body, 0, body.length, -headerSize));
  }

  #decode(first: number, buf: Buffer, start: number, end: number, base: number): Packet {
    const packet = decodeBody(first, buf, start, end, base, this.#version ?? 5);
    if (packet.type === 'connect') this.#version = packet.protocolVersion;
    return packet;
  }
}
