import { encode, isFailureReasonCode, type QoS, readVbi, vbiSize } from '@x/packets';
import type { BenchConnection } from './connection.js';
import { PayloadOffset } from './payload.js';

const STRIP_BYTES = 64 * 1024;

/** What one publisher sends. */
export interface PublisherOptions {
  topic: string;
  qos: QoS;
  retain?: boolean;
  /** Total payload bytes, at least the 28-byte bench header. */
  payload: Buffer;
  /** Unique id of this publisher in the run. */
  publisherId: number;
}

/**
 * A PUBLISH encoded once by @x/packets, then copied and patched in place for every message: packet
 * id, sequence number and send times. Several messages go out in one write.
 */
export class BenchPublisher {
  readonly #connection: BenchConnection;
  readonly #template: Buffer;
  /** The template repeated up to STRIP_BYTES: a batch starts as one copy of (part of) it. */
  readonly #strip: Buffer;
  readonly #payloadOffset: number;
  readonly #packetIdOffset: number;
  readonly qos: QoS;
  readonly publisherId: number;
  /** Messages written so far; also the next sequence number. */
  sent = 0;
  /** QoS 1/2 flows completed successfully. */
  acknowledged = 0;
  /** QoS 1/2 flows the broker refused with a failure reason code (v5). */
  rejected = 0;
  inflight = 0;
  /** Called when an acknowledgement frees room in the in-flight window. */
  onCredit: (() => void) | null = null;
  /** Called when the connection closes. */
  onClosed: (() => void) | null = null;

  constructor(connection: BenchConnection, options: PublisherOptions) {
    connection.attachPublisher(this);
    this.#connection = connection;
    this.qos = options.qos;
    this.publisherId = options.publisherId;
    const frame = encode(
      {
        type: 'publish',
        topic: options.topic,
        payload: options.payload,
        qos: options.qos,
        retain: options.retain ?? false,
        dup: false,
        ...(options.qos > 0 ? { packetId: 1 } : {}),
      },
      connection.protocolVersion,
    );
    const header = 1 + vbiSize(readVbi(frame, 1, frame.length));
    const topicLength = frame.readUInt16BE(header);
    this.#packetIdOffset = header + 2 + topicLength;
    this.#payloadOffset = frame.length - options.payload.length;
    frame.writeUInt32BE(options.publisherId, this.#payloadOffset + PayloadOffset.publisherId);
    this.#template = frame;
    const perStrip = Math.max(1, Math.floor(STRIP_BYTES / frame.length));
    this.#strip = Buffer.allocUnsafe(perStrip * frame.length);
    for (let i = 0; i < perStrip; i++) frame.copy(this.#strip, i * frame.length);
  }

  /** Bytes per message on the wire. */
  get frameLength(): number {
    return this.#template.length;
  }

  /** How many more messages the in-flight window allows now (QoS 0: unbounded). */
  get credits(): number {
    return this.qos === 0 ? Number.POSITIVE_INFINITY : this.#connection.maxInflight - this.inflight;
  }

  /**
   * Writes `count` messages in one write, with sequence numbers from `sent` on. Message i carries the
   * intended time `intendedNs + i × intervalNs` and the actual time of this call. Returns false when
   * the transport asks to wait for `drain`.
   */
  write(count: number, intendedNs: number, intervalNs: number, actualNs: number): boolean {
    const frameLength = this.#template.length;
    const out = Buffer.allocUnsafe(frameLength * count);
    // One copy per strip of ready frames (publisher id already in place), not one per message.
    const strip = this.#strip;
    const stripLength = strip.length;
    for (let at = 0; at < out.length; at += stripLength)
      strip.copy(out, at, 0, Math.min(stripLength, out.length - at));
    const payload = this.#payloadOffset;
    const sequenceAt = payload + PayloadOffset.sequence;
    const intendedAt = payload + PayloadOffset.intendedNs;
    const actualAt = payload + PayloadOffset.actualNs;
    const withId = this.qos > 0;
    const first = this.sent;
    for (let i = 0, base = 0; i < count; i++, base += frameLength) {
      if (withId) out.writeUInt16BE(this.#connection.allocateId(), base + this.#packetIdOffset);
      out.writeUInt32BE(first + i, base + sequenceAt);
      out.writeDoubleBE(intendedNs + i * intervalNs, base + intendedAt);
      out.writeDoubleBE(actualNs, base + actualAt);
    }
    this.sent += count;
    if (withId) this.inflight += count;
    return this.#connection.write(out);
  }

  /** Writes one message and calls `done` once it has been handed to the OS (mqtt-stresser's QoS 0 token). */
  writeOne(intendedNs: number, actualNs: number, done: (error?: Error | null) => void): void {
    const out = Buffer.from(this.#template);
    if (this.qos > 0) out.writeUInt16BE(this.#connection.allocateId(), this.#packetIdOffset);
    const payload = this.#payloadOffset;
    out.writeUInt32BE(this.publisherId, payload + PayloadOffset.publisherId);
    out.writeUInt32BE(this.sent, payload + PayloadOffset.sequence);
    out.writeDoubleBE(intendedNs, payload + PayloadOffset.intendedNs);
    out.writeDoubleBE(actualNs, payload + PayloadOffset.actualNs);
    this.sent++;
    if (this.qos > 0) this.inflight++;
    this.#connection.writeWithCallback(out, done);
  }

  /** @internal Called by the connection when a QoS 1/2 flow ends. */
  settle(reasonCode: number): void {
    this.inflight--;
    if (isFailureReasonCode(reasonCode)) this.rejected++;
    else this.acknowledged++;
    this.onCredit?.();
  }
}
