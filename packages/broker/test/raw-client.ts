import { connect, type Socket } from 'node:net';
import { Decoder, encode, type Packet, type ProtocolVersion } from '@x/packets';

/**
 * A minimal MQTT peer over a real socket for byte-precise tests: sends packets (or raw bytes) and
 * collects decoded replies, so tests can assert exactly what the broker sent and when it closed.
 */
export class RawClient {
  readonly socket: Socket;
  readonly received: Packet[] = [];
  readonly version: ProtocolVersion;
  closed = false;
  #decoder: Decoder;
  #waiters: Array<() => void> = [];
  readonly #ready: Promise<void>;

  constructor(port: number, version: ProtocolVersion = 5) {
    this.version = version;
    this.#decoder = new Decoder({ protocolVersion: version });
    this.socket = connect({ host: '127.0.0.1', port });
    this.#ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk) => {
      for (const p of this.#decoder.push(chunk)) this.received.push(p);
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    this.socket.on('error', () => {});
  }

  static async open(port: number, version: ProtocolVersion = 5): Promise<RawClient> {
    const c = new RawClient(port, version);
    await c.#ready;
    return c;
  }

  /** Opens a connection and completes CONNECT; returns the client and its CONNACK. */
  static async connect(
    port: number,
    connect: Partial<Extract<Packet, { type: 'connect' }>> & { clientId: string },
    version: ProtocolVersion = 5,
  ): Promise<RawClient> {
    const c = await RawClient.open(port, version);
    c.send({ type: 'connect', protocolVersion: version, clean: true, keepalive: 0, ...connect });
    const connack = await c.next('connack');
    if (connack.reasonCode !== 0) throw new Error(`CONNACK ${connack.reasonCode}`);
    return c;
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet, this.version));
  }

  sendRaw(bytes: Uint8Array | number[]): void {
    this.socket.write(Buffer.from(bytes));
  }

  /** The next received packet of this type (removed from `received`), or an error after `timeout`. */
  async next<T extends Packet['type']>(type: T, timeout = 2000): Promise<Extract<Packet, { type: T }>> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const index = this.received.findIndex((p) => p.type === type);
      if (index >= 0) return this.received.splice(index, 1)[0] as Extract<Packet, { type: T }>;
      if (this.closed) throw new Error(`connection closed while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${type} within ${timeout} ms (got ${this.received.map((p) => p.type)})`);
      await this.#wait(left);
    }
  }

  /** Resolves when the broker closed the connection; rejects after `timeout`. */
  async waitClosed(timeout = 2000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeout} ms`);
      await this.#wait(left);
    }
  }

  /** Waits `ms` and returns what arrived meanwhile (without removing it). */
  async idle(ms: number): Promise<Packet[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received;
  }

  close(): void {
    this.socket.destroy();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
