import type { Duplex } from 'node:stream';
import {
  type ConnackPacket,
  decode,
  encode,
  FrameReader,
  isFailureReasonCode,
  type Packet,
  type Properties,
  type QoS,
  readVbi,
  vbiSize,
} from '@x/packets';
import { isBenchPayload, monotonicNs, PayloadOffset } from './payload.js';
import { type BrokerAddress, openTransport, type ResolvedTls } from './transports.js';

/** How one bench connection logs in. */
export interface ConnectionOptions {
  address: BrokerAddress;
  tls: ResolvedTls;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
  protocolVersion: 4 | 5;
  clientId: string;
  /** Clean Session (3.1.1) / Clean Start (5). */
  clean: boolean;
  /** Keep Alive in seconds (default 30, as paho and mqtt-stresser use). */
  keepalive?: number;
  username?: string;
  password?: string;
  /** v5 Session Expiry Interval in seconds for persistent sessions (default 3600 when not clean). */
  sessionExpiry?: number;
  /** Source address to bind the client socket to (default: the system's choice). */
  localAddress?: string;
  /** Gives up on transport + CONNACK after this many milliseconds (default 30 000). */
  connectTimeoutMs?: number;
  /** Our cap on QoS 1/2 publishes in flight; the broker's v5 Receive Maximum lowers it (default 1000). */
  maxInflight?: number;
  /** Frames larger than this are a protocol error (default 256 MiB). */
  maxPacketSize?: number;
  /** Run tag expected in bench payloads; other payloads count as foreign. */
  runTag: number;
  /**
   * Where deliveries go from the first byte on. A resumed persistent session's queued messages can
   * arrive in the same read as CONNACK, before `open` resolves and a `sink` could be assigned.
   */
  sink?: DeliverySink;
}

/** Receives every bench message a connection reads. Called once per delivery: keep it cheap. */
export interface DeliverySink {
  delivered(
    publisherId: number,
    sequence: number,
    intendedNs: number,
    actualNs: number,
    receivedNs: number,
  ): void;
  /** A PUBLISH without this run's header. */
  foreign(): void;
}

/** What the connection tells its publisher (see publisher.ts). */
export interface PublishFlows {
  /** A QoS 1/2 flow ended with this reason code (0 for v3.1.1). */
  settle(reasonCode: number): void;
  onClosed: (() => void) | null;
}

/** A refused or failed connection, with the CONNACK reason code when there is one. */
export class ConnectError extends Error {
  override name = 'ConnectError';
  readonly reasonCode: number | undefined;
  constructor(message: string, reasonCode?: number, options?: ErrorOptions) {
    super(message, options);
    this.reasonCode = reasonCode;
  }
}

const PACKET_TYPE = { publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7 } as const;
const ACK_BUFFER_SIZE = 4 * 1024;
const MAX_PACKET_ID = 0xffff;

/** One flag per packet id (1..65535) in an 8 KiB bitset, allocated when the first flag is set. */
class PacketIdFlags {
  #bits: Uint8Array | null = null;

  has(id: number): boolean {
    const bits = this.#bits;
    return bits !== null && ((bits[id >>> 3] ?? 0) & (1 << (id & 7))) !== 0;
  }

  set(id: number): void {
    if (!this.#bits) this.#bits = new Uint8Array((MAX_PACKET_ID + 1) >>> 3);
    this.#bits[id >>> 3] = (this.#bits[id >>> 3] ?? 0) | (1 << (id & 7));
  }

  clear(id: number): void {
    const bits = this.#bits;
    if (bits) bits[id >>> 3] = (bits[id >>> 3] ?? 0) & ~(1 << (id & 7));
  }
}

interface Waiter {
  resolve(packet: Packet): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A minimal MQTT connection for load generation, built on the @x/packets codec: control packets go
 * through the codec, while PUBLISH frames are pre-encoded once (see `BenchPublisher`) and read in
 * place on arrival. It acknowledges every QoS flow in both directions and batches its
 * acknowledgements into one write per chunk read.
 */
export class BenchConnection {
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  readonly #stream: Duplex;
  readonly #reader: FrameReader;
  readonly #runTag: number;
  readonly #waiters = new Map<string, Waiter>();
  readonly #pubackTemplate: Buffer;
  readonly #pubrecTemplate: Buffer;
  readonly #pubrelTemplate: Buffer;
  readonly #pubcompTemplate: Buffer;
  readonly #pingreq: Buffer;
  // Allocated on first use: a fleet of idle connections (conn storms) keeps a few hundred bytes each.
  #ackBuffer: Buffer | null = null;
  #ackLength = 0;
  /** Incoming QoS 2 packet ids between PUBREC and PUBREL: a re-sent PUBLISH is not delivered twice. */
  readonly #awaitingRelease = new PacketIdFlags();
  #nextPacketId = 1;
  readonly #usedIds = new PacketIdFlags();
  #publisher: PublishFlows | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  #held: number[] | null = null;
  #holdLimit = 0;
  #receivedNs = 0;
  #closed = false;
  /** Where deliveries go; set it before subscribing. */
  sink: DeliverySink | null = null;
  /** The CONNACK the broker sent. */
  connack: ConnackPacket | null = null;
  /** Our effective in-flight cap for QoS 1/2 publishes. */
  maxInflight: number;
  /** Why the connection closed, when it was not our doing. */
  closeError: Error | null = null;
  /** Called once when the connection closes for any reason. */
  onClose: ((error: Error | null) => void) | null = null;

  private constructor(stream: Duplex, options: ConnectionOptions) {
    this.#stream = stream;
    this.clientId = options.clientId;
    this.protocolVersion = options.protocolVersion;
    this.#runTag = options.runTag;
    this.sink = options.sink ?? null;
    this.maxInflight = Math.max(1, Math.min(options.maxInflight ?? 1000, MAX_PACKET_ID));
    const v = options.protocolVersion;
    this.#reader = new FrameReader(
      (header, buf, start, bodyStart, end) => this.#onFrame(header, buf, start, bodyStart, end),
      { maxPacketSize: options.maxPacketSize },
    );
    this.#pubackTemplate = encode({ type: 'puback', packetId: 1 }, v);
    this.#pubrecTemplate = encode({ type: 'pubrec', packetId: 1 }, v);
    this.#pubrelTemplate = encode({ type: 'pubrel', packetId: 1 }, v);
    this.#pubcompTemplate = encode({ type: 'pubcomp', packetId: 1 }, v);
    this.#pingreq = encode({ type: 'pingreq' }, v);
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('error', (error: Error) => this.#close(error));
    stream.on('close', () => this.#close(null));
    stream.on('end', () => this.#close(null));
  }

  /** Opens the transport, sends CONNECT and waits for a successful CONNACK. */
  static async open(options: ConnectionOptions): Promise<BenchConnection> {
    const timeout = options.connectTimeoutMs ?? 30_000;
    const started = Date.now();
    const stream = await openTransport(options.address, options.tls, timeout, options.localAddress);
    const connection = new BenchConnection(stream, options);
    const properties: Properties = {};
    if (options.protocolVersion === 5) {
      if (!options.clean || options.sessionExpiry)
        properties.sessionExpiryInterval = options.sessionExpiry ?? 3600;
    }
    const connack = connection.#expect('connack', Math.max(1, timeout - (Date.now() - started)));
    connection.#write(
      encode(
        {
          type: 'connect',
          protocolVersion: options.protocolVersion,
          clientId: options.clientId,
          clean: options.clean,
          keepalive: options.keepalive ?? 30,
          ...(options.username !== undefined ? { username: options.username } : {}),
          ...(options.password !== undefined ? { password: Buffer.from(options.password) } : {}),
          ...(options.protocolVersion === 5 ? { properties } : {}),
        },
        options.protocolVersion,
      ),
    );
    let packet: ConnackPacket;
    try {
      packet = (await connack) as ConnackPacket;
    } catch (error) {
      connection.destroy();
      throw error;
    }
    if (packet.reasonCode !== 0) {
      connection.destroy();
      throw new ConnectError(
        `${options.clientId}: broker refused the connection, reason code 0x${packet.reasonCode.toString(16).padStart(2, '0')}${packet.properties?.reasonString ? ` (${packet.properties.reasonString})` : ''}`,
        packet.reasonCode,
      );
    }
    connection.connack = packet;
    const receiveMaximum = packet.properties?.receiveMaximum;
    if (receiveMaximum) connection.maxInflight = Math.min(connection.maxInflight, receiveMaximum);
    const keepalive = packet.properties?.serverKeepAlive ?? options.keepalive ?? 30;
    if (keepalive > 0) {
      connection.#pingTimer = setInterval(() => connection.#write(connection.#pingreq), keepalive * 750);
      connection.#pingTimer.unref();
    }
    return connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while the transport has room: false means wait for `drain` before writing more. */
  get writable(): boolean {
    return !this.#closed && !this.#stream.writableNeedDrain;
  }

  /** Calls `listener` once when the transport's buffer has drained (or the connection closed). */
  onceDrained(listener: () => void): void {
    if (this.#closed) {
      listener();
      return;
    }
    this.#stream.once('drain', listener);
  }

  /** Subscribes and resolves with the SUBACK reason codes; a failure code rejects. */
  async subscribe(topicFilters: string[], qos: QoS, timeoutMs = 30_000): Promise<number[]> {
    const packetId = this.#allocateId();
    const suback = this.#expect(`suback:${packetId}`, timeoutMs);
    this.#write(
      encode(
        {
          type: 'subscribe',
          packetId,
          subscriptions: topicFilters.map((topicFilter) => ({ topicFilter, qos })),
        },
        this.protocolVersion,
      ),
    );
    try {
      const packet = await suback;
      const codes = packet.type === 'suback' ? packet.reasonCodes : [];
      const failed = codes.find((c) => isFailureReasonCode(c));
      if (failed !== undefined) {
        throw new ConnectError(
          `${this.clientId}: subscription refused, reason code 0x${failed.toString(16)}`,
          failed,
        );
      }
      return codes;
    } finally {
      this.#releaseId(packetId);
    }
  }

  /** Unsubscribes and waits for UNSUBACK. */
  async unsubscribe(topicFilters: string[], timeoutMs = 5_000): Promise<void> {
    const packetId = this.#allocateId();
    const unsuback = this.#expect(`unsuback:${packetId}`, timeoutMs);
    this.#write(encode({ type: 'unsubscribe', packetId, topicFilters }, this.protocolVersion));
    try {
      await unsuback;
    } finally {
      this.#releaseId(packetId);
    }
  }

  /** @internal Called by the `BenchPublisher` constructor: acks of our publishes go to it. */
  attachPublisher(publisher: PublishFlows): void {
    if (this.#publisher) throw new Error(`${this.clientId} already has a publisher`);
    this.#publisher = publisher;
  }

  /**
   * Stops consuming deliveries, as mqtt-stresser's subscriber does while its worker publishes: up
   * to `limit` messages are read and kept unacknowledged, then the transport is paused so the rest
   * back up into TCP and the broker.
   */
  hold(limit: number): void {
    this.#held = [];
    this.#holdLimit = limit;
  }

  /** Delivers and acknowledges what `hold` kept, and resumes reading. */
  release(): void {
    const held = this.#held;
    this.#held = null;
    if (held) {
      const now = monotonicNs();
      for (let i = 0; i < held.length; i += 6) {
        this.#accept(
          held[i] ?? 0,
          held[i + 1] ?? 0,
          held[i + 2] ?? 0,
          held[i + 3] ?? 0,
          held[i + 4] ?? 0,
          held[i + 5] ?? 0,
          now,
        );
      }
      this.#flushAcks();
    }
    if (this.#stream.isPaused()) this.#stream.resume();
  }

  /** Sends DISCONNECT and closes; waits at most `quiesceMs` for the bytes to leave. */
  async disconnect(quiesceMs = 100): Promise<void> {
    if (this.#closed) return;
    const packet = encode({ type: 'disconnect' }, this.protocolVersion);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, quiesceMs);
      this.#stream.write(packet, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.#markClosed(null);
    this.#stream.end();
    this.#stream.destroy();
  }

  /** Closes the transport at once. */
  destroy(): void {
    this.#markClosed(null);
    this.#stream.destroy();
  }

  /** @internal Writes bytes; returns false when the caller should wait for drain. */
  write(bytes: Buffer): boolean {
    return this.#write(bytes);
  }

  /** @internal Writes bytes and calls `done` once they were handed to the OS. */
  writeWithCallback(bytes: Buffer, done: (error?: Error | null) => void): void {
    if (this.#closed) {
      done(this.closeError ?? new ConnectError(`${this.clientId}: connection closed`));
      return;
    }
    this.#stream.write(bytes, done);
  }

  /** @internal Packet id allocation for the publisher. */
  allocateId(): number {
    return this.#allocateId();
  }

  #write(bytes: Buffer): boolean {
    if (this.#closed) return false;
    return this.#stream.write(bytes);
  }

  #allocateId(): number {
    for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.#usedIds.has(id)) {
        this.#usedIds.set(id);
        return id;
      }
    }
    throw new Error(`${this.clientId}: all 65535 packet ids are in use`);
  }

  #releaseId(id: number): void {
    this.#usedIds.clear(id);
  }

  #expect(key: string, timeoutMs: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        reject(
          new ConnectError(`${this.clientId}: no ${key.split(':')[0]?.toUpperCase()} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#waiters.set(key, { resolve, reject, timer });
    });
  }

  #settle(key: string, packet: Packet): void {
    const waiter = this.#waiters.get(key);
    if (!waiter) return;
    this.#waiters.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(packet);
  }

  #onData(chunk: Buffer): void {
    this.#receivedNs = monotonicNs();
    try {
      this.#reader.push(chunk);
    } catch (error) {
      this.#close(error as Error);
      this.#stream.destroy();
      return;
    }
    this.#flushAcks();
    if (this.#held && this.#held.length >= this.#holdLimit * 6 && !this.#stream.isPaused())
      this.#stream.pause();
  }

  /** One frame, `buf[start, end)` with its body from `bodyStart` (see @x/packets' FrameReader). */
  #onFrame(header: number, buf: Buffer, start: number, bodyStart: number, end: number): void {
    const type = header >> 4;
    if (type === PACKET_TYPE.publish) {
      this.#onPublish(header, buf, bodyStart, end);
      return;
    }
    if (type >= PACKET_TYPE.puback && type <= PACKET_TYPE.pubcomp && end - start >= 4) {
      // Acks for our own publishes are the other hot path: their packet id is the first body field.
      const packetId = buf.readUInt16BE(bodyStart);
      const reasonCode = this.protocolVersion === 5 && end > bodyStart + 2 ? (buf[bodyStart + 2] ?? 0) : 0;
      if (type === PACKET_TYPE.pubrel) {
        this.#awaitingRelease.clear(packetId);
        this.#queueAck(this.#pubcompTemplate, packetId);
      } else if (type === PACKET_TYPE.pubrec && !isFailureReasonCode(reasonCode)) {
        this.#queueAck(this.#pubrelTemplate, packetId);
      } else {
        // PUBACK, PUBCOMP, or a PUBREC carrying a failure: the flow ends here.
        this.#releaseId(packetId);
        this.#publisher?.settle(reasonCode);
      }
      return;
    }
    let packet: Packet;
    try {
      packet = decode(buf.subarray(start, end), this.protocolVersion);
    } catch (error) {
      this.#close(error as Error);
      this.#stream.destroy();
      return;
    }
    this.#onControl(packet);
  }

  #onControl(packet: Packet): void {
    switch (packet.type) {
      case 'connack':
        this.#settle('connack', packet);
        break;
      case 'suback':
        this.#settle(`suback:${packet.packetId}`, packet);
        break;
      case 'unsuback':
        this.#settle(`unsuback:${packet.packetId}`, packet);
        break;
      case 'disconnect': {
        const reason = packet.properties?.reasonString ? ` (${packet.properties.reasonString})` : '';
        this.#close(
          new ConnectError(
            `${this.clientId}: broker sent DISCONNECT, reason code 0x${(packet.reasonCode ?? 0).toString(16)}${reason}`,
            packet.reasonCode,
          ),
        );
        this.#stream.destroy();
        break;
      }
      default:
        // PINGRESP needs nothing; AUTH is not used by the bench.
        break;
    }
  }

  #onPublish(header: number, buf: Buffer, bodyStart: number, end: number): void {
    const qos = (header >> 1) & 3;
    // `buf` runs on past `end` (the next frames of the chunk): every field is checked against `end`.
    const topicLength = buf.readUInt16BE(bodyStart);
    let offset = bodyStart + 2 + topicLength;
    let packetId = 0;
    if (qos > 0) {
      packetId = buf.readUInt16BE(offset);
      offset += 2;
    }
    if (this.protocolVersion === 5) {
      // Property Length is a variable byte integer; the properties themselves are skipped. A
      // malformed one (negative) fails the check below.
      const length = readVbi(buf, offset, end);
      offset = length < 0 ? end + 1 : offset + vbiSize(length) + length;
    }
    if (offset > end) {
      this.#close(
        new ConnectError(`${this.clientId}: malformed PUBLISH: its fields run past the packet end`),
      );
      this.#stream.destroy();
      return;
    }
    if (qos === 2 && this.#awaitingRelease.has(packetId)) {
      // A re-sent QoS 2 PUBLISH before PUBREL: acknowledge again, deliver once [MQTT-4.3.3-10].
      this.#queueAck(this.#pubrecTemplate, packetId);
      return;
    }
    if (!isBenchPayload(buf, offset, end - offset, this.#runTag)) {
      if (this.#held) this.#held.push(-1, 0, 0, 0, qos, packetId);
      else this.#accept(-1, 0, 0, 0, qos, packetId, this.#receivedNs);
      return;
    }
    const publisherId = buf.readUInt32BE(offset + PayloadOffset.publisherId);
    const sequence = buf.readUInt32BE(offset + PayloadOffset.sequence);
    const intendedNs = buf.readDoubleBE(offset + PayloadOffset.intendedNs);
    const actualNs = buf.readDoubleBE(offset + PayloadOffset.actualNs);
    if (this.#held) this.#held.push(publisherId, sequence, intendedNs, actualNs, qos, packetId);
    else this.#accept(publisherId, sequence, intendedNs, actualNs, qos, packetId, this.#receivedNs);
  }

  #accept(
    publisherId: number,
    sequence: number,
    intendedNs: number,
    actualNs: number,
    qos: number,
    packetId: number,
    receivedNs: number,
  ): void {
    if (qos === 1) this.#queueAck(this.#pubackTemplate, packetId);
    else if (qos === 2) {
      this.#awaitingRelease.set(packetId);
      this.#queueAck(this.#pubrecTemplate, packetId);
    }
    const sink = this.sink;
    if (!sink) return;
    if (publisherId < 0) sink.foreign();
    else sink.delivered(publisherId, sequence, intendedNs, actualNs, receivedNs);
  }

  #queueAck(template: Buffer, packetId: number): void {
    if (this.#ackLength + template.length > ACK_BUFFER_SIZE) this.#flushAcks();
    if (!this.#ackBuffer) this.#ackBuffer = Buffer.allocUnsafe(ACK_BUFFER_SIZE);
    template.copy(this.#ackBuffer, this.#ackLength);
    // Every ack template is 2 header bytes then the packet id.
    this.#ackBuffer.writeUInt16BE(packetId, this.#ackLength + 2);
    this.#ackLength += template.length;
  }

  #flushAcks(): void {
    if (this.#ackLength === 0 || !this.#ackBuffer) return;
    // The stream keeps what it is given until it is written: hand it a copy (small ones come from
    // Node's shared pool) and keep reusing the one 4 KiB buffer.
    const out = Buffer.from(this.#ackBuffer.subarray(0, this.#ackLength));
    this.#ackLength = 0;
    this.#write(out);
  }

  #markClosed(error: Error | null): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    if (error) this.closeError = error;
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    for (const [, waiter] of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error ?? new ConnectError(`${this.clientId}: connection closed`));
    }
    this.#waiters.clear();
    return true;
  }

  #close(error: Error | null): void {
    if (!this.#markClosed(error)) return;
    this.#publisher?.onClosed?.();
    this.onClose?.(error);
  }
}
