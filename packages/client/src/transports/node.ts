import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import type { Endpoint, OpenTransport, Transport, TransportHandlers, TransportOptions } from './transport.js';

/** WebSocket writes report back-pressure above this many buffered bytes. */
const WS_HIGH_WATER = 1 << 20;

/** Node transports: TCP (`mqtt:`), TLS (`mqtts:`), Unix sockets and WebSocket via `ws`. */
export const openNodeTransport: OpenTransport = (endpoint, options, handlers) => {
  if (endpoint.protocol === 'ws' || endpoint.protocol === 'wss') {
    return openWebSocket(endpoint, options, handlers);
  }
  return openSocket(endpoint, options, handlers);
};

function openSocket(endpoint: Endpoint, options: TransportOptions, handlers: TransportHandlers) {
  return new Promise<Transport>((resolve, reject) => {
    let socket: Socket;
    let readyEvent = 'connect';
    const reads = new ReadHold(() => {
      if (!socket.destroyed) socket.resume();
    });
    if (endpoint.protocol === 'unix') {
      socket = netConnect({ path: endpoint.path, onread: reusedRead(handlers, reads) });
    } else if (endpoint.protocol === 'mqtts') {
      socket = tlsConnect({
        host: endpoint.host,
        port: endpoint.port,
        servername: options.servername ?? (isIP(endpoint.host) ? undefined : endpoint.host),
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      } as ConnectionOptions);
      readyEvent = 'secureConnect';
    } else {
      socket = netConnect({ host: endpoint.host, port: endpoint.port, onread: reusedRead(handlers, reads) });
    }
    let opened = false;
    let failure: Error | undefined;
    socket.once('error', (error) => {
      failure = error;
      if (!opened) reject(error);
    });
    socket.once(readyEvent, () => {
      opened = true;
      socket.setNoDelay(options.noDelay ?? true);
      // Plain TCP reads into one reused buffer (onread): no Buffer per read and no stream 'data'
      // machinery, which are much of the cost of a read carrying a few acknowledgements.
      if (readyEvent !== 'connect') {
        socket.on('data', (chunk: Buffer) => {
          handlers.data(chunk);
          if (reads.held) socket.pause();
        });
      }
      socket.on('drain', handlers.drain);
      // Later errors are reported by 'close'; keep a listener so they never go unhandled.
      socket.on('error', (error) => {
        failure = error;
      });
      socket.once('close', () => {
        reads.cancel();
        handlers.close(failure);
      });
      resolve({
        write: (chunk) => socket.write(chunk),
        end: () => socket.end(),
        destroy: () => socket.destroy(),
        borrowsChunks: readyEvent === 'connect',
        holdReads: (ms) => reads.hold(ms),
      });
    });
  });
}

/**
 * A pause of reading asked for from within a `data()` call (see `Transport.holdReads`): the
 * transport stops reading while `held`, and one timer, re-armed for each hold, resumes it.
 */
class ReadHold {
  held = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #resume: () => void;
  readonly #end = () => {
    this.held = false;
    this.#resume();
  };

  constructor(resume: () => void) {
    this.#resume = resume;
  }

  hold(ms: number): void {
    if (this.held) return;
    this.held = true;
    if (this.#timer === undefined) this.#timer = setTimeout(this.#end, ms);
    else this.#timer.refresh();
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.held = false;
  }
}

/** Size of the read buffer a plain TCP or Unix socket reuses. */
const READ_BUFFER_SIZE = 64 * 1024;

/** net's `onread`: every read lands in the same buffer, handed to `data` as a borrowed view. */
function reusedRead(handlers: TransportHandlers, reads: ReadHold) {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  return {
    buffer,
    callback(bytes: number, into: Uint8Array): boolean {
      handlers.data(into.subarray(0, bytes));
      // A full buffer means more is waiting already: no reason to wait for it.
      if (reads.held && bytes === READ_BUFFER_SIZE) reads.cancel();
      // false pauses the socket (net's onread contract) until ReadHold resumes it.
      return !reads.held;
    },
  };
}

function openWebSocket(endpoint: Endpoint, options: TransportOptions, handlers: TransportHandlers) {
  return new Promise<Transport>((resolve, reject) => {
    const tls =
      endpoint.protocol === 'wss'
        ? {
            ca: options.ca,
            cert: options.cert,
            key: options.key,
            rejectUnauthorized: options.rejectUnauthorized,
          }
        : {};
    const ws = new WebSocket(endpoint.href, ['mqtt'], {
      ...tls,
      ...options.wsOptions,
    } as WebSocket.ClientOptions);
    ws.binaryType = 'nodebuffer';
    let opened = false;
    let failure: Error | undefined;
    ws.on('error', (error) => {
      failure = error;
      if (!opened) reject(error);
    });
    ws.once('open', () => {
      opened = true;
      ws.on('message', (data: Buffer) => handlers.data(data));
      const reads = new ReadHold(() => {
        if (ws.readyState === WebSocket.OPEN) ws.resume();
      });
      ws.once('close', () => {
        reads.cancel();
        handlers.close(failure);
      });
      const drained = () => {
        if (ws.bufferedAmount < WS_HIGH_WATER) handlers.drain();
      };
      resolve({
        write(chunk) {
          if (ws.bufferedAmount < WS_HIGH_WATER) {
            ws.send(chunk);
            return ws.bufferedAmount < WS_HIGH_WATER;
          }
          // The send callback runs once these bytes reach the socket: the moment to resume.
          ws.send(chunk, drained);
          return false;
        },
        end: () => ws.close(1000),
        destroy: () => ws.terminate(),
        holdReads(ms) {
          if (reads.held) return;
          ws.pause();
          reads.hold(ms);
        },
      });
    });
  });
}
