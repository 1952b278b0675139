import type { Broker, Logger } from '@x/broker';
import type { ClusterRedis } from './connections.js';
import type { ClusterKeys } from './keys.js';

/** What a node counts (for `$SYS`-like reporting and the management API). */
export interface ClusterStats {
  /** Messages forwarded to other nodes (one per node reached). */
  forwarded: number;
  /** Messages received from other nodes. */
  received: number;
  /** Sessions taken over from other nodes. */
  takeovers: number;
  /** Nodes adopted after their lease expired. */
  adoptions: number;
}

/** The broker seams the cluster's parts use (a narrow view of `Broker`). */
export type ClusterBroker = Pick<
  Broker,
  'sessions' | 'routeRemote' | 'applyRetained' | 'adoptSession' | 'releaseSession' | 'publish'
>;

/**
 * The view of the whole every part of the cluster gets: who this node is, its Redis command
 * connection, and the commit that makes its writes durable. No part reaches another through it.
 */
export interface ClusterContext {
  readonly nodeId: string;
  readonly keys: ClusterKeys;
  readonly log: Logger;
  readonly stats: ClusterStats;
  /** True from `close()` on. */
  readonly closing: boolean;
  /** The command connection (throws `NOT_OPEN` before the store is opened). */
  redis(): ClusterRedis;
  /** The broker (after `attach`). */
  broker(): ClusterBroker;
  /** A write the next commit waits for (so what it acknowledges is in Redis). */
  write(issue: (redis: ClusterRedis) => Promise<unknown>): void;
  /** A commit of what is recorded so far (store and cluster writes); its error, if any. */
  sync(): Promise<Error | undefined>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
