import type { Server, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Packet } from '@x/packets';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';
import type { Hook } from '../hooks.js';
import type { AcceptConnection, ConnectionInfo, Listener } from './listener.js';

/** Limits every socket listener enforces before the broker sees a connection. */
export interface ListenerLimits {
  /** Simultaneous connections on this listener; beyond it new ones are closed at once. Default 10 000. */
  maxConnections?: number;
  /** New connections per second on this listener; beyond it they are closed at once. 0: no limit. Default 0. */
  connectionRate?: number;
  /**
   * Largest MQTT packet read on this listener, in bytes; a connection sending a larger one is closed.
   * Default: no listener limit (the broker's `maxPacketSize` still applies).
   */
  maxPacketSize?: number;
}

/** Counts a listener's connections and its connection rate (a fixed one-second window). */
export class ConnectionGate {
  readonly #max: number;
  readonly #rate: number;
  #open = 0;
  #windowStart = 0;
  #inWindow = 0;
  /** Connections refused by the limits so far. */
  refused = 0;

  constructor(limits: ListenerLimits = {}) {
    this.#max = limits.maxConnections ?? 10_000;
    this.#rate = limits.connectionRate ?? 0;
  }

  /** Open connections admitted by this gate. */
  get open(): number {
    return this.#open;
  }

  /** Admits a stream (counting it until it closes) or returns why it is refused. */
  admit(stream: Duplex): string | undefined {
    if (this.#open >= this.#max) {
      this.refused++;
      return `maxConnections (${this.#max}) reached`;
    }
    if (this.#rate > 0) {
      const now = Date.now();
      if (now - this.#windowStart >= 1000) {
        this.#windowStart = now;
        this.#inWindow = 0;
      }
      if (this.#inWindow >= this.#rate) {
        this.refused++;
        return `connectionRate (${this.#rate}/s) exceeded`;
      }
      this.#inWindow++;
    }
    this.#open++;
    stream.once('close', () => {
      this.#open--;
    });
    return undefined;
  }
}

/**
 * Follows MQTT fixed headers (type byte + Remaining Length) across chunks and finds where a packet
 * larger than `max` starts. Bodies are skipped arithmetically; only the first few body bytes of a
 * CONNECT are kept, to learn the protocol level.
 */
class PacketSizeScanner {
  readonly #max: number;
  #skip = 0; // body bytes of the current packet still to pass
  #header = 0; // 0: expecting a type byte; 1..4: reading Remaining Length bytes
  #length = 0;
  #multiplier = 1;
  #first = true;
  #connect: number[] | undefined; // the first body bytes of a CONNECT
  /** Protocol level of the CONNECT (3, 4 or 5) once seen. */
  protocolLevel: number | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /** Where in `chunk` an oversized packet starts (and its size), or undefined when all of it is fine. */
  scan(chunk: Uint8Array): { oversizedAt: number; size: number } | undefined {
    let i = 0;
    let packetStart = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const step = Math.min(this.#skip, chunk.length - i);
        if (this.#connect) this.#sniff(chunk, i, step);
        this.#skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i]!;
      if (this.#header === 0) {
        packetStart = i;
        this.#header = 1;
        this.#length = 0;
        this.#multiplier = 1;
        this.#connect = this.#first && byte >> 4 === 1 ? [] : undefined;
        this.#first = false;
        i++;
        continue;
      }
      i++;
      this.#length += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      if ((byte & 0x80) !== 0 && this.#header < 4) {
        this.#header++;
        continue;
      }
      const size = 1 + this.#header + this.#length;
      this.#header = 0;
      if (size > this.#max) return { oversizedAt: packetStart, size };
      this.#skip = this.#length;
    }
    return undefined;
  }

  #sniff(chunk: Uint8Array, from: number, count: number): void {
    const head = this.#connect!;
    for (let k = from; k < from + count && head.length < 12; k++) head.push(chunk[k]!);
    if (head.length < 2) return;
    const level = 2 + ((head[0]! << 8) | head[1]!);
    if (head.length > level) {
      this.protocolLevel = head[level];
      this.#connect = undefined;
    }
  }
}

/** DISCONNECT with reason code 0x95 Packet too large (v5). */
const DISCONNECT_PACKET_TOO_LARGE = Buffer.from([0xe0, 0x01, 0x95]);

/**
 * A connection seen through a per-listener packet size limit. Reads pass through untouched up to the
 * first byte of a packet larger than `max`; that packet never reaches the broker: a v5 client gets
 * DISCONNECT 0x95 ([MQTT-3.2.2-15] once the limit was announced in CONNACK, see
 * {@link ListenerLimitsHook}), and the connection closes. Writes go straight to the socket, and the
 * socket's backpressure shows in this stream's `writableLength`, as the broker expects.
 */
export class PacketSizeGuard extends Duplex {
  readonly #socket: Duplex;
  readonly #scanner: PacketSizeScanner;
  #tripped = false;

  /**
   * @param options.onOversize told the size of the refused packet.
   * @param options.terminate closes the transport for good (default: `socket.destroy()`); a
   *   WebSocket passes `ws.terminate()`, since destroying its stream waits for a close handshake.
   */
  constructor(
    socket: Duplex,
    max: number,
    options: { onOversize?: (size: number) => void; terminate?: () => void } = {},
  ) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#scanner = new PacketSizeScanner(max);
    socket.on('data', (chunk: Buffer) => {
      if (this.#tripped) return;
      const found = this.#scanner.scan(chunk);
      if (found === undefined) {
        if (!this.push(chunk)) socket.pause();
        return;
      }
      this.#tripped = true;
      if (found.oversizedAt > 0) this.push(chunk.subarray(0, found.oversizedAt));
      options.onOversize?.(found.size);
      // Close once the DISCONNECT is written (or at once); a second at most, whatever the transport.
      const close = () => {
        clearTimeout(timer);
        if (options.terminate) options.terminate();
        else socket.destroy();
        // The broker sees the connection close now, whether or not the transport reports it.
        this.destroy();
      };
      const timer = setTimeout(close, 1000);
      timer.unref();
      if (this.#scanner.protocolLevel === 5) socket.write(DISCONNECT_PACKET_TOO_LARGE, close);
      else close();
      this.push(null);
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    if (!this.#tripped) this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#socket.write(chunk)) callback();
    else this.#socket.once('drain', () => callback());
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    socket.cork();
    let ok = true;
    for (const { chunk } of chunks) ok = socket.write(chunk);
    socket.uncork();
    if (ok) callback();
    else socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#tripped) callback();
    else this.#socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // After a refusal the socket closes itself once the DISCONNECT 0x95 is written.
    if (!this.#tripped) this.#socket.destroy(error ?? undefined);
    callback(error);
  }
}

/**
 * Stops a server from accepting and resolves at once: `server.close()`'s own callback waits for every
 * open connection to end, but the broker closes those only after its listeners have closed.
 */
export function stopAccepting(server: { close(callback?: (error?: Error) => void): unknown }): Promise<void> {
  server.close(() => {});
  return new Promise((resolve) => setImmediate(resolve));
}

/** `host:port` of a socket's peer, as the broker logs and the ledger matches it. */
export function peerAddress(socket: Socket): string {
  const host = socket.remoteAddress ?? '';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/**
 * Hands a socket to the broker through the listener's limits. Returns false when it was refused.
 * Extra `info` fields (a TLS client's certificate name) ride along for hooks that know them.
 */
export function admitSocket(
  stream: Duplex,
  info: ConnectionInfo,
  gate: ConnectionGate,
  limits: ListenerLimits,
  accept: AcceptConnection,
  onRefused?: (reason: string) => void,
): boolean {
  const refusal = gate.admit(stream);
  if (refusal !== undefined) {
    onRefused?.(refusal);
    stream.destroy();
    return false;
  }
  accept(
    limits.maxPacketSize === undefined ? stream : new PacketSizeGuard(stream, limits.maxPacketSize),
    info,
  );
  return true;
}

/** Options of {@link NetServerListener}. */
export interface NetServerListenerOptions extends ListenerLimits {
  /** Listener id. Default 'net'. */
  id?: string;
  /** The server; it may already be listening (the host app owns it) or not. */
  server: Server;
  /**
   * Arguments for `server.listen()` when the server is not listening yet, e.g. `{ port: 1883 }`.
   * Default: none (the host app calls `listen` itself).
   */
  listen?: { port?: number; host?: string; path?: string };
  /** Close the server when the listener closes. Default: only when this listener started it. */
  closeServer?: boolean;
  /** Event carrying new sockets: 'connection' (net) or 'secureConnection' (tls). Default 'connection'. */
  event?: 'connection' | 'secureConnection';
}

/**
 * Serves MQTT on a `net.Server` (or `tls.Server`) the host application already has: the broker
 * takes every socket the server emits.
 */
export class NetServerListener implements Listener {
  readonly id: string;
  readonly gate: ConnectionGate;
  readonly #options: NetServerListenerOptions;
  #handler: ((socket: Socket) => void) | undefined;
  #started = false;

  constructor(options: NetServerListenerOptions) {
    this.id = options.id ?? 'net';
    this.#options = options;
    this.gate = new ConnectionGate(options);
  }

  /** This listener's packet size limit, if any. */
  get maxPacketSize(): number | undefined {
    return this.#options.maxPacketSize;
  }

  address(): string {
    const address = this.#options.server.address();
    if (typeof address === 'string') return `unix:${address}`;
    if (address) return `tcp://${address.address}:${address.port}`;
    return `net://${this.id}`;
  }

  async listen(accept: AcceptConnection): Promise<void> {
    const { server, event = 'connection' } = this.#options;
    this.#handler = (socket: Socket) => {
      admitSocket(
        socket,
        { remoteAddress: peerAddress(socket), listener: this.id },
        this.gate,
        this.#options,
        accept,
      );
    };
    server.on(event, this.#handler);
    if (!server.listening && this.#options.listen) {
      this.#started = true;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#options.listen, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    const { server, event = 'connection' } = this.#options;
    if (this.#handler) server.off(event, this.#handler);
    this.#handler = undefined;
    if ((this.#options.closeServer ?? this.#started) && server.listening) {
      await stopAccepting(server);
    }
  }
}

/** A listener with its own packet size limit (every listener of this package has the property). */
export interface PacketLimitedListener {
  readonly id: string;
  readonly maxPacketSize?: number | undefined;
}

/**
 * Announces each listener's own `maxPacketSize` to v5 clients in CONNACK (Maximum Packet Size) when
 * it is below the broker's, so clients know the limit that {@link PacketSizeGuard} enforces. Add it
 * to a broker whose listeners set `maxPacketSize`.
 */
export class ListenerLimitsHook implements Hook {
  readonly id = 'listener-limits';
  readonly #broker: Broker;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  onPacketEncode(client: Client, packet: Packet): Packet {
    if (packet.type !== 'connack' || client.protocolVersion !== 5) return packet;
    const listener = this.#broker.listeners.find((l) => l.id === client.listener) as
      | PacketLimitedListener
      | undefined;
    const limit = listener?.maxPacketSize;
    if (limit === undefined) return packet;
    const announced = packet.properties?.maximumPacketSize;
    if (announced !== undefined && announced <= limit) return packet;
    return { ...packet, properties: { ...packet.properties, maximumPacketSize: limit } };
  }
}
