import { connect, type Socket } from 'node:net';
import { encode, FrameReader } from '@x/packets';

/**
 * A small MQTT 3.1.1 load generator on raw sockets, the same for every broker: it encodes each
 * client's PUBLISH once and counts incoming packets by their fixed header only (the frames of
 * @x/packets' FrameReader, never decoded), so the generator spends as little CPU as possible on a
 * machine it shares with the broker.
 */
export class LoadClient {
  readonly socket: Socket;
  /** PUBLISH packets received. */
  publishes = 0;
  readonly #reader = new FrameReader((first) => this.#onFrame(first >> 4));
  #waiting: { type: number; resolve: () => void } | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (error) {
        // A malformed stream cannot be read on: drop the connection.
        socket.destroy(error as Error);
      }
    });
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

  #onFrame(type: number): void {
    if (type === 3) this.publishes++;
    else if (this.#waiting?.type === type) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w.resolve();
    }
  }
}
