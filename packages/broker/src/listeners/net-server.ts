import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
 * Watches the bytes a client sends, next to the broker's own reader, and closes the connection as
 * soon as a fixed header announces a packet larger than `max`. It only follows the fixed headers
 * (type byte + Remaining Length) and skips bodies arithmetically: nothing is copied or buffered
 * beyond at most 4 header bytes.
 */
export function guardPacketSize(stream: Duplex, max: number, onOversize: (size: number) => void): void {
  let skip = 0; // body bytes of the current packet still to pass
  let header = 0; // 0: expecting a type byte; 1..4: reading Remaining Length bytes
  let length = 0;
  let multiplier = 1;
  let tripped = false;
  stream.on('data', (chunk: Uint8Array) => {
    if (tripped) return;
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const step = Math.min(skip, chunk.length - i);
        skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++]!;
      if (header === 0) {
        header = 1;
        length = 0;
        multiplier = 1;
        continue;
      }
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) !== 0 && header < 4) {
        header++;
        continue;
      }
      const size = 1 + header + length;
      header = 0;
      if (size > max) {
        tripped = true;
        onOversize(size);
        return;
      }
      skip = length;
    }
  });
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
  if (limits.maxPacketSize !== undefined) {
    guardPacketSize(stream, limits.maxPacketSize, () => stream.destroy());
  }
  accept(stream, info);
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
