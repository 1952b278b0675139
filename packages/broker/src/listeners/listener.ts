import type { Duplex } from 'node:stream';

/** Where a connection came from, as the listener that accepted it saw it. */
export interface ConnectionInfo {
  /** Remote address, e.g. '127.0.0.1:53211'. */
  remoteAddress: string;
  /** Id of the listener that accepted it. */
  listener: string;
}

/** Called by a listener for every accepted connection. */
export type AcceptConnection = (stream: Duplex, info: ConnectionInfo) => void;

/**
 * Anything that hands the broker duplex byte streams: TCP, TLS, WebSocket, a Unix socket, memory.
 * The broker calls `listen` once on `start()` (or when added to a started broker) and `close` on
 * `close()`; the listener stops accepting on close, the broker closes the connections.
 */
export interface Listener {
  /** Unique among a broker's listeners. */
  readonly id: string;
  /** Human-readable address for logs, e.g. 'tcp://127.0.0.1:1883'. */
  address(): string;
  listen(accept: AcceptConnection): Promise<void>;
  close(): Promise<void>;
}
