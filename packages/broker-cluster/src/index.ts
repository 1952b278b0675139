export { BrokerCluster, type BrokerClusterOptions, type ClusterStats } from './cluster.js';
export { ClusterStore } from './cluster-store.js';
export { decodeMessage, encodeMessage } from './codec.js';
export type { ClusterRedis, RedisClusterNodes } from './connections.js';
export { ClusterError, ClusterErrorCode } from './errors.js';
export type {
  ClusterClientLookup,
  ClusterNodeInfo,
  ClusterNodeLoad,
  ClusterSessionInfo,
  ClusterTotals,
} from './management.js';
export { isValidNodeId, persistentNodeId } from './node-id.js';

/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
