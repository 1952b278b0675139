import { connect as netConnect, type Socket } from 'node:net';
import {
  type ConnackPacket,
  type ConnectPacket,
  Decoder,
  encode,
  type Packet,
  type ProtocolVersion,
} from '@x/packets';

/** Default bound of every wait, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 2000;

/** The CONNECT fields a test sets; the rest get defaults (clean start, no keep-alive). */
export type RawConnectOptions = Partial<Omit<ConnectPacket, 'type'>> & { clientId: string };

/** Where {@link RawClient.open} connects. */
export interface RawClientAddress {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Host to connect to. Default '127.0.0.1'. */
  host?: string;
}

/**
 * A raw MQTT peer on a real TCP socket for byte-precise tests of a server: it sends packets encoded by
 * `@x/packets` (or any bytes, malformed on purpose) and decodes what comes back, so a test asserts
 * exactly what the server sent and whether it closed the connection. Every wait is bounded.
 *
 * ```ts
 * const c = await RawClient.connect(port, { clientId: 'a' });
 * c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't', qos: 1 }] });
 * const suback = await c.expect('suback');
 * c.sendBytes([0xf0, 0x00]); // reserved packet type
 * await c.waitClosed();
 * ```
 */
export class RawClient {
  readonly socket: Socket;
  /** The protocol level used to encode and decode. */
  readonly version: ProtocolVersion;
  /** Packets received and not yet taken by {@link expect}, in order of arrival. */
  readonly received: Packet[] = [];
  /** True once the socket closed (by either side). */
  closed = false;
  /** Set when the received bytes could not be decoded; the socket is then closed. */
  decodeError: Error | undefined;
  readonly #decoder: Decoder;
  #waiters: Array<() => void> = [];
  readonly #ready: Promise<void>;

  /** Starts connecting; prefer {@link RawClient.open} or {@link RawClient.connect}. */
  constructor(port: number, version: ProtocolVersion = 5, host = '127.0.0.1') {
    this.version = version;
    this.#decoder = new Decoder({ protocolVersion: version });
    this.socket = netConnect({ host, port });
    this.#ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        for (const p of this.#decoder.push(chunk)) this.received.push(p);
      } catch (error) {
        this.decodeError = error as Error;
        this.socket.destroy();
      }
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    // A reset by the server shows as `closed`; tests assert on that, not on the error.
    this.socket.on('error', () => {});
  }

  /** Opens a TCP connection and sends nothing yet. */
  static async open(port: number | RawClientAddress, version: ProtocolVersion = 5): Promise<RawClient> {
    const address = typeof port === 'number' ? { port } : port;
    const c = new RawClient(address.port, version, address.host);
    await c.#ready;
    return c;
  }

  /**
   * Opens a connection and completes the CONNECT/CONNACK exchange. Throws when the CONNACK is a
   * refusal (its reason code in the message), or when none comes within `timeoutMs`.
   */
  static async connect(
    port: number | RawClientAddress,
    connect: RawConnectOptions,
    version: ProtocolVersion = 5,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RawClient> {
    const c = await RawClient.open(port, version);
    try {
      await c.connect(connect, timeoutMs);
    } catch (error) {
      c.close();
      throw error;
    }
    return c;
  }

  /** Sends CONNECT (clean start, keep-alive 0 unless given) and waits for a successful CONNACK. */
  async connect(connect: RawConnectOptions, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ConnackPacket> {
    this.send({ type: 'connect', protocolVersion: this.version, clean: true, keepalive: 0, ...connect });
    const connack = await this.expect('connack', timeoutMs);
    if (connack.reasonCode !== 0) {
      throw new Error(`CONNACK refused the connection: reason code 0x${connack.reasonCode.toString(16)}`);
    }
    return connack;
  }

  /** Encodes `packet` at this client's level and writes it. */
  send(packet: Packet): void {
    this.socket.write(encode(packet, this.version));
  }

  /** Writes bytes as they are: malformed packets, split packets, several packets at once. */
  sendBytes(bytes: Uint8Array | readonly number[]): void {
    this.socket.write(bytes instanceof Uint8Array ? bytes : Buffer.from(bytes));
  }

  /**
   * The first received packet of this type, taken out of {@link received} (earlier packets of other
   * types stay there). Waits for it at most `timeoutMs`; rejects sooner when the connection closes.
   */
  async expect<T extends Packet['type']>(
    type: T,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Extract<Packet, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((p) => p.type === type);
      if (index >= 0) return this.received.splice(index, 1)[0] as Extract<Packet, { type: T }>;
      if (this.closed) {
        throw new Error(
          `connection closed while waiting for ${type}${this.decodeError ? ` (${this.decodeError.message})` : ''}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no ${type} within ${timeoutMs} ms (received: ${this.received.map((p) => p.type).join(', ') || 'nothing'})`,
        );
      }
      await this.#wait(left);
    }
  }

  /** Resolves when the connection is closed; rejects if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await this.#wait(left);
    }
  }

  /** Waits `ms` and returns what has arrived and not been taken (without taking it). */
  async idle(ms: number): Promise<Packet[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received;
  }

  /** Closes the socket at once (no DISCONNECT: send one first for a normal close). */
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
