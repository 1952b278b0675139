import { parseRedisUrl } from '@x/broker-store-redis';
import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import { ClusterError } from './errors.js';

/** A connection of the cluster's own: to one Redis (or Sentinel through the URL) or a Redis Cluster. */
export type ClusterRedis = Redis | Cluster;

/**
 * Redis Cluster: `true` when the URL's host is one node of a Redis Cluster (the others are
 * discovered), or the nodes to start from (`'host:port'` or `{ host, port }`), as `RedisStore`'s
 * `cluster` option takes them.
 */
export type RedisClusterNodes = boolean | ReadonlyArray<string | { host: string; port: number }>;

/** What a connection is for: how it behaves while Redis is unreachable. */
export interface ConnectionOptions {
  /** Commands issued while disconnected fail at once instead of waiting. */
  failFast: boolean;
  autoPipelining?: boolean;
}

/**
 * Opens (lazily: call `connect()`) one of the cluster's connections to `url`, or, with
 * `redisCluster`, to the Redis Cluster `url` belongs to. The URL is read by the store's parser
 * (`parseRedisUrl`), so user, password, TLS and database mean the same for both.
 */
export function openRedis(
  url: string,
  redisCluster: RedisClusterNodes | undefined,
  options: ConnectionOptions,
): ClusterRedis {
  const address = parseRedisUrl(url);
  const connection: RedisOptions = {
    lazyConnect: true,
    ...(address.username !== undefined ? { username: address.username } : {}),
    ...(address.password !== undefined ? { password: address.password } : {}),
    ...(address.tls ? { tls: {} } : {}),
    ...(options.failFast ? { enableOfflineQueue: false, maxRetriesPerRequest: 0 } : {}),
  };
  if (redisCluster === undefined || redisCluster === false) {
    return new Redis({
      ...connection,
      host: address.host,
      port: address.port,
      db: address.db,
      ...(options.autoPipelining ? { enableAutoPipelining: true } : {}),
    });
  }
  if (address.db !== 0) throw new ClusterError('BAD_OPTION', 'a Redis Cluster has database 0 only');
  const nodes: ClusterNode[] =
    redisCluster === true
      ? [{ host: address.host, port: address.port }]
      : redisCluster.map((n) => (typeof n === 'string' ? n : { host: n.host, port: n.port }));
  return new Cluster(nodes, {
    redisOptions: connection,
    lazyConnect: true,
    ...(options.failFast ? { enableOfflineQueue: false } : {}),
    ...(options.autoPipelining ? { enableAutoPipelining: true } : {}),
  });
}
