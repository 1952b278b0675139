import type { Duplex } from 'node:stream';
import {
  AckByte,
  Decoder,
  type DisconnectPacket,
  encode,
  MAX_PACKET_SIZE,
  MqttProtocolError,
  type Packet,
  type ProtocolVersion,
  ReasonCode,
} from '@x/packets';
import type { ClientInfo, ClientState } from './client-info.js';
import type { BrokerContext } from './context.js';
import { diagnostics } from './diagnostics.js';
import { dispatch } from './handlers/index.js';
import type { ConnectionInfo } from './listeners/listener.js';
import { LogBudget } from './logger.js';
import { TickOutput } from './output.js';
import type { HeldAck } from './persistence.js';
import type { RingQueue } from './queue.js';
import type { Session } from './session.js';

/**
 * One network connection. Session state lives in `Session`, which outlives it; this object only
 * holds what dies with the socket: the decoder, the negotiated limits, topic aliases, keep-alive.
 * Idle connections are cheap: no timers (one broker-wide sweep checks keep-alives) and no buffers
 * beyond the decoder's partial packet.
 */
export class Client implements ClientInfo {
  /** Client identifier ('' until CONNECT is handled). */
  id = '';
  readonly remoteAddress: string;
  readonly listener: string;
  readonly trusted: boolean;
  protocolVersion: ProtocolVersion = 4;
  username: string | undefined;
  state: ClientState = 'new';
  /**
   * When the connection opened and when bytes last came, in tenths of a second since `CLOCK_BASE`:
   * small integers, which V8 keeps in the object, where epoch milliseconds would take a separate
   * 16-byte number box each per connection.
   */
  readonly #openedAt: number;
  #seenAt: number;
  /** Keep Alive in force, seconds (0: none). */
  keepalive = 0;
  session: Session | undefined;
  /** The peer's Receive Maximum: our outbound QoS 1/2 window. */
  sendQuota = 65_535;
  /** The peer's Maximum Packet Size (default: the most MQTT can express; not Infinity, a boxed number). */
  maxPacketSize = MAX_PACKET_SIZE;
  /** v5: whether reason strings and user properties may be sent on errors. */
  requestProblemInformation = true;
  /** This publisher's acknowledgements waiting behind held ones, in order (see `Persistence`). */
  heldAcks: RingQueue<HeldAck> | undefined;
  /** Acknowledgements waiting for a commit, in order: triples of ack, message, turn (see `Persistence`). */
  durableAcks: RingQueue<unknown> | undefined;
  /** The last commit turn this client held an acknowledgement for. */
  durableTurn = 0;
  /** Bytes of this publisher's messages whose acknowledgement is held (bounded by `maxHeldBytes`). */
  heldBytes = 0;

  /** What few connections use, made on first use: an idle connection stays small. */
  #rare: ClientRare | undefined;
  readonly #ctx: BrokerContext;
  readonly #stream: Duplex;
  #decoder: Decoder;
  /** Bytes written this tick, sent together by `flush`. */
  #pending: TickOutput | undefined;
  #pendingBytes = 0;
  #readPaused = false;
  /** The backlog holds PUBLISHes that wait for this publisher's held bytes to go down. */
  #heldBack = false;
  /** The listener's `ConnectionInfo.onClose`, called when the stream has closed. */
  readonly #released: (() => void) | undefined;

  constructor(ctx: BrokerContext, stream: Duplex, info: ConnectionInfo) {
    this.#ctx = ctx;
    this.#stream = stream;
    this.remoteAddress = info.remoteAddress;
    this.listener = info.listener;
    this.trusted = info.trusted === true;
    this.#openedAt = this.#seenAt = clockNow();
    if (info.username !== undefined) this.#more().transportUsername = info.username;
    const limit = info.maxPacketSize;
    if (limit !== undefined && limit < ctx.options.maxPacketSize) this.#more().receivePacketLimit = limit;
    this.#decoder = new Decoder({ maxPacketSize: this.receivePacketLimit });
    this.#released = info.onClose;
    // Listeners shared by every connection (no closures per connection): they find the client
    // through a symbol on the stream. Registered last: a constructor that throws leaves none, and
    // `Broker.accept` then calls `info.onClose` itself.
    (stream as Tagged)[kClient] = this;
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
    // A stream that is not half-open ends its writable side on 'end' by itself (net sockets): a
    // listener of ours would turn the socket's one 'end' listener into an array on every connection.
    if ((stream as { allowHalfOpen?: boolean }).allowHalfOpen !== false) stream.on('end', onEnd);
    stream.on('drain', onDrain);
  }

  /** Epoch ms of the connection (to a tenth of a second). */
  get connectedAt(): number {
    return CLOCK_BASE + this.#openedAt * CLOCK_UNIT;
  }

  /** Epoch ms of the last bytes received (to a tenth of a second). */
  get lastSeen(): number {
    return CLOCK_BASE + this.#seenAt * CLOCK_UNIT;
  }

  /**
   * Free-form per-connection storage for hooks (e.g. the ACL rules resolved for this user), made
   * on first use: most connections never need one.
   */
  get data(): Record<string, unknown> {
    const rare = this.#more();
    rare.data ??= {};
    return rare.data;
  }

  /** v5 Authentication Method of an enhanced-authentication connection. */
  get authenticationMethod(): string | undefined {
    return this.#rare?.authenticationMethod;
  }
  set authenticationMethod(method: string | undefined) {
    this.#put('authenticationMethod', method);
  }

  /** The largest packet read from this client: the broker's limit or the listener's, the smaller. */
  get receivePacketLimit(): number {
    return this.#rare?.receivePacketLimit ?? this.#ctx.options.maxPacketSize;
  }

  /** The identity the transport established (see `ConnectionInfo.username`), used as user name. */
  get transportUsername(): string | undefined {
    return this.#rare?.transportUsername;
  }

  /** The peer's Topic Alias Maximum (server → client aliases); 0 when not used. */
  get topicAliasMaximum(): number {
    return this.#rare?.topicAliasMaximum ?? 0;
  }
  set topicAliasMaximum(maximum: number) {
    this.#put('topicAliasMaximum', maximum);
  }

  /** Bytes read while `#heldBack`; past `maxHeldBytes` the socket is paused too. */
  get #heldBackBytes(): number {
    return this.#rare?.heldBackBytes ?? 0;
  }
  set #heldBackBytes(bytes: number) {
    this.#put('heldBackBytes', bytes);
  }

  /** The reason the connection ends with (Success until one is set). */
  get #disconnectCode(): number {
    return this.#rare?.disconnectCode ?? ReasonCode.Success;
  }
  set #disconnectCode(code: number) {
    this.#put('disconnectCode', code);
  }

  /** Client → server topic aliases. */
  get aliasesIn(): Map<number, string> | undefined {
    return this.#rare?.aliasesIn;
  }
  set aliasesIn(aliases: Map<number, string> | undefined) {
    this.#put('aliasesIn', aliases);
  }

  /** Bytes of topic names held in `aliasesIn` (bounded by `maxTopicAliasBytes`). */
  get aliasBytes(): number {
    return this.#rare?.aliasBytes ?? 0;
  }
  set aliasBytes(bytes: number) {
    this.#put('aliasBytes', bytes);
  }

  /** Server → client topic aliases. */
  get aliasesOut(): Map<string, number> | undefined {
    return this.#rare?.aliasesOut;
  }
  set aliasesOut(aliases: Map<string, number> | undefined) {
    this.#put('aliasesOut', aliases);
  }

  #more(): ClientRare {
    this.#rare ??= { ...RARE_UNSET };
    return this.#rare;
  }

  /** Sets a rare field, making the rare part only for a value other than its unset one. */
  #put<K extends keyof ClientRare>(key: K, value: ClientRare[K]): void {
    if (this.#rare !== undefined || value !== RARE_UNSET[key]) this.#more()[key] = value;
  }

  /** Packets decoded while an asynchronous step (authentication) was pending. */
  get #backlog(): Packet[] | undefined {
    return this.#rare?.backlog;
  }
  set #backlog(backlog: Packet[] | undefined) {
    this.#put('backlog', backlog);
  }

  /** A decode error met while the backlog was held: handled once the packets before it are. */
  get #backlogError(): unknown {
    return this.#rare?.backlogError;
  }
  set #backlogError(error: unknown) {
    this.#put('backlogError', error);
  }

  get #closeError(): Error | undefined {
    return this.#rare?.closeError;
  }
  set #closeError(error: Error | undefined) {
    this.#put('closeError', error);
  }

  /** Bytes waiting to be sent (this tick's batch and the socket's buffer). */
  get bufferedBytes(): number {
    return this.#stream.writableLength + this.#pendingBytes;
  }

  /** True when more than `maxOutboundBytes` wait to be sent: QoS 0 to it is dropped, QoS 1/2 queued. */
  get congested(): boolean {
    return this.#stream.writableLength + this.#pendingBytes > this.#ctx.options.maxOutboundBytes;
  }

  /** Encodes and sends one packet to this client (not for fan-out PUBLISHes, see `write`). */
  send(packet: Packet): void {
    if (this.state === 'closed') return;
    const hooks = this.#ctx.hooks;
    if (hooks.on.onPacketEncode.length > 0) {
      for (const h of hooks.on.onPacketEncode) packet = h.onPacketEncode!(this, packet);
      if (!this.requestProblemInformation) packet = withoutProblemInformation(packet);
    }
    let bytes = encode(packet, this.protocolVersion);
    if (bytes.length > this.maxPacketSize) {
      // [MQTT-3.2.2-19] [MQTT-3.2.2-20] drop the Reason String and User Properties first, then
      // [MQTT-3.1.2-24] [MQTT-3.1.2-25] do not send at all what still does not fit
      if (!('properties' in packet) || packet.properties === undefined) return;
      const { reasonString: _r, userProperties: _u, ...properties } = packet.properties;
      packet = { ...packet, properties } as Packet;
      bytes = encode(packet, this.protocolVersion);
      if (bytes.length > this.maxPacketSize) return;
    }
    this.write(bytes);
    if (hooks.on.onPacketSent.length > 0) {
      for (const h of hooks.on.onPacketSent) h.onPacketSent!(this, packet, bytes.length);
    }
  }

  /**
   * Queues encoded bytes. Everything written to a client in one tick goes to the socket as one
   * buffer in one write: a stream `write()` per packet costs more than copying small packets together.
   */
  write(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.#output().add(bytes);
    this.#wrote(bytes.length);
  }

  /**
   * Sends a PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success and no properties as its four bytes,
   * without a packet object or the encoder: the one packet every QoS 1/2 message costs on top of its
   * PUBLISH. Hooks that watch outgoing packets get the packet object through `send`.
   */
  sendAck(type: AckType, packetId: number): void {
    if (this.state === 'closed') return;
    const on = this.#ctx.hooks.on;
    if (on.onPacketEncode.length > 0 || on.onPacketSent.length > 0 || this.maxPacketSize < 4) {
      this.send({ type, packetId });
      return;
    }
    this.#output().addAck(AckByte[type], packetId);
    this.#wrote(4);
  }

  /** This tick's output, made (and its flush scheduled) on the first write of the tick. */
  #output(): TickOutput {
    let output = this.#pending;
    if (output === undefined) {
      output = this.#pending = new TickOutput();
      this.#ctx.output.scheduleFlush(this);
    }
    return output;
  }

  #wrote(bytes: number): void {
    this.#pendingBytes += bytes;
    this.#ctx.stats.bytesSent += bytes;
    this.#ctx.output.tickBytes += bytes;
  }

  /** Called once per tick by the write scheduler for clients written to. */
  flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    if (this.#stream.destroyed) return;
    const drained = this.#stream.write(pending.take());
    // Below the stream's high-water mark no 'drain' will come: let a waiting queue move now.
    if (drained && this.session?.queue.length) this.#drained();
  }

  /**
   * Server-initiated disconnection: v5 clients get DISCONNECT with the reason code first, then the
   * connection is closed. The will is published unless the client ended normally.
   */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === 'closed') return;
    if (this.protocolVersion === 5 && this.state === 'connected') {
      const packet: DisconnectPacket = { type: 'disconnect', reasonCode };
      if (reasonString && this.requestProblemInformation) packet.properties = { reasonString };
      this.send(packet);
    }
    this.#disconnectCode = reasonCode;
    this.close();
  }

  /** Refuses a CONNECT with a CONNACK carrying the reason code, then closes. */
  refuse(reasonCode: number, reasonString?: string): void {
    if (this.state === 'closed') return;
    const v5 = this.protocolVersion === 5;
    this.send({
      type: 'connack',
      sessionPresent: false,
      reasonCode: v5 ? reasonCode : v3ReturnCode(reasonCode),
      ...(v5 && reasonString ? { properties: { reasonString } } : {}),
    });
    this.#disconnectCode = reasonCode;
    this.close();
  }

  /** Handles a protocol violation: one log line, the right v5 reaction, then close. */
  violation(reasonCode: number, message: string, clause?: string): void {
    if (this.state === 'closed') return;
    const suppressed = violationLog.take(Date.now());
    if (suppressed >= 0) {
      this.#ctx.log.warn(
        {
          clientId: this.id,
          remote: this.remoteAddress,
          reasonCode,
          clause,
          ...(suppressed ? { suppressed } : {}),
        },
        `protocol violation: ${message}`,
      );
    }
    this.#closeError = new Error(message);
    if (diagnostics.protocolViolation.hasSubscribers) {
      diagnostics.protocolViolation.publish({
        clientId: this.id,
        remoteAddress: this.remoteAddress,
        reasonCode,
        clause,
        message,
      });
    }
    if (this.state === 'connected') this.disconnect(reasonCode, message);
    else if (this.protocolVersion === 5 || reasonCode === ReasonCode.UnsupportedProtocolVersion) {
      this.refuse(reasonCode, message);
    } else this.close();
  }

  /** Closes the connection now (after flushing what was written). Idempotent. */
  close(error?: Error): void {
    if (this.state === 'closed') return;
    if (error && !this.#closeError) this.#closeError = error;
    this.flush();
    this.#stream.end();
    // A peer that never reads would keep the socket half-open: destroy after the flush window.
    const stream = this.#stream;
    setTimeout(() => stream.destroy(), 1000).unref();
    this.#finish();
  }

  /** Stops reading from the socket (backpressure towards a publisher). */
  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    if (this.#backlog === undefined && !this.#readPaused) this.#stream.resume();
  }

  /** Marks a normal, client-requested disconnection (no will). */
  set disconnectCode(code: number) {
    this.#disconnectCode = code;
  }

  #finish(): void {
    const wasState = this.state;
    this.state = 'closed';
    this.#backlog = undefined;
    this.#backlogError = undefined;
    try {
      this.#ctx.connectionClosed(this, wasState, this.#disconnectCode, this.#closeError);
    } catch (error) {
      this.#ctx.log.error({ clientId: this.id, error: String(error) }, 'error while closing a connection');
    }
  }

  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.#seenAt = clockNow();
    this.#ctx.stats.bytesReceived += chunk.length;
    let packets: Packet[];
    let decodeError: unknown;
    try {
      packets = this.#decoder.push(chunk);
    } catch (error) {
      // The whole packets that came before the bad bytes in this chunk are the peer's too: act on
      // them (a PUBLISH is delivered) before reacting to the violation.
      decodeError = error;
      packets = error instanceof MqttProtocolError ? error.packetsBefore : [];
    }
    if (this.#backlog !== undefined) {
      if (this.#heldBack) this.#holdBack(packets, chunk.length);
      else for (const packet of packets) this.#backlog.push(packet);
      if (decodeError !== undefined) this.#backlogError ??= decodeError;
      return;
    }
    if (packets.length > 0) this.#process(packets, 0);
    if (decodeError !== undefined) {
      // An asynchronous step (authentication) started by one of those packets: react after it.
      if (this.#backlog !== undefined) this.#backlogError ??= decodeError;
      else this.#decodeError(decodeError);
      return;
    }
    // A peer that sends but does not read its acknowledgements: stop reading it until its socket
    // drains, instead of buffering replies without bound.
    if (this.#stream.writableLength > this.#ctx.options.maxOutboundBytes && this.#stream.writableNeedDrain) {
      this.#readPaused = true;
      this.#stream.pause();
      this.#ctx.stats.readPauses++;
    } else if (this.#ctx.output.overloaded) {
      // This tick already produced more output than the broker hands to sockets at once: stop
      // reading this publisher until the writes are out, instead of queueing in memory.
      this.#stream.pause();
      this.#ctx.stats.readPauses++;
      this.#ctx.output.resumeLater(this);
    }
  }

  #process(packets: Packet[], start: number): void {
    for (let i = start; i < packets.length; i++) {
      if (this.state === 'closed') return;
      const packet = packets[i]!;
      if (this.heldBytes > 0 && packet.type === 'publish' && packet.qos > 0 && this.#overHeld(packet)) {
        // Backpressure: this publisher's held messages reached `maxHeldBytes`; the rest waits.
        this.#backlog = packets.slice(i);
        this.#heldBack = true;
        this.#heldBackBytes = 0;
        return;
      }
      let pending: Promise<void> | undefined;
      try {
        pending = dispatch(this.#ctx, this, packets[i]!, false);
      } catch (error) {
        // A throwing hook (or a bug) costs this connection, never the broker.
        this.#ctx.log.error(
          { clientId: this.id, remote: this.remoteAddress, packet: packets[i]!.type, error: String(error) },
          'error while handling a packet: connection closed',
        );
        this.#closeError = error instanceof Error ? error : new Error(String(error));
        this.disconnect(ReasonCode.ImplementationSpecificError, 'internal error');
        return;
      }
      if (pending !== undefined) {
        // An asynchronous step (authentication): hold the rest until it settles.
        this.#backlog = packets.slice(i + 1);
        this.#stream.pause();
        pending.then(
          () => this.#continue(),
          (error: unknown) => {
            this.#ctx.log.error(
              { clientId: this.id, remote: this.remoteAddress, error: String(error) },
              'asynchronous hook failed: connection closed',
            );
            if (this.state !== 'connected') this.refuse(ReasonCode.UnspecifiedError);
            else this.close(error instanceof Error ? error : new Error(String(error)));
          },
        );
        return;
      }
    }
  }

  /** True when one more PUBLISH would take this publisher's held bytes past `maxHeldBytes`. */
  #overHeld(packet: Packet & { type: 'publish' }): boolean {
    const alias = packet.topic === '' ? packet.properties?.topicAlias : undefined;
    const topic = alias === undefined ? packet.topic : (this.aliasesIn?.get(alias) ?? '');
    return this.heldBytes + packet.payload.length + topic.length > this.#ctx.options.maxHeldBytes;
  }

  /**
   * Packets read while PUBLISHes wait for held acknowledgements: acknowledgements of this client's
   * own deliveries and pings are handled now (it may be the subscriber that holds it back, and they
   * do not depend on the PUBLISHes before them); everything else waits in order. Past
   * `maxHeldBytes` read this way, the socket is paused as well.
   */
  #holdBack(packets: Packet[], bytes: number): void {
    const backlog = this.#backlog!;
    for (const packet of packets) {
      const type = packet.type;
      if (type === 'puback' || type === 'pubrec' || type === 'pubcomp' || type === 'pingreq') {
        this.#process([packet], 0);
      } else backlog.push(packet);
    }
    const max = this.#ctx.options.maxHeldBytes;
    const before = this.#heldBackBytes;
    this.#heldBackBytes += bytes;
    if (before <= max && this.#heldBackBytes > max && this.#heldBack) {
      this.#stream.pause();
      this.#ctx.stats.readPauses++;
    }
  }

  /** Some of this publisher's held acknowledgements were let go: waiting PUBLISHes may go on. */
  heldReleased(): void {
    if (!this.#heldBack || this.state === 'closed') return;
    const next = this.#backlog?.[0];
    if (next?.type === 'publish' && this.heldBytes > 0 && this.#overHeld(next)) return;
    this.#heldBack = false;
    // Not from inside the router that let go of them: the PUBLISHes are handled on a fresh stack.
    queueMicrotask(() => this.#continue());
  }

  #continue(): void {
    const backlog = this.#backlog;
    this.#backlog = undefined;
    if (this.state === 'closed' || backlog === undefined) return;
    if (!this.#readPaused) this.#stream.resume();
    this.#process(backlog, 0);
    const error = this.#backlogError;
    if (error !== undefined && this.#backlog === undefined) {
      this.#backlogError = undefined;
      this.#decodeError(error);
    }
  }

  #decodeError(error: unknown): void {
    if (error instanceof MqttProtocolError) {
      if (this.state === 'new' && error.protocolVersion !== undefined)
        this.protocolVersion = error.protocolVersion;
      this.violation(error.reasonCode, error.message, error.clause);
    } else {
      this.violation(ReasonCode.MalformedPacket, error instanceof Error ? error.message : String(error));
    }
  }

  onError(error: Error): void {
    if (!this.#closeError) this.#closeError = error;
    this.#stream.destroy();
  }

  onEnd(): void {
    this.#stream.end();
  }

  onClose(): void {
    if (this.state !== 'closed') {
      if (!this.#closeError) this.#closeError = new Error('connection closed by peer');
      this.#finish();
    }
    this.#stream.off('data', onData);
    this.#stream.off('drain', onDrain);
    (this.#stream as Tagged)[kClient] = undefined;
    this.#released?.();
  }

  onDrain(): void {
    if (this.#readPaused) {
      this.#readPaused = false;
      if (this.#backlog === undefined) this.#stream.resume();
    }
    this.#drained();
  }

  /** The socket drained: send what the session queued. */
  #drained(): void {
    if (this.session !== undefined && this.state === 'connected') this.#ctx.router.drain(this.session);
  }
}

/** The acknowledgements `sendAck` writes. */
export type AckType = keyof typeof AckByte;

/** The part of a connection's state that few connections use (see `Client.#rare`). */
interface ClientRare {
  data: Record<string, unknown> | undefined;
  authenticationMethod: string | undefined;
  aliasesIn: Map<number, string> | undefined;
  aliasBytes: number;
  aliasesOut: Map<string, number> | undefined;
  backlog: Packet[] | undefined;
  backlogError: unknown;
  closeError: Error | undefined;
  receivePacketLimit: number | undefined;
  transportUsername: string | undefined;
  topicAliasMaximum: number;
  heldBackBytes: number;
  disconnectCode: number;
}

/** Each rare field's value while the connection has no rare part (what its getter reports). */
const RARE_UNSET: Readonly<ClientRare> = {
  data: undefined,
  authenticationMethod: undefined,
  aliasesIn: undefined,
  aliasBytes: 0,
  aliasesOut: undefined,
  backlog: undefined,
  backlogError: undefined,
  closeError: undefined,
  receivePacketLimit: undefined,
  transportUsername: undefined,
  topicAliasMaximum: 0,
  heldBackBytes: 0,
  disconnectCode: ReasonCode.Success,
};

/** The v3.1.1 CONNACK return code that best matches a v5 reason code. */
export function v3ReturnCode(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.Success:
      return 0;
    case ReasonCode.UnsupportedProtocolVersion:
      return 1;
    case ReasonCode.ClientIdentifierNotValid:
      return 2;
    case ReasonCode.ServerUnavailable:
    case ReasonCode.ServerBusy:
      return 3;
    case ReasonCode.BadUserNameOrPassword:
      return 4;
    default:
      return 5;
  }
}

/** The epoch ms that connection times count from, and their unit (see `Client.#seenAt`). */
const CLOCK_BASE = Date.now();
const CLOCK_UNIT = 100;
/** Tenths of a second since `CLOCK_BASE`: a small integer for about 3 years of uptime. */
function clockNow(): number {
  return Math.floor((Date.now() - CLOCK_BASE) / CLOCK_UNIT);
}

/** Protocol-violation lines: at most 20 a second over the whole process (a malformed-input storm). */
const violationLog = new LogBudget(20);

const kClient = Symbol('x-broker client');
type Tagged = Duplex & { [kClient]?: Client };

function onData(this: Duplex, chunk: Buffer): void {
  (this as Tagged)[kClient]?.onData(chunk);
}
function onError(this: Duplex, error: Error): void {
  const client = (this as Tagged)[kClient];
  if (client) client.onError(error);
  else this.destroy();
}
function onClose(this: Duplex): void {
  (this as Tagged)[kClient]?.onClose();
}
function onEnd(this: Duplex): void {
  const client = (this as Tagged)[kClient];
  if (client) client.onEnd();
  else this.end();
}
function onDrain(this: Duplex): void {
  (this as Tagged)[kClient]?.onDrain();
}

/**
 * [MQTT-3.1.2-29] a client that set Request Problem Information to 0 gets no Reason String or User
 * Property except on PUBLISH, CONNACK and DISCONNECT. The broker adds none elsewhere itself; this
 * strips what an `onPacketEncode` hook may have added.
 */
function withoutProblemInformation(packet: Packet): Packet {
  if (packet.type === 'publish' || packet.type === 'connack' || packet.type === 'disconnect') return packet;
  if (!('properties' in packet) || packet.properties === undefined) return packet;
  const { reasonString, userProperties, ...properties } = packet.properties;
  if (reasonString === undefined && userProperties === undefined) return packet;
  return { ...packet, properties } as Packet;
}
