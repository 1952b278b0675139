/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
export { BROKER_VERSION, Broker, type BrokerState, type PublishOptions } from './broker.js';
export { Client, type ClientState } from './client.js';
export { RC } from './codes.js';
export { diagnostics } from './diagnostics.js';
export {
  AllowAllHook,
  type AuthOutcome,
  DebugHook,
  type DropReason,
  type Hook,
  type HookEvent,
  Hooks,
  type MaybePromise,
  type StoredClient,
  type StoredMessage,
  type StoredSubscription,
  type Subscriber,
} from './hooks.js';
export { type ApiContext, handleApi } from './http/api.js';
export { type BlockEntry, BlockListHook } from './http/block-list.js';
export { brokerMetrics } from './http/metrics.js';
export { InlineClient, type InlineHandler, type InlineMessage } from './inline.js';
export { addressWithoutPort, LedgerHook, type LedgerHookOptions } from './ledger/hook.js';
export { type AuthDecision, Ledger } from './ledger/ledger.js';
export {
  formatPath,
  LedgerRulesError,
  type PositionedIssue,
  parseLedgerRules,
  parseWithPositions,
} from './ledger/parse.js';
export { type HashOptions, hashPassword, verifyPassword } from './ledger/password.js';
export { Access, type AclRule, type AuthRule, type LedgerClient, type LedgerRules } from './ledger/types.js';
export { type RuleIssue, validateLedgerRules } from './ledger/validate.js';
export { HttpListener, type HttpListenerOptions } from './listeners/http.js';
export type { AcceptConnection, ConnectionInfo, Listener } from './listeners/listener.js';
export { duplexPair, MemoryListener } from './listeners/memory.js';
export {
  ConnectionGate,
  type ListenerLimits,
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
export type { Delivery, Message } from './message.js';
export type { BrokerOptions } from './options.js';
export type { Session, SessionSubscription } from './session.js';
export { RedisStore, type RedisStoreOptions } from './stores/redis.js';
export {
  parseRedisUrl,
  type RedisAddress,
  RedisClient,
  type RedisClientOptions,
} from './stores/redis-client.js';
export { RedisError, type RedisErrorCode, RedisErrors, type RespArg, type RespValue } from './stores/resp.js';
export type { SysInfo } from './system.js';
