import { Duplex } from 'node:stream';
import type { Broker } from '@x/broker';
import type { OpenTransport, Transport } from '@x/client';

/** Listener id of the bridges' in-process connections to their own broker. */
export const BRIDGE_LISTENER = '$bridge';

/**
 * Two connected in-memory streams with backpressure both ways: a write completes only once the
 * other end has read the bytes, so a bridge that stops reading makes the broker see a slow client
 * (its QoS 1/2 messages then wait in the bridge's session queue, bounded by the broker's limits).
 *
 * ```
 *   bridge ──write──▶ push into broker end ──read()──▶ write callback
 *   broker ──write──▶ push into bridge end ──read()──▶ write callback (held while the bridge pauses)
 * ```
 */
function flowPair(): [Duplex, Duplex] {
  const waiting = new Map<Duplex, () => void>();
  let a: Duplex;
  let b: Duplex;
  const make = (peer: () => Duplex) => {
    const self: Duplex = new Duplex({
      read() {
        const resume = waiting.get(self);
        waiting.delete(self);
        resume?.();
      },
      write(chunk: Buffer, _encoding, callback) {
        const other = peer();
        if (other.destroyed) return callback();
        if (other.push(chunk)) callback();
        else waiting.set(other, callback);
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        waiting.get(self)?.();
        waiting.delete(self);
        if (!other.destroyed) other.destroy();
        callback(error);
      },
    });
    return self;
  };
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}

/**
 * The bridge's connection to its own broker: an `@x/client` transport that hands the broker end of a
 * {@link flowPair} to `broker.accept`, as a listener would. `pause()`/`resume()` stop and restart
 * reading what the broker sends.
 */
export class LocalLink {
  readonly #broker: Broker;
  readonly #name: string;
  #stream: Duplex | undefined;
  #paused = false;

  constructor(broker: Broker, name: string) {
    this.#broker = broker;
    this.#name = name;
  }

  readonly open: OpenTransport = (_endpoint, _options, handlers) => {
    const [mine, theirs] = flowPair();
    this.#stream = mine;
    if (this.#paused) mine.pause();
    let closed = false;
    const close = (error?: Error) => {
      if (closed) return;
      closed = true;
      if (this.#stream === mine) this.#stream = undefined;
      handlers.close(error);
    };
    mine.on('data', (chunk: Buffer) => handlers.data(chunk));
    mine.on('drain', () => handlers.drain());
    mine.on('end', () => close());
    mine.on('close', () => close());
    mine.on('error', (error) => close(error));
    this.#broker.accept(theirs, {
      remoteAddress: `bridge:${this.#name}`,
      listener: BRIDGE_LISTENER,
      trusted: true,
    });
    const transport: Transport = {
      write: (chunk) => mine.write(chunk),
      end: () => mine.end(),
      destroy: () => mine.destroy(),
    };
    return Promise.resolve(transport);
  };

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
    this.#stream?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#stream?.resume();
  }
}
