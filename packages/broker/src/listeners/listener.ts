import type { Duplex } from 'node:stream';

/** Where a connection came from, as the listener that accepted it saw it. */
export interface ConnectionInfo {
  /** Remote address, e.g. '127.0.0.1:53211'. */
  remoteAddress: string;
  /** Id of the listener that accepted it. */
  listener: string;
  /**
   * The listener's own limit on packets read, in bytes, fixed header included. The connection's
   * decoder enforces the smaller of it and the broker's `maxPacketSize` (a larger packet: v5
   * DISCONNECT 0x95), and v5 clients are told it in CONNACK (Maximum Packet Size).
   */
  maxPacketSize?: number | undefined;
  /**
   * An identity the transport established (e.g. a verified TLS client certificate's CN, when the
   * listener is configured to use it): it replaces the CONNECT's User Name, so authentication and
   * ACL hooks see it as `client.username`.
   */
  username?: string | undefined;
  /**
   * A connection the host application opened to its own broker (e.g. a bridge's link): no ACL gate
   * applies to its PUBLISHes, SUBSCRIBEs or deliveries, as none applies to `Broker.publish`. Never set
   * it for network listeners. Default false.
   */
  trusted?: boolean | undefined;
  /**
   * Called once when the connection is over: when its stream has closed, or at once when the broker
   * refuses it. A listener counts its open connections with it (see `ConnectionGate.take`).
   */
  onClose?: (() => void) | undefined;
}

/** Called by a listener for every accepted connection. */
export type AcceptConnection = (stream: Duplex, info: ConnectionInfo) => void;

/**
 * Called by a listener for every connection it closed at once for one of its own limits
 * (`maxConnections`, `connectionRate`), with the limit's message, so the broker can count and log it.
 */
export type RefuseConnection = (info: ConnectionInfo, reason: string) => void;

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
  listen(accept: AcceptConnection, refused?: RefuseConnection): Promise<void>;
  close(): Promise<void>;
}
