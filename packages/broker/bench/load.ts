import { connect, type Socket } from 'node:net';
import { encode } from '@x/packets';

/**
 * A small MQTT 3.1.1 load generator on raw sockets, the same for every broker: it encodes each
 * client's PUBLISH once and counts incoming packets by their fixed header only, so the generator
 * spends as little CPU as possible on a machine it shares with the broker.
 */
export class LoadClient {
  readonly socket: Socket;
  /** PUBLISH packets received. */
  publishes = 0;
  #head = 0; // bytes of the current packet's fixed header seen
  #first = 0;
  #length = 0;
  #multiplier = 1;
  #remaining = -1; // body bytes still to skip, -1 while reading the header
  #waiting: { type: number; resolve: () => void } | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#scan(chunk));
    socket.on('error', () => {});
  }

  static async connect(port: number, clientId: string): Promise<LoadClient> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new LoadClient(socket);
    const connack = client.#expect(2);
    socket.write(encode({ type: 'connect', protocolVersion: 4, clientId, clean: true, keepalive: 0 }, 4));
    await connack;
    return client;
  }

  async subscribe(topicFilter: string): Promise<void> {
    const suback = this.#expect(9);
    this.socket.write(
      encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos: 0 }] }, 4),
    );
    await suback;
  }

  /** Writes `count` copies of one QoS 0 PUBLISH, in batches, respecting the socket's backpressure. */
  async publishMany(topic: string, payload: Buffer, count: number, batch = 200): Promise<void> {
    const one = encode({ type: 'publish', topic, payload, qos: 0, retain: false, dup: false }, 4);
    const block = Buffer.concat(Array.from({ length: batch }, () => one));
    let left = count;
    while (left > 0) {
      const n = Math.min(batch, left);
      const ok = this.socket.write(n === batch ? block : block.subarray(0, n * one.length));
      left -= n;
      if (!ok) await new Promise((r) => this.socket.once('drain', r));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #expect(type: number): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting = { type, resolve };
    });
  }

  #scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining < 0) {
        const byte = chunk[i++]!;
        if (this.#head === 0) {
          this.#first = byte;
          this.#length = 0;
          this.#multiplier = 1;
          this.#head = 1;
          continue;
        }
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        if ((byte & 0x80) === 0) {
          this.#remaining = this.#length;
          this.#head = 0;
          const type = this.#first >> 4;
          if (type === 3) this.publishes++;
          else if (this.#waiting?.type === type) {
            const w = this.#waiting;
            this.#waiting = undefined;
            w.resolve();
          }
        }
      } else {
        const skip = Math.min(this.#remaining, chunk.length - i);
        i += skip;
        this.#remaining -= skip;
      }
      if (this.#remaining === 0) this.#remaining = -1;
    }
  }
}
