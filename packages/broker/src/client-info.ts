import type { ProtocolVersion } from '@x/packets';

/** Where a connection is: before CONNECT, authenticating, connected, or closed. */
export type ClientState = 'new' | 'authenticating' | 'connected' | 'closed';

/**
 * What hooks and the host application see of a connection: read-only facts about it, plus `data`,
 * a free-form record hooks may keep per connection (e.g. the ACL rules resolved at CONNECT). The
 * connection itself (its socket, decoder, session link and topic aliases) stays inside the broker.
 */
export interface ClientInfo {
  /** Client identifier ('' until CONNECT is handled; the assigned one for an empty CONNECT id). */
  readonly id: string;
  readonly remoteAddress: string;
  /** Id of the listener that accepted the connection. */
  readonly listener: string;
  /** Opened by the host application with `ConnectionInfo.trusted`: ACL gates do not apply. */
  readonly trusted: boolean;
  readonly protocolVersion: ProtocolVersion;
  /** The CONNECT's User Name, or the identity the transport proved (TLS client certificate CN). */
  readonly username: string | undefined;
  readonly state: ClientState;
  /** Epoch ms of the connection. */
  readonly connectedAt: number;
  /** Epoch ms of the last bytes received. */
  readonly lastSeen: number;
  /** Keep Alive in force, seconds (0: none). */
  readonly keepalive: number;
  /** v5 Authentication Method of an enhanced-authentication connection. */
  readonly authenticationMethod: string | undefined;
  /** Bytes waiting to be sent to this client. */
  readonly bufferedBytes: number;
  /** Per-connection storage for hooks, made on first use. */
  readonly data: Record<string, unknown>;
}
