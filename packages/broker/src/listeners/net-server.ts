import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AcceptConnection, ConnectionInfo, Listener, RefuseConnection } from './listener.js';

/** Limits every socket listener enforces before the broker sees a connection. */
export interface ListenerLimits {
  /**
   * Simultaneous connections on this listener; beyond it new ones are closed at once. Default: no
   * limit of its own (the broker's `maxConnections`, over all listeners, still applies).
   */
  maxConnections?: number;
  /** New connections per second on this listener; beyond it they are closed at once. 0: no limit. Default 0. */
  connectionRate?: number;
  /**
   * Largest MQTT packet read on this listener, in bytes, when below the broker's `maxPacketSize`: it
   * is announced to v5 clients in CONNACK, and a connection sending a larger packet is closed (v5:
   * DISCONNECT 0x95). Default: the broker's `maxPacketSize`.
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
  /**
   * Ends the count of one connection admitted by `take` (call once, when it closed). One function
   * per gate, shared by its connections: a closure per connection would cost heap on each.
   */
  readonly release = (): void => {
    this.#open--;
  };

  constructor(limits: ListenerLimits = {}) {
    this.#max = limits.maxConnections ?? Number.POSITIVE_INFINITY;
    this.#rate = limits.connectionRate ?? 0;
  }

  /** Open connections admitted by this gate. */
  get open(): number {
    return this.#open;
  }

  /**
   * Admits a stream (counting it until it closes) or returns why it is refused. It listens for the
   * stream's 'close': for a stream the broker does not read itself (a WebSocket's socket).
   */
  admit(stream: Duplex): string | undefined {
    const refusal = this.take();
    if (refusal === undefined) stream.on('close', this.release);
    return refusal;
  }

  /**
   * Admits one connection, counted until `release` is called, or returns why it is refused. For a
   * stream handed to the broker, which calls `release` through `ConnectionInfo.onClose`: the
   * broker's own 'close' listener is then the stream's only one (two would make Node keep an array of
   * listeners, 64 bytes more on every connection).
   */
  take(): string | undefined {
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
    return undefined;
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

/**
 * Binds a server to `host:port` and resolves with the port it got (the OS picks one for port 0);
 * rejects with the bind error (EADDRINUSE, EACCES) instead of letting it reach the process.
 */
export function listenOn(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * `host:port` of a socket's peer, as the broker logs and the ledger matches it. Kept for the
 * connection's life, so it is made small: `join` makes one flat string where a template literal
 * makes a chain of three (about 90 bytes more per connection), and the `{ address, family, port }`
 * that Node caches on the socket when its peer is read once (about 70 bytes) is let go — the
 * connection keeps this string instead.
 */
export function peerAddress(socket: Socket): string {
  const host = socket.remoteAddress ?? '';
  const address = [host.includes(':') ? `[${host}]` : host, socket.remotePort ?? 0].join(':');
  if ('_peername' in socket) (socket as { _peername?: unknown })._peername = undefined;
  return address;
}

/**
 * Hands a socket to the broker through the listener's limits. Returns false when it was refused.
 * The packet size limit rides along in `info` for the connection's decoder.
 */
export function admitSocket(
  stream: Duplex,
  info: ConnectionInfo,
  gate: ConnectionGate,
  limits: ListenerLimits,
  accept: AcceptConnection,
  refused?: RefuseConnection,
): boolean {
  const refusal = gate.take();
  if (refusal !== undefined) {
    refused?.(info, refusal);
    stream.destroy();
    return false;
  }
  accept(stream, {
    ...info,
    maxPacketSize: limits.maxPacketSize ?? info.maxPacketSize,
    onClose: gate.release,
  });
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

  async listen(accept: AcceptConnection, refused?: RefuseConnection): Promise<void> {
    const { server, event = 'connection' } = this.#options;
    this.#handler = (socket: Socket) => {
      admitSocket(
        socket,
        { remoteAddress: peerAddress(socket), listener: this.id },
        this.gate,
        this.#options,
        accept,
        refused,
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
