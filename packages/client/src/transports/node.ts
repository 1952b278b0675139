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
    if (endpoint.protocol === 'unix') {
      socket = netConnect({ path: endpoint.path, onread: reusedRead(handlers) });
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
      socket = netConnect({ host: endpoint.host, port: endpoint.port, onread: reusedRead(handlers) });
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
      if (readyEvent !== 'connect') socket.on('data', handlers.data);
      socket.on('drain', handlers.drain);
      // Later errors are reported by 'close'; keep a listener so they never go unhandled.
      socket.on('error', (error) => {
        failure = error;
      });
      socket.once('close', () => handlers.close(failure));
      resolve({
        write: (chunk) => socket.write(chunk),
        end: () => socket.end(),
        destroy: () => socket.destroy(),
        borrowsChunks: readyEvent === 'connect',
      });
    });
  });
}

/** Size of the read buffer a plain TCP or Unix socket reuses. */
const READ_BUFFER_SIZE = 64 * 1024;

/** net's `onread`: every read lands in the same buffer, handed to `data` as a borrowed view. */
function reusedRead(handlers: TransportHandlers) {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  return {
    buffer,
    callback(bytes: number, into: Uint8Array): boolean {
      handlers.data(into.subarray(0, bytes));
      return true;
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
      ws.once('close', () => handlers.close(failure));
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
      });
    });
  });
}
