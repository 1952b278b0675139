import type { OpenTransport } from './transport.js';

/** Writes report back-pressure above this many buffered bytes. */
const HIGH_WATER = 1 << 20;

/**
 * Browser transport: the platform WebSocket with the `mqtt` subprotocol (MQTT-6.0.0-3) and binary
 * frames. Browsers have no drain event, so while writes are held back a short timer polls
 * `bufferedAmount`.
 */
export const openBrowserTransport: OpenTransport = (endpoint, _options, handlers) => {
  if (endpoint.protocol !== 'ws' && endpoint.protocol !== 'wss') {
    return Promise.reject(
      new TypeError(`${endpoint.protocol}: is not available in browsers; use ws:// or wss://`),
    );
  }
  const Socket = globalThis.WebSocket;
  if (typeof Socket !== 'function') return Promise.reject(new TypeError('no WebSocket in this environment'));
  return new Promise((resolve, reject) => {
    const ws = new Socket(endpoint.href, 'mqtt');
    ws.binaryType = 'arraybuffer';
    let opened = false;
    let closed = false;
    let polling: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      polling = undefined;
      if (closed) return;
      if (ws.bufferedAmount < HIGH_WATER) handlers.drain();
      else polling = setTimeout(poll, 10);
    };
    ws.onerror = () => {
      if (!opened) reject(new Error(`WebSocket connection to ${endpoint.href} failed`));
    };
    ws.onclose = (event) => {
      if (closed) return;
      closed = true;
      if (polling !== undefined) clearTimeout(polling);
      if (!opened) {
        reject(new Error(`WebSocket to ${endpoint.href} closed (${event.code})`));
        return;
      }
      handlers.close(event.code === 1000 ? undefined : new Error(`WebSocket closed (${event.code})`));
    };
    ws.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) handlers.data(new Uint8Array(data));
    };
    ws.onopen = () => {
      opened = true;
      resolve({
        write(chunk) {
          ws.send(chunk);
          if (ws.bufferedAmount < HIGH_WATER) return true;
          if (polling === undefined) polling = setTimeout(poll, 10);
          return false;
        },
        end: () => ws.close(1000),
        destroy: () => ws.close(),
      });
    };
  });
};
