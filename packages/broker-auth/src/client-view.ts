/**
 * The fields of a connection the auth hooks read. The broker hands hooks a read-only view of its
 * client; this is the part of it these hooks rely on, so they work with any view carrying it.
 */
export interface AuthClient {
  readonly id: string;
  readonly username: string | undefined;
  /** `host:port`, `[v6]:port`, or `unix:…` / `memory:…`. */
  readonly remoteAddress: string;
  /** Name of the listener the client came in on. */
  readonly listener: string;
  readonly protocolVersion: number;
  /** Per-connection data owned by the hooks. */
  readonly data: Record<string, unknown>;
}
