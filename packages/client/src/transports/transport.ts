/**
 * The byte pipe under a client connection. One interface, one implementation per medium:
 * TCP, TLS, Unix socket and WebSocket in Node (`node.ts`), WebSocket in browsers (`browser.ts`).
 */

/** Where to connect, parsed from the URL given to `connect()`. */
export interface Endpoint {
  protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss' | 'unix';
  host: string;
  port: number;
  /** WebSocket path (with query), or the socket path for 'unix'. */
  path: string;
  /** The URL as given, for messages and WebSocket. */
  href: string;
}

/** Callbacks the transport calls. `close` is called exactly once, after `open` resolved. */
export interface TransportHandlers {
  data(chunk: Uint8Array): void;
  /** Writes may go on again after `write()` returned false. */
  drain(): void;
  close(error?: Error): void;
}

/** An open byte pipe. */
export interface Transport {
  /** Queues bytes; false means "slow down": wait for `drain` before writing much more. */
  write(chunk: Uint8Array): boolean;
  /** Closes after the queued bytes are written. */
  end(): void;
  /** Closes now. */
  destroy(): void;
  /**
   * True when the chunks given to `data()` are only valid during the call (a read buffer the
   * transport reuses): the receiver copies whatever it keeps.
   */
  readonly borrowsChunks?: boolean;
  /**
   * Reads nothing more for about `ms` milliseconds (called from within `data()`): while messages
   * stream in, the next read then takes a batch instead of a few. Optional; a transport that
   * cannot pause simply lacks it.
   */
  holdReads?(ms: number): void;
}

/** Options the transports understand (TLS material, WebSocket options). */
export interface TransportOptions {
  /** TLS: trusted CA certificates (PEM). */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** TLS: client certificate (PEM). */
  cert?: string | Uint8Array;
  /** TLS: client private key (PEM). */
  key?: string | Uint8Array;
  /** TLS: verify the server certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** TLS: SNI server name. Default: the URL's host name when it is not an IP address. */
  servername?: string;
  /**
   * Node TCP/TLS: disable Nagle's algorithm. Default true: the client already gathers the packets
   * of one event-loop turn into one write, and Nagle would delay small packets (acknowledgements,
   * PINGREQ) by up to a delayed-ACK interval.
   */
  noDelay?: boolean;
  /** Node only: extra options passed to the `ws` package's WebSocket constructor. */
  wsOptions?: Record<string, unknown>;
}

/** Opens a transport; rejects when the connection cannot be established. */
export type OpenTransport = (
  endpoint: Endpoint,
  options: TransportOptions,
  handlers: TransportHandlers,
) => Promise<Transport>;

const DEFAULT_PORTS = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443, unix: 0 } as const;
const ALIASES: Record<string, Endpoint['protocol']> = {
  'mqtt:': 'mqtt',
  'tcp:': 'mqtt',
  'mqtts:': 'mqtts',
  'ssl:': 'mqtts',
  'tls:': 'mqtts',
  'ws:': 'ws',
  'wss:': 'wss',
  'unix:': 'unix',
};

/**
 * Parses `mqtt://host:port`, `mqtts://`, `ws://host:port/path`, `wss://`, `unix:///path/to.sock`
 * (and `tcp:`, `ssl:`, `tls:` aliases). A string starting with `/` or `.` is a Unix socket path.
 */
export function parseEndpoint(url: string): Endpoint {
  if (url.startsWith('/') || url.startsWith('./') || url.startsWith('../')) {
    return { protocol: 'unix', host: '', port: 0, path: url, href: url };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new TypeError(`invalid broker URL: ${JSON.stringify(url)}`, { cause });
  }
  const protocol = ALIASES[parsed.protocol];
  if (!protocol) throw new TypeError(`unsupported URL scheme ${parsed.protocol} in ${url}`);
  if (protocol === 'unix') {
    return { protocol, host: '', port: 0, path: decodeURIComponent(parsed.pathname), href: url };
  }
  // URL keeps IPv6 brackets in hostname; sockets want the bare address.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[protocol];
  return { protocol, host, port, path: `${parsed.pathname || '/'}${parsed.search}`, href: url };
}

/** A server to connect to: a URL, or MQTT.js's `{ host, port, protocol }` form. */
export type ServerAddress =
  | string
  | {
      host: string;
      /** Default: the protocol's port (1883, 8883, 80, 443). */
      port?: number;
      /** `mqtt`, `mqtts`, `ws`, `wss` (and `tcp`, `ssl`, `tls`). Default: the URL's, or `mqtt`. */
      protocol?: string;
      /** WebSocket path. Default: the URL's, or `/`. */
      path?: string;
    };

/**
 * The servers to try in turn: the URL (when given), then `servers`. An object inherits the
 * protocol and WebSocket path of the URL.
 */
export function serverEndpoints(url: string | undefined, servers: readonly ServerAddress[] = []): Endpoint[] {
  const base = url === undefined ? undefined : parseEndpoint(url);
  const endpoints = base ? [base] : [];
  for (const server of servers) {
    if (typeof server === 'string') {
      endpoints.push(parseEndpoint(server));
      continue;
    }
    if (typeof server?.host !== 'string' || server.host === '') {
      throw new TypeError(`servers: ${JSON.stringify(server)} has no host`);
    }
    const protocol = server.protocol
      ? ALIASES[`${server.protocol.replace(/:$/, '')}:`]
      : (base?.protocol ?? 'mqtt');
    if (!protocol || protocol === 'unix')
      throw new TypeError(`servers: unsupported protocol ${server.protocol}`);
    const port = server.port ?? DEFAULT_PORTS[protocol];
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new TypeError(`servers: port ${server.port} of ${server.host} is not 1 to 65535`);
    }
    const host = server.host.replace(/^\[(.*)\]$/, '$1');
    const path = server.path ?? base?.path ?? '/';
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const href = `${protocol}://${hostPart}:${port}${protocol.startsWith('ws') ? path : ''}`;
    endpoints.push({ protocol, host, port, path, href });
  }
  if (endpoints.length === 0) throw new TypeError('no server: give a URL or servers');
  return endpoints;
}

/** A Server Reference is free-form (section 4.11); accept a URL or `host[:port]`. */
export function redirectEndpoint(current: Endpoint, reference: string): Endpoint {
  const first = reference.split(/[\s,]+/)[0] ?? '';
  if (/^[a-z]+:\/\//i.test(first)) return parseEndpoint(first);
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(first);
  if (!match) throw new TypeError(`cannot use Server Reference ${JSON.stringify(reference)}`);
  const host = (match[1] as string).replace(/^\[(.*)\]$/, '$1');
  const port = match[2] ? Number(match[2]) : current.port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const href = `${current.protocol}://${hostPart}:${port}${current.protocol.startsWith('ws') ? current.path : ''}`;
  return { ...current, host, port, href };
}
