/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
export type { AuthThrottleOptions, BackoffOptions } from './auth-throttle.js';
export {
  BROKER_VERSION,
  Broker,
  type BrokerState,
  type PublishOptions,
  type RetainedView,
} from './broker.js';
export type { ClientInfo, ClientState } from './client-info.js';
export { CommitPacer } from './commit-pacer.js';
export { diagnostics } from './diagnostics.js';
export { BrokerError, type BrokerErrorCode, BrokerErrors } from './errors.js';
export {
  AllowAllHook,
  type AuthOutcome,
  DebugHook,
  type DropReason,
  type Hook,
  type HookEvent,
  Hooks,
  type MaybePromise,
  type Subscriber,
} from './hooks.js';
export type { InlineClient, InlineHandler, InlineMessage } from './inline.js';
export type { AcceptConnection, ConnectionInfo, Listener, RefuseConnection } from './listeners/listener.js';
export { duplexPair, MemoryListener } from './listeners/memory.js';
export {
  ConnectionGate,
  type ListenerLimits,
  listenOn,
  NetServerListener,
  type NetServerListenerOptions,
} from './listeners/net-server.js';
export { TcpListener, type TcpListenerOptions } from './listeners/tcp.js';
export {
  certificateName,
  secureContextOptions,
  TlsListener,
  type TlsListenerOptions,
  type TlsOptions,
} from './listeners/tls.js';
export { UnixListener, type UnixListenerOptions } from './listeners/unix.js';
export { WebSocketListener, type WebSocketListenerOptions } from './listeners/websocket.js';
export { consoleLogger, type Logger, type LogLevel, silentLogger } from './logger.js';
export { MemoryStore } from './memory-store.js';
export { type Delivery, isExpired, type Message } from './message.js';
export type { BrokerOptions } from './options.js';
export { RingQueue } from './queue.js';
export { NEVER_EXPIRES, type Session, type SessionInfo, type SessionSubscription } from './session.js';
export type { SessionsView } from './sessions.js';
export {
  type Store,
  type StoredInflight,
  type StoredSession,
  type StoredState,
  storedMessage,
} from './storage.js';
export {
  decodeStoredPublish,
  decodeStoredWill,
  encodeStoredMessage,
  encodeStoredWill,
  storedMessageBound,
  writeStoredMessage,
} from './stored-publish.js';
export type { SysInfo } from './system.js';
export {
  PacketTracer,
  type PacketTracerOptions,
  type TracedPacket,
  type TraceHost,
  type TraceInfo,
  type TraceRequest,
  type TraceSink,
  type TraceStopReason,
  traceRequestProblem,
} from './trace.js';
export { fileTraceSink, logTraceSink } from './trace-sinks.js';
