import type { Packet, ProtocolVersion } from '@x/packets';
import {
  AckByte,
  Decoder,
  encodedLength,
  encodeInto,
  MqttProtocolError,
  ReasonCode,
  writeSuccessAck,
} from '@x/packets';
import { ClientErrorCode, MqttClientError } from './errors.js';
import { Keepalive } from './keepalive.js';
import type { Transport } from './transports/transport.js';

// The first bytes of the acknowledgements sendAck writes and the read fast path recognises live
// in @x/packets, beside the encoder.
export { AckByte };

/** Encoded packets collect in a slab of this size and go out in one write per turn of the event loop. */
const SLAB_SIZE = 64 * 1024;
/** Unwritten bytes above which the connection reports itself congested. */
const HIGH_WATER = 256 * 1024;

/** What a connection reports to its owner. */
export interface ConnectionEvents {
  packet(packet: Packet): void;
  /** The server broke the protocol; the owner decides how to close. */
  protocolError(error: MqttClientError): void;
  /** Writes may go on (after `congested` was true). */
  drain(): void;
  /**
   * A PUBACK (0x40), PUBREC (0x50), PUBREL (0x62) or PUBCOMP (0x70) with reason Success and no
   * properties, read without the decoder.
   */
  ack(firstByte: number, packetId: number): void;
  /** Packets sent that the server has yet to answer (operations in flight): sets how long writes may gather. */
  awaiting(): number;
}

/** Schedules the write of the collected packets after the current macrotask's synchronous work. */
const schedule: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (fn) => globalThis.setImmediate(fn) : queueMicrotask;

/**
 * Longest a write may gather packets while many operations are in flight (ms). Their answers keep
 * arriving meanwhile, so the pipe does not run dry, and one write then carries a hundred packets
 * instead of a handful: system calls and wake-ups, not encoding, are most of a message's cost.
 */
const GATHER_MS = 1;
/** Unwritten bytes that go out at once, however many operations are in flight. */
const GATHER_BYTES = 16 * 1024;
/** Default of `gatherWritesFrom`: operations in flight from which writes gather. */
export const GATHER_FROM = 128;
/**
 * PUBLISH packets in one read from which reading pauses for GATHER_MS: messages are streaming in,
 * and the next read takes a batch instead of a handful (a wake-up and a read per few messages
 * cost more than the messages). A request answered one at a time is never held.
 */
const GATHER_READS_FROM = 8;

/** How a connection reads and writes. */
export interface ConnectionSettings {
  protocolVersion: ProtocolVersion;
  /** The client's Maximum Packet Size, enforced by the decoder. */
  maxIncomingPacketSize: number | undefined;
  /** Operations in flight from which writes gather (see `#schedule`); Infinity: never. */
  gatherWritesFrom: number;
  /** Pause reading briefly while messages stream in (see GATHER_READS_FROM). */
  gatherReads: boolean;
}

/** Allocates slabs: Buffer in Node (the codec writes strings with Buffer's native UTF-8 writer). */
const allocate: (size: number) => Uint8Array =
  typeof globalThis.Buffer === 'function'
    ? (size) => globalThis.Buffer.allocUnsafe(size)
    : (size) => new Uint8Array(size);

/**
 * One network connection: encodes packets into a shared slab and writes them in batches, decodes
 * what arrives, and watches liveness. The client owns the session; this only moves packets.
 *
 *   send() ─► encodeInto(slab) ─► [flushStart … end) ─► one transport.write() per turn (or per gather)
 *
 * Written ranges of the slab are never reused (the transport may still hold them); a fresh slab is
 * taken when the current one is full.
 */
export class Connection {
  readonly protocolVersion: ProtocolVersion;
  readonly #transport: Transport;
  readonly #decoder: Decoder;
  /** The transport reuses its read buffer: keep nothing of a chunk without copying it. */
  readonly #borrowed: boolean;
  #events: ConnectionEvents;
  #slab: Uint8Array = allocate(SLAB_SIZE);
  #flushStart = 0;
  #end = 0;
  /** A write is scheduled for the end of this turn of the event loop. */
  #scheduled = false;
  readonly #gatherFrom: number;
  readonly #gatherReads: boolean;
  /** The gathering timer is armed. */
  #gathering = false;
  #gatherTimer: ReturnType<typeof setTimeout> | undefined;
  /** Packets encoded since the last write. */
  #unwritten = 0;
  #blocked = false;
  #closed = false;
  #keepalive: Keepalive | undefined;
  /** The server's Maximum Packet Size (v5 CONNACK); Infinity until known. */
  maxOutgoingPacketSize = Number.POSITIVE_INFINITY;
  readonly #flushBound = () => this.flush();

  constructor(transport: Transport, settings: ConnectionSettings, events: ConnectionEvents) {
    this.#transport = transport;
    this.#borrowed = transport.borrowsChunks === true;
    this.protocolVersion = settings.protocolVersion;
    this.#gatherFrom = settings.gatherWritesFrom;
    this.#gatherReads = settings.gatherReads;
    this.#events = events;
    this.#decoder = new Decoder({
      protocolVersion: settings.protocolVersion,
      maxPacketSize: settings.maxIncomingPacketSize,
    });
  }

  /** Redirects what the connection reports (the handshake hands the connection to the client). */
  setEvents(events: ConnectionEvents): void {
    this.#events = events;
  }

  /** True when the caller should wait for the `drain` event before sending much more. */
  get congested(): boolean {
    return this.#blocked || this.#end - this.#flushStart > HIGH_WATER;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts keep-alive: PINGREQ after `intervalMs` of silence, dead after `timeoutMs` without answer. */
  startKeepalive(intervalMs: number, timeoutMs: number, dead: () => void): void {
    this.#keepalive?.stop();
    if (intervalMs <= 0) return;
    this.#keepalive = new Keepalive(intervalMs, timeoutMs, {
      ping: () => {
        this.send({ type: 'pingreq' });
        this.flush();
      },
      dead,
    });
    this.#keepalive.start();
  }

  /**
   * Encodes a packet for the next batched write.
   * @throws {MqttClientError} PACKET_TOO_LARGE beyond the server's Maximum Packet Size [MQTT-3.1.2-24],
   * or INVALID_ARGUMENT when the codec refuses the packet.
   */
  send(packet: Packet): void {
    if (this.#closed) return;
    let size: number;
    try {
      // One pass: encodeInto measures, and throws a RangeError before writing when the packet does
      // not fit in the rest of the slab.
      size = encodeInto(packet, this.protocolVersion, this.#slab, this.#end);
    } catch (error) {
      if (!(error instanceof RangeError)) throw toClientError(error);
      let needed: number;
      try {
        needed = encodedLength(packet, this.protocolVersion);
      } catch (cause) {
        throw toClientError(cause);
      }
      this.#checkSize(packet, needed);
      this.#newSlab(needed);
      try {
        size = encodeInto(packet, this.protocolVersion, this.#slab, this.#end);
      } catch (cause) {
        throw toClientError(cause);
      }
    }
    // Written past #end but not committed: a refused packet simply leaves no trace.
    this.#checkSize(packet, size);
    this.#end += size;
    this.#schedule();
  }

  /**
   * PUBACK (0x40), PUBREC (0x50), PUBREL (0x62) or PUBCOMP (0x70) with reason Success and no
   * properties: four fixed bytes, written without the codec. Remaining Length 2 means Success at
   * every level [MQTT-3.4.2-1].
   */
  sendAck(firstByte: AckByte, packetId: number): void {
    if (this.#closed) return;
    if (this.#slab.length - this.#end < 4) this.#newSlab(4);
    this.#end = writeSuccessAck(this.#slab, this.#end, firstByte, packetId);
    this.#schedule();
  }

  /**
   * Picks when the collected packets go out. Normally at the end of this turn of the event loop.
   * While at least `gatherWritesFrom` operations are in flight they gather instead, for at most
   * GATHER_MS, until half of those operations or GATHER_BYTES wait: the server still has plenty to
   * answer meanwhile, so throughput holds and the system calls per message drop several-fold (the
   * idea of TCP autocorking, on whole packets). A publish awaited one at a time, or a few in
   * flight, is never delayed.
   */
  #schedule(): void {
    if (this.#scheduled) return;
    const unwritten = ++this.#unwritten;
    const awaiting = this.#events.awaiting();
    if (
      awaiting < this.#gatherFrom ||
      unwritten * 2 >= awaiting ||
      this.#end - this.#flushStart >= GATHER_BYTES
    ) {
      this.#scheduled = true;
      schedule(this.#flushBound);
    } else if (!this.#gathering) {
      this.#gathering = true;
      const timer = this.#gatherTimer as { refresh?: () => unknown } | undefined;
      if (timer?.refresh) {
        // Node: one timer per connection, re-armed (also after it fired).
        timer.refresh();
      } else {
        this.#gatherTimer = setTimeout(this.#flushBound, GATHER_MS);
        (this.#gatherTimer as { unref?: () => void }).unref?.();
      }
    }
  }

  #checkSize(packet: Packet, size: number): void {
    if (size > this.maxOutgoingPacketSize) {
      // [MQTT-3.1.2-24] a packet above the server's maximum is never sent
      throw new MqttClientError(
        ClientErrorCode.PACKET_TOO_LARGE,
        `${packet.type.toUpperCase()} of ${size} bytes exceeds the server's Maximum Packet Size of ${this.maxOutgoingPacketSize}`,
        { reasonCode: ReasonCode.PacketTooLarge, clause: 'MQTT-3.1.2-24' },
      );
    }
  }

  #newSlab(atLeast: number): void {
    this.flush();
    this.#slab = allocate(Math.max(SLAB_SIZE, atLeast));
    this.#flushStart = this.#end = 0;
  }

  /** Writes what has been collected now. */
  flush(): void {
    this.#scheduled = false;
    this.#gathering = false;
    this.#unwritten = 0;
    if (this.#closed || this.#end === this.#flushStart) return;
    const chunk = this.#slab.subarray(this.#flushStart, this.#end);
    this.#flushStart = this.#end;
    if (!this.#transport.write(chunk)) this.#blocked = true;
    this.#keepalive?.sent();
  }

  /** Bytes from the transport. */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#keepalive?.received();
    let pos = 0;
    if (this.#decoder.bufferedBytes === 0) {
      // Fast path for the packets that dominate QoS 1/2 traffic: 4-byte acknowledgements at the
      // start of the chunk. Anything else, and anything unusual (packet id 0, other flags),
      // goes to the decoder, which validates it.
      const len = chunk.length;
      while (pos + 4 <= len) {
        const first = chunk[pos] as number;
        if (
          (first !== AckByte.puback &&
            first !== AckByte.pubrec &&
            first !== AckByte.pubrel &&
            first !== AckByte.pubcomp) ||
          chunk[pos + 1] !== 2
        )
          break;
        const packetId = ((chunk[pos + 2] as number) << 8) | (chunk[pos + 3] as number);
        if (packetId === 0) break;
        pos += 4;
        this.#events.ack(first, packetId);
        if (this.#closed) return;
      }
      if (pos === len) return;
    }
    let rest = pos === 0 ? chunk : chunk.subarray(pos);
    if (this.#borrowed) {
      // The decoder keeps partial packets and payloads refer to its input: give it bytes of its own.
      const own = allocate(rest.length);
      own.set(rest);
      rest = own;
    }
    let packets: Packet[];
    try {
      packets = this.#decoder.push(rest);
    } catch (cause) {
      this.#events.protocolError(toClientError(cause, ClientErrorCode.PROTOCOL_ERROR));
      return;
    }
    let publishes = 0;
    for (let i = 0; i < packets.length && !this.#closed; i++) {
      const packet = packets[i] as Packet;
      if (packet.type === 'publish') publishes++;
      this.#events.packet(packet);
    }
    if (publishes >= GATHER_READS_FROM && this.#gatherReads && !this.#closed) {
      this.#transport.holdReads?.(GATHER_MS);
    }
  }

  /** The transport can take more bytes. */
  drained(): void {
    this.#blocked = false;
    if (!this.congested) this.#events.drain();
  }

  /** Writes what is pending, optionally a last packet, then closes the transport gracefully. */
  end(last?: Packet): void {
    if (this.#closed) return;
    if (last) {
      try {
        this.send(last);
      } catch {
        // A DISCONNECT that cannot be encoded still must not stop the close.
      }
    }
    this.flush();
    this.#shut();
    this.#transport.end();
    // A peer that never closes its side must not keep the socket open.
    const timer = setTimeout(() => this.#transport.destroy(), 1_000);
    (timer as { unref?: () => void }).unref?.();
  }

  /** Closes now, dropping unwritten bytes. */
  destroy(): void {
    if (this.#closed) return;
    this.#shut();
    this.#transport.destroy();
  }

  #shut(): void {
    this.#closed = true;
    if (this.#gatherTimer !== undefined) clearTimeout(this.#gatherTimer);
    this.#keepalive?.stop();
    this.#keepalive = undefined;
  }
}

/** Wraps a codec error (or anything thrown) into the client's error type, keeping reason and clause. */
export function toClientError(
  cause: unknown,
  code: ClientErrorCode = ClientErrorCode.INVALID_ARGUMENT,
): MqttClientError {
  if (cause instanceof MqttClientError) return cause;
  if (cause instanceof MqttProtocolError) {
    return new MqttClientError(code, cause.message, {
      reasonCode: cause.reasonCode,
      clause: cause.clause,
      cause,
    });
  }
  // Other typed errors (the topic validators' TopicError) carry a reason code and clause too.
  const typed = cause as { reasonCode?: unknown; clause?: unknown } | null;
  return new MqttClientError(code, cause instanceof Error ? cause.message : String(cause), {
    cause,
    reasonCode: typeof typed?.reasonCode === 'number' ? typed.reasonCode : undefined,
    clause: typeof typed?.clause === 'string' ? typed.clause : undefined,
  });
}
