import { Duplex } from 'node:stream';
import type { AcceptConnection, Listener } from './listener.js';

/**
 * An in-process listener for tests and embedding: `connect()` returns the client end of a duplex
 * pair whose other end the broker serves. No sockets, no ports.
 */
export class MemoryListener implements Listener {
  readonly id: string;
  #accept: AcceptConnection | undefined;
  #count = 0;

  constructor(id = 'memory') {
    this.id = id;
  }

  address(): string {
    return `memory://${this.id}`;
  }

  listen(accept: AcceptConnection): Promise<void> {
    this.#accept = accept;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#accept = undefined;
    return Promise.resolve();
  }

  /** Opens a connection to the broker; write MQTT bytes to the returned stream, read its replies. */
  connect(): Duplex {
    if (!this.#accept) throw new Error(`memory listener ${this.id} is not listening`);
    const [client, server] = duplexPair();
    this.#accept(server, { remoteAddress: `memory:${++this.#count}`, listener: this.id });
    return client;
  }
}

/** Two connected in-memory duplex streams: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a: Duplex;
  let b: Duplex;
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.destroyed) other.push(null);
        callback(error);
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}
