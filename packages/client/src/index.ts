import { Client } from './client.js';
import type { ClientOptions } from './options.js';
import { openNodeTransport } from './transports/node.js';

/**
 * Connects to an MQTT server and resolves with a ready client once the CONNACK arrives.
 * URLs: `mqtt://host:1883`, `mqtts://host:8883`, `ws://host:port/path`, `wss://…`, or a Unix socket
 * path (`/run/mqtt.sock`, `unix:///run/mqtt.sock`).
 * `connect({ servers })` without a URL tries the servers alone.
 * @throws (rejects) ConnackError when the server refuses (with its `reasonCode`), MqttClientError
 * TRANSPORT_ERROR / CONNECT_TIMEOUT when no connection comes up.
 */
export async function connect(url: string | ClientOptions, options: ClientOptions = {}): Promise<Client> {
  const client =
    typeof url === 'string'
      ? new Client(url, options, openNodeTransport)
      : new Client(undefined, url, openNodeTransport);
  await client.start();
  return client;
}

export { Client } from './client.js';
export {
  ClientErrorCode,
  ConnackError,
  MqttClientError,
  type MqttClientErrorOptions,
  reasonName,
} from './errors.js';
export type { ClientEvents } from './events.js';
export { Keepalive, type KeepaliveHooks } from './keepalive.js';
export { Message } from './message.js';
export type {
  AuthChallenge,
  AuthHandler,
  AuthResponse,
  ClientOptions,
  ConnackInfo,
  DisconnectInfo,
  PublishOptions,
  PublishResult,
  RedirectInfo,
  SubscribeOptions,
  SubscribeResult,
  UnsubscribeOptions,
  UnsubscribeResult,
  WillOptions,
} from './options.js';
export { Backoff, type ReconnectOptions } from './reconnect.js';
export type { RequestOptions } from './request.js';
export type { OutgoingStore, StoredPublish } from './store.js';
export { FileStore, type FileStoreOptions } from './stores/file-store.js';
export { openNodeTransport } from './transports/node.js';
export type {
  Endpoint,
  OpenTransport,
  ServerAddress,
  Transport,
  TransportHandlers,
  TransportOptions,
} from './transports/transport.js';
export { parseEndpoint } from './transports/transport.js';

/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
