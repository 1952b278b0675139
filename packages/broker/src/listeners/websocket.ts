import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { createWebSocketStream as CreateWebSocketStream, WebSocketServer } from 'ws';
import type { AcceptConnection, ConnectionInfo, Listener, RefuseConnection } from './listener.js';
import { ConnectionGate, type ListenerLimits, listenOn, stopAccepting } from './net-server.js';
import { certificateName, secureContextOptions, type TlsOptions } from './tls.js';

/** Options of {@link WebSocketListener}. */
export interface WebSocketListenerOptions extends ListenerLimits {
  /** Default 'ws' (or 'wss' with `tls`). */
  id?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 picks a free port. Default 1882 (8884 with `tls`). */
  port?: number;
  /** Request path to serve; `null` serves every path. Default '/mqtt'. */
  path?: string | null;
  /** Serve `wss://` with these certificates. */
  tls?: TlsOptions;
  /** Take the client address from the first `X-Forwarded-For` entry (behind a reverse proxy). Default false. */
  trustProxy?: boolean;
  /**
   * Origins (`https://app.example.com`) whose pages may open MQTT connections. A browser sends the
   * page's Origin with every WebSocket request, so without this list any web page open on the
   * machine could talk to the broker: requests carrying an Origin not listed are refused (403).
   * Requests without an Origin (non-browser clients) are served. `['*']` allows every origin.
   * Default: none allowed.
   */
  allowedOrigins?: readonly string[];
  /**
   * Largest WebSocket message accepted, in bytes; a larger one closes the connection (1009) before it
   * is buffered. Default: the listener's `maxPacketSize` (or 1 MiB) plus 1 KiB for framing.
   */
  maxFrameSize?: number;
}

/**
 * MQTT subprotocol names a client may offer ([MQTT-6.0.0-3]: 'mqtt'), in order of preference: the
 * one selected is returned [MQTT-6.0.0-4].
 */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/** What the listener uses of ws. */
interface WebSocketParts {
  wss: WebSocketServer;
  createWebSocketStream: typeof CreateWebSocketStream;
}

function reject(socket: Socket, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

/** MQTT over WebSocket (`ws://`) or secure WebSocket (`wss://`), binary frames, `mqtt` subprotocol. */
export class WebSocketListener implements Listener {
  readonly id: string;
  readonly gate: ConnectionGate;
  readonly #options: WebSocketListenerOptions;
  readonly #host: string;
  readonly #path: string | null;
  #port: number;
  #server: Server | undefined;
  /**
   * ws (about 2.5 MB of RSS), loaded by the first WebSocket request: a listener nobody connects to
   * never loads it. `listen` checks that it can be found, so a missing package still fails the start.
   */
  #ws: Promise<WebSocketParts> | undefined;
  #wsLoaded: WebSocketParts | undefined;

  constructor(options: WebSocketListenerOptions = {}) {
    this.#options = options;
    this.id = options.id ?? (options.tls ? 'wss' : 'ws');
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? (options.tls ? 8884 : 1882);
    this.#path = options.path === undefined ? '/mqtt' : options.path;
    this.gate = new ConnectionGate(options);
    if (options.tls) secureContextOptions(options.tls);
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
    return `${this.#options.tls ? 'wss' : 'ws'}://${this.#host}:${this.#port}${this.#path ?? '/'}`;
  }

  #remote(request: IncomingMessage): string {
    if (this.#options.trustProxy) {
      const forwarded = request.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return `${first.includes(':') ? `[${first}]` : first}:0`;
    }
    const host = request.socket.remoteAddress ?? '';
    return `${host.includes(':') ? `[${host}]` : host}:${request.socket.remotePort ?? 0}`;
  }

  /**
   * ws's server for this listener, made by the first WebSocket request. Rejects when the listener
   * is closed, or was closed while ws loaded: no server is made for it, and the requests that
   * waited are refused, not accepted after `close`.
   */
  #loadWs(): Promise<WebSocketParts> {
    const server = this.#server;
    if (server === undefined) return Promise.reject(new Error('the listener was closed'));
    this.#ws ??= import('ws').then(({ createWebSocketStream, WebSocketServer }) => {
      if (this.#server !== server) throw new Error('the listener was closed');
      // Without a cap ws would buffer up to 100 MiB per message before the MQTT decoder sees a byte,
      // even from a client that never sends CONNECT.
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: this.#options.maxFrameSize ?? (this.#options.maxPacketSize ?? 1024 * 1024) + 1024,
        handleProtocols: (protocols) => SUBPROTOCOLS.find((p) => protocols.has(p)) ?? false,
      });
      this.#wsLoaded = { wss, createWebSocketStream };
      return this.#wsLoaded;
    });
    return this.#ws;
  }

  async listen(accept: AcceptConnection, refused?: RefuseConnection): Promise<void> {
    createRequire(import.meta.url).resolve('ws');
    const tls = this.#options.tls;
    const server = tls ? createHttpsServer(secureContextOptions(tls)) : createHttpServer();
    const upgrade = (
      { wss, createWebSocketStream }: WebSocketParts,
      request: IncomingMessage,
      socket: Socket,
      head: Buffer,
    ) => {
      wss.handleUpgrade(request, socket, head, (ws) => {
        const info: ConnectionInfo = { remoteAddress: this.#remote(request), listener: this.id };
        if (tls?.cnAsUsername) info.username = certificateName(request.socket as TLSSocket);
        if (this.#options.maxPacketSize !== undefined) info.maxPacketSize = this.#options.maxPacketSize;
        accept(createWebSocketStream(ws), info);
      });
    };
    server.on('request', (_request, response) => {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      response.end('MQTT over WebSocket: connect with a WebSocket client and the "mqtt" subprotocol\n');
    });
    server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
      const path = (request.url ?? '/').split('?')[0];
      if (this.#path !== null && path !== this.#path) {
        reject(socket, 404, 'Not Found');
        return;
      }
      const origin = request.headers.origin;
      const allowed = this.#options.allowedOrigins ?? [];
      if (origin !== undefined && !allowed.includes('*') && !allowed.includes(origin)) {
        reject(socket, 403, 'Forbidden');
        return;
      }
      const refusal = this.gate.admit(socket);
      if (refusal !== undefined) {
        refused?.({ remoteAddress: this.#remote(request), listener: this.id }, refusal);
        reject(socket, 503, 'Service Unavailable');
        return;
      }
      if (this.#wsLoaded) {
        upgrade(this.#wsLoaded, request, socket, head);
        return;
      }
      // The HTTP server has let go of the socket: until ws takes it, an error must not go unheard.
      const destroy = () => socket.destroy();
      socket.on('error', destroy);
      this.#loadWs().then(
        (parts) => {
          socket.off('error', destroy);
          if (!socket.destroyed) upgrade(parts, request, socket, head);
        },
        () =>
          this.#server === undefined
            ? reject(socket, 503, 'Service Unavailable')
            : reject(socket, 500, 'Internal Server Error'),
      );
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    this.#server = server;
    return listenOn(server, this.#port, this.#host).then((port) => {
      this.#port = port;
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#wsLoaded?.wss.close();
    this.#wsLoaded = undefined;
    this.#ws = undefined;
    if (!server) return Promise.resolve();
    // The broker closes the MQTT connections (and with them the WebSockets); stop accepting here.
    return stopAccepting(server);
  }
}
