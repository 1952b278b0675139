import { existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import type { AcceptConnection, Listener, RefuseConnection } from './listener.js';
import { admitSocket, ConnectionGate, type ListenerLimits, stopAccepting } from './net-server.js';

/** Options of {@link UnixListener}. */
export interface UnixListenerOptions extends ListenerLimits {
  /** Default 'unix'. */
  id?: string;
  /** Path of the socket file. */
  path: string;
}

function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** MQTT over a Unix domain socket. A stale socket file left by a crashed process is replaced. */
export class UnixListener implements Listener {
  readonly id: string;
  readonly path: string;
  readonly gate: ConnectionGate;
  readonly #options: UnixListenerOptions;
  #server: Server | undefined;
  #count = 0;

  constructor(options: UnixListenerOptions) {
    this.id = options.id ?? 'unix';
    this.path = options.path;
    this.#options = options;
    this.gate = new ConnectionGate(options);
  }

  /** This listener's packet size limit, if any. */
  get maxPacketSize(): number | undefined {
    return this.#options.maxPacketSize;
  }

  address(): string {
    return `unix:${this.path}`;
  }

  async listen(accept: AcceptConnection, refused?: RefuseConnection): Promise<void> {
    if (existsSync(this.path)) {
      if (await inUse(this.path)) throw new Error(`${this.path} is in use by another process`);
      unlinkSync(this.path);
    }
    const server = createServer((socket) => {
      // Unix sockets have no remote address; number the connections so logs can tell them apart.
      admitSocket(
        socket,
        { remoteAddress: `unix:${++this.#count}`, listener: this.id },
        this.gate,
        this.#options,
        accept,
        refused,
      );
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    // net.Server removes its socket file when the listening handle closes.
    return stopAccepting(server);
  }
}
