import type { Properties, QoS, UserProperty } from '@x/packets';
import type { ReconnectOptions } from './reconnect.js';
import type { OutgoingStore } from './store.js';
import type { OpenTransport, ServerAddress, TransportOptions } from './transports/transport.js';

/** The last will: published by the server when the connection ends without a DISCONNECT. */
export interface WillOptions {
  topic: string;
  payload: string | Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** v5 will properties (willDelayInterval, messageExpiryInterval, contentType, …). */
  properties?: Properties;
}

/** An AUTH exchange step: what the server sent. */
export interface AuthChallenge {
  /** 0x18 Continue authentication (or 0x19 when the client started a re-authentication). */
  reasonCode: number;
  authenticationMethod: string | undefined;
  authenticationData: Uint8Array | undefined;
  properties: Properties | undefined;
}

/** The client's answer to an AUTH challenge. */
export interface AuthResponse {
  authenticationData?: Uint8Array;
  userProperties?: UserProperty[];
  reasonString?: string;
}

/**
 * Enhanced authentication (v5, section 4.12): called for every AUTH the server sends with reason
 * 0x18; its answer goes back as AUTH 0x18. Throw to abort the connection.
 */
export type AuthHandler = (challenge: AuthChallenge) => AuthResponse | Promise<AuthResponse>;

/** Options of `connect()`. Names follow MQTT.js where one exists; each documents its default. */
export interface ClientOptions extends TransportOptions {
  /** 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0. Default 5. */
  protocolVersion?: 3 | 4 | 5;
  /** Default: `x-` followed by 16 random hex digits (v3: at most 23 characters). */
  clientId?: string;
  /** Clean Session (v3/4) / Clean Start (v5) of the first connection. Default true. */
  clean?: boolean;
  /** Same as `clean`; wins when both are given. */
  cleanStart?: boolean;
  /**
   * v5 Session Expiry Interval in seconds (also accepted in `properties`). Default 0: the session
   * ends with the connection. With a value above 0 reconnects resume the session (Clean Start 0).
   */
  sessionExpiryInterval?: number;
  /** Keep Alive in seconds; 0 turns it off. The server's Server Keep Alive wins. Default 60. */
  keepalive?: number;
  username?: string;
  password?: string | Uint8Array;
  will?: WillOptions;
  /** v5 CONNECT properties (receiveMaximum, maximumPacketSize, topicAliasMaximum, userProperties, …). */
  properties?: Properties;
  /** Milliseconds to wait for the connection and CONNACK. Default 30 000. */
  connectTimeout?: number;
  /** Milliseconds a PINGREQ may wait for an answer before the connection counts as dead. Default: half the Keep Alive, 1 to 30 s. */
  pingTimeout?: number;
  /**
   * Automatic reconnect after a connection that was up breaks: exponential backoff with full jitter.
   * `false` turns it off. Default true (1 s initial, 30 s cap, factor 2, full jitter).
   */
  reconnect?: boolean | ReconnectOptions;
  /** MQTT.js compatibility: the initial reconnect delay in ms; 0 turns reconnect off. */
  reconnectPeriod?: number;
  /**
   * Keep trying the first connection, with the `reconnect` backoff, instead of rejecting `connect()`
   * at the first failure (a broker that is not up yet, a network still coming up). `connect()` then
   * resolves on the first CONNACK with Success, and rejects only on a refusal that cannot change
   * (bad credentials, banned, not authorized: the ConnackError), when `signal` aborts, or when
   * `reconnect.maxAttempts` rounds failed (CLIENT_CLOSED). Failed attempts are still reported as
   * `offline`/`reconnect` events. Needs reconnecting on. Default false.
   */
  retryFirstConnect?: boolean;
  /**
   * Aborting it ends the client as `end()` does; `connect()`, while still connecting or retrying,
   * rejects with CLIENT_CLOSED. The way to give up on a `retryFirstConnect` that waits for ever.
   */
  signal?: AbortSignal;
  /**
   * More servers to fail over to, tried in turn after the URL (or alone: `connect({ servers })`):
   * URLs, or MQTT.js's `{ host, port, protocol }` (protocol and WebSocket path default to the URL's).
   * Connecting and reconnecting try each server once, starting with the one last connected to,
   * and wait the backoff delay only after all of them failed. Default: the URL alone.
   */
  servers?: ServerAddress[];
  /** Follow a server redirect (reason 0x9C/0x9D with a Server Reference) on the next reconnect. Default false. */
  followRedirects?: boolean;
  /** Subscribe again after a reconnect where the server has no session. Default true. */
  resubscribe?: boolean;
  /** Most operations held while offline or waiting for the server's Receive Maximum. Default 65 536. */
  queueLimit?: number;
  /**
   * Milliseconds an operation (publish, subscribe, unsubscribe) may wait while the client is offline,
   * counted from the loss of the connection or from the call when it came later; then it rejects with
   * OPERATION_TIMEOUT. A publish already sent keeps its packet id so that a resumed session still
   * completes its flow (it may then arrive after all). `Infinity` waits as long as reconnecting goes
   * on. Default 600 000 (10 minutes).
   */
  operationTimeout?: number;
  /**
   * Keeps outgoing QoS 1/2 publishes, their packet ids and the QoS 2 release state until their flow
   * completes, so that they survive a restart of the process: the next client with the same store
   * and client id re-sends them on its first connection (with a persistent session: `clean: false`,
   * v5 `sessionExpiryInterval` above 0). A publish is sent only once it is durable in the store.
   * `FileStore` in Node, `IndexedDbStore` in browsers, or your own. Default: none (memory only).
   */
  outgoingStore?: OutgoingStore;
  /** Queue QoS 0 publishes while offline (otherwise they fail with CONNECTION_CLOSED). Default true. */
  queueQoSZero?: boolean;
  /**
   * Consumer-controlled acknowledgement: the PUBACK/PUBREC of an incoming QoS 1/2 message goes out
   * when every 'message' listener has finished (a returned promise has settled), every `messages()`
   * iterator has moved past it, or `message.ack()` is called. The server's flow then follows the
   * Receive Maximum this client announces (`properties.receiveMaximum`). Default false.
   */
  manualAck?: boolean;
  /** v5: give repeated topics an outgoing Topic Alias when the server allows aliases. Default false. */
  autoAssignTopicAlias?: boolean;
  /** v5 enhanced authentication: answers AUTH challenges (set `properties.authenticationMethod`). */
  onAuth?: AuthHandler;
  /**
   * How many completed incoming QoS 2 flows to remember so that a DUP PUBLISH repeating one of them
   * (same packet id, topic and payload) is acknowledged and not delivered again. Mosquitto 2.0
   * restarted from its persistent store re-sends QoS 2 flows that had completed; this keeps such a
   * restart exactly-once. It departs from MQTT-4.3.3-12 (after PUBCOMP, a PUBLISH with that packet
   * id is a new message: a publisher sending the same payload twice to the same topic could lose
   * the second one), so it is off by default. Default 0 (the spec's behaviour).
   */
  qos2ReplayGuard?: number;
  /**
   * v5: QoS 1/2 PUBLISH packets taken beyond the Receive Maximum this client announced
   * (`properties.receiveMaximum`, default 65 535) before the client treats it as the protocol error
   * it is: DISCONNECT 0x93 Receive Maximum exceeded [MQTT-3.3.4-9]. Some servers overshoot under
   * bursts (Mosquitto 2.0.x: up to 100 past 100 measured); with a slack the link stays up instead of
   * reconnecting and receiving the whole window again. Each PUBLISH taken within the slack is
   * counted in `receiveMaximumOverruns`, the most at one time in `receiveMaximumOverrunPeak`. Memory stays bounded: at most Receive Maximum + slack messages are
   * held, each within `properties.maximumPacketSize`. 0 to 65 535. Default 0 (strict, as the
   * spec says).
   */
  receiveMaximumSlack?: number;
  /**
   * Operations in flight (publishes QoS 1/2, subscribes, unsubscribes) from which outgoing packets
   * gather for up to 1 ms into one write instead of one write per turn of the event loop. With that
   * many in flight the server always has work, so throughput holds while the system calls per
   * message drop several-fold. Fewer in flight (one request at a time, say) never wait.
   * Default 128; `Infinity` turns gathering off.
   */
  gatherWritesFrom?: number;
  /**
   * While messages stream in (8 or more in one read), pause reading for about 1 ms so that the next
   * read takes a batch: a fraction of the CPU per message, at the price of up to 1 ms of latency
   * during such a stream. A message arriving on its own is never held. Node TCP, TLS, Unix and
   * WebSocket connections (browsers' WebSocket cannot pause). Default true.
   */
  gatherReads?: boolean;
  /** Messages buffered per `messages()` iterator before it fails with ITERATOR_OVERFLOW. Default 10 000. */
  iteratorBufferSize?: number;
  /** Replaces the transport (tests, custom media). Default: TCP/TLS/WebSocket in Node, WebSocket in browsers. */
  transport?: OpenTransport;
}

/** Options of `publish()`. */
export interface PublishOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** Default false; set by the client itself when it re-sends. */
  dup?: boolean;
  /** v5 PUBLISH properties. */
  properties?: Properties;
}

/** What a completed QoS 1/2 publish returns (QoS 0: reason 0 once handed to the connection). */
export interface PublishResult {
  /** v5 reason code of the PUBACK/PUBREC (0 Success, 0x10 No matching subscribers); 0 in v3/4. */
  reasonCode: number;
  properties?: Properties | undefined;
}

/** Options of `subscribe()`. */
export interface SubscribeOptions {
  /** Maximum QoS. Default 0. */
  qos?: QoS;
  /** v5 No Local. Default false. */
  nl?: boolean;
  /** v5 Retain As Published. Default false. */
  rap?: boolean;
  /** v5 Retain Handling (0 send, 1 send if new, 2 don't send). Default 0. */
  rh?: 0 | 1 | 2;
  /** v5 SUBSCRIBE properties (subscriptionIdentifier, userProperties). */
  properties?: Properties;
}

/** One filter's outcome. */
export interface SubscribeResult {
  topicFilter: string;
  /** Granted QoS (0..2) or a failure reason (0x80 and up). */
  reasonCode: number;
  /** The granted QoS; undefined on failure. */
  qos: QoS | undefined;
}

/** One filter's outcome of `unsubscribe()`. */
export interface UnsubscribeResult {
  topicFilter: string;
  /** v5 reason code (0 Success, 0x11 No subscription existed, …); 0 in v3/4. */
  reasonCode: number;
}

/** The CONNACK as the client saw it. */
export interface ConnackInfo {
  sessionPresent: boolean;
  reasonCode: number;
  properties: Properties | undefined;
}

/** A server DISCONNECT (v5). */
export interface DisconnectInfo {
  reasonCode: number;
  properties: Properties | undefined;
}

/** A server redirect: CONNACK or DISCONNECT with 0x9C Use another server or 0x9D Server moved. */
export interface RedirectInfo {
  reasonCode: number;
  serverReference: string;
  /** True for 0x9D (Server moved): use the new server from now on. */
  permanent: boolean;
}

/** Options of `unsubscribe()`. */
export interface UnsubscribeOptions {
  /** v5 UNSUBSCRIBE properties (userProperties). */
  properties?: Properties;
}
