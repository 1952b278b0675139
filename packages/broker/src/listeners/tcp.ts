import { createServer, type Server, type Socket } from 'node:net';
import type { AcceptConnection, Listener } from './listener.js';
import { listenOn } from './net-server.js';

export interface TcpListenerOptions {
  /** Default 'tcp'. */
  id?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 picks a free port (read it back with `port`). Default 1883. */
  port?: number;
}

/** Plain MQTT over TCP. */
export class TcpListener implements Listener {
  readonly id: string;
  readonly #host: string;
  #port: number;
  #server: Server | undefined;

  constructor(options: TcpListenerOptions = {}) {
    this.id = options.id ?? 'tcp';
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 1883;
  }

  /** The bound port (the real one after `listen` when 0 was asked). */
  get port(): number {
    return this.#port;
  }

  address(): string {
    return `tcp://${this.#host}:${this.#port}`;
  }

  listen(accept: AcceptConnection): Promise<void> {
    const server = createServer({ noDelay: true }, (socket: Socket) => {
      accept(socket, {
        remoteAddress: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`,
        listener: this.id,
      });
    });
    this.#server = server;
    return listenOn(server, this.#port, this.#host).then((port) => {
      this.#port = port;
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
