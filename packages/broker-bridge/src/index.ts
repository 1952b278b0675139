/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
export { BRIDGE_VIA, Bridge, passedThrough } from './bridge.js';
export { Bridges, type BridgesOptions } from './bridges.js';
export { BridgeError, type BridgeErrorCode, BridgeErrors } from './errors.js';
export { BRIDGE_LISTENER } from './local-link.js';
export {
  type BridgeDirection,
  BridgeDirections,
  type BridgeOptionIssue,
  type BridgeOptions,
  type BridgeProtocol,
  BridgeProtocols,
  type BridgeReconnect,
  BridgeSchemes,
  type BridgeTopic,
  bridgeOptionIssues,
  type ResolvedBridgeOptions,
  resolveBridgeOptions,
} from './options.js';
export type { BridgeHook, BridgeStatus } from './status.js';
