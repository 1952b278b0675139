import { createServer, type Server, type Socket } from 'node:net';
import { Decoder, encode, type Packet, type ProtocolVersion } from '@x/packets';

/**
 * A scripted MQTT server on a real socket: the test reads what the client sends and answers with
 * whatever packets (or raw bytes) it wants, including broken ones.
 */
export class Peer {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #version: ProtocolVersion = 5;
  #decoder = new Decoder({});
  #queue: Packet[] = [];
  #waiting: ((packet: Packet) => void) | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      for (const packet of this.#decoder.push(chunk)) {
        if (packet.type === 'connect') this.#version = packet.protocolVersion;
        if (this.#waiting) {
          const waiting = this.#waiting;
          this.#waiting = undefined;
          waiting(packet);
        } else this.#queue.push(packet);
      }
    });
  }

  /** The next packet from the client (fails after 5 s). */
  next(): Promise<Packet> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet from the client within 5 s')), 5_000);
      this.#waiting = (packet) => {
        clearTimeout(timer);
        resolve(packet);
      };
    });
  }

  /** The next packet of this type, skipping others (PINGREQ, …). */
  async expect<T extends Packet['type']>(type: T): Promise<Extract<Packet, { type: T }>> {
    for (;;) {
      const packet = await this.next();
      if (packet.type === type) return packet as Extract<Packet, { type: T }>;
    }
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet, this.#version));
  }

  sendRaw(bytes: number[]): void {
    this.socket.write(Buffer.from(bytes));
  }

  /** Reads CONNECT and accepts it. */
  async accept(
    connack: Partial<Extract<Packet, { type: 'connack' }>> = {},
  ): Promise<Extract<Packet, { type: 'connect' }>> {
    const connect = await this.expect('connect');
    this.send({ type: 'connack', sessionPresent: false, reasonCode: 0, ...connack });
    return connect;
  }
}

export interface RawServer {
  url: string;
  port: number;
  /** The next client connection. */
  peer(): Promise<Peer>;
  close(): Promise<void>;
}

export async function startRawServer(): Promise<RawServer> {
  const peers: Peer[] = [];
  let waiting: ((peer: Peer) => void) | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const peer = new Peer(socket);
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(peer);
    } else peers.push(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    peer: () => {
      const queued = peers.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no client connection within 5 s')), 5_000);
        waiting = (peer) => {
          clearTimeout(timer);
          resolve(peer);
        };
      });
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
