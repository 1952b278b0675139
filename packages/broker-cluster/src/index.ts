export {
  BrokerCluster,
  type BrokerClusterOptions,
  type ClusterNodeInfo,
  type ClusterStats,
} from './cluster.js';
export { ClusterStore } from './cluster-store.js';
export { decodeMessage, encodeMessage } from './codec.js';
export { ClusterError, ClusterErrorCode } from './errors.js';
export { isValidNodeId, persistentNodeId } from './node-id.js';

/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
