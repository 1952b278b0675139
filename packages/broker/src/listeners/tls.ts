import { readFileSync } from 'node:fs';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { AcceptConnection, ConnectionInfo, Listener, RefuseConnection } from './listener.js';
import {
  admitSocket,
  ConnectionGate,
  type ListenerLimits,
  listenOn,
  peerAddress,
  stopAccepting,
} from './net-server.js';

/** Certificate settings shared by the TLS and secure WebSocket listeners. */
export interface TlsOptions {
  /** PEM certificate chain (contents), or `certFile`. */
  cert?: string | Buffer;
  certFile?: string;
  /** PEM private key (contents), or `keyFile`. */
  key?: string | Buffer;
  keyFile?: string;
  /** PEM CA bundle to verify client certificates (contents), or `caFile`. */
  ca?: string | Buffer;
  caFile?: string;
  /** Ask clients for a certificate. Default false. */
  requestCert?: boolean;
  /** With `requestCert`: refuse clients whose certificate does not verify against `ca`. Default true. */
  rejectUnauthorized?: boolean;
  /**
   * Use the client certificate's subject CN as the MQTT user name (the CONNECT's user name is
   * replaced). Needs `requestCert`. Default false.
   */
  cnAsUsername?: boolean;
}

/** Reads the certificate files of {@link TlsOptions} into `tls.createServer` options. */
export function secureContextOptions(options: TlsOptions): SecureContextOptions & {
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  const cert = options.cert ?? (options.certFile ? readFileSync(options.certFile) : undefined);
  const key = options.key ?? (options.keyFile ? readFileSync(options.keyFile) : undefined);
  if (!cert || !key)
    throw new Error('a TLS listener needs a certificate and a private key (cert/key or certFile/keyFile)');
  const ca = options.ca ?? (options.caFile ? readFileSync(options.caFile) : undefined);
  return {
    cert,
    key,
    ...(ca ? { ca } : {}),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  };
}

/** The certificate CN of a verified TLS client, or undefined. */
export function certificateName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[] } | undefined;
  const cn = subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** Options of {@link TlsListener}. */
export interface TlsListenerOptions extends TlsOptions, ListenerLimits {
  /** Default 'tls'. */
  id?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 picks a free port. Default 8883. */
  port?: number;
}

/** MQTT over TLS, with optional client certificates whose CN can serve as the user name. */
export class TlsListener implements Listener {
  readonly id: string;
  readonly gate: ConnectionGate;
  readonly #options: TlsListenerOptions;
  readonly #host: string;
  #port: number;
  #server: Server | undefined;

  constructor(options: TlsListenerOptions) {
    this.id = options.id ?? 'tls';
    this.#options = options;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 8883;
    this.gate = new ConnectionGate(options);
    // Read the files now, so a missing certificate fails at configuration time, not at start.
    secureContextOptions(options);
  }

  /** The bound port (the real one after `listen` when 0 was asked). */
  get port(): number {
    return this.#port;
  }

  /** This listener's packet size limit, if any. */
  get maxPacketSize(): number | undefined {
    return this.#options.maxPacketSize;
  }

  address(): string {
    return `mqtts://${this.#host}:${this.#port}`;
  }

  listen(accept: AcceptConnection, refused?: RefuseConnection): Promise<void> {
    const server = createServer(secureContextOptions(this.#options), (socket) => {
      socket.setNoDelay(true);
      const info: ConnectionInfo = { remoteAddress: peerAddress(socket), listener: this.id };
      if (this.#options.cnAsUsername) info.username = certificateName(socket);
      admitSocket(socket, info, this.gate, this.#options, accept, refused);
    });
    // A failed handshake is the client's problem; it must not reach the process as an error.
    server.on('tlsClientError', () => {});
    this.#server = server;
    return listenOn(server, this.#port, this.#host).then((port) => {
      this.#port = port;
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    return stopAccepting(server);
  }
}
