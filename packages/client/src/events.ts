import type { MqttClientError } from './errors.js';
import type { Message } from './message.js';
import type { ConnackInfo, DisconnectInfo, RedirectInfo } from './options.js';

/** Events of a `Client`. */
export interface ClientEvents {
  /** An application message arrived. With `manualAck`, a returned promise delays the acknowledgement. */
  message: (message: Message) => unknown;
  /** A connection (the first or a reconnect) was accepted. */
  connect: (connack: ConnackInfo) => void;
  /** A reconnect attempt starts. */
  reconnect: (info: { attempt: number }) => void;
  /** The connection was lost; `delay` is when the next attempt runs (undefined: none will). */
  offline: (info: { error: Error | undefined; delay: number | undefined }) => void;
  /** The server sent DISCONNECT (v5), with its reason. */
  disconnect: (info: DisconnectInfo) => void;
  /** The server pointed to another server (reason 0x9C/0x9D with a Server Reference). */
  redirect: (info: RedirectInfo) => void;
  /** Something failed that no promise reports: protocol errors, failed reconnects, listener throws. */
  error: (error: MqttClientError) => void;
  /** The client is closed for good: `end()`, reconnect gave up or was refused for good. */
  close: () => void;
}
