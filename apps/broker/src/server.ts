import { resolve } from 'node:path';
import { Broker, type BrokerOptions, PacketTracer } from '@x/broker';
import { Ledger } from '@x/broker-auth';
import type { BrokerCluster } from '@x/broker-cluster';
import { readLedgerRules } from './auth.js';
import { createAuthChain } from './auth-chain.js';
import { hasAuthSources } from './config/auth-backends.js';
import { createBridges } from './config/bridges.js';
import { loadConfigFile } from './config/load.js';
import { httpToken } from './config/resolve.js';
import { anonymousAllowed, isExposed, isLoopback, unsafeExposure } from './config/safety.js';
import type { Config } from './config/types.js';
import { ConnectionLogHook } from './connection-log.js';
import { createHttpListener, createListeners } from './listeners.js';
import { createLogger } from './log.js';
import { startTraces } from './trace.js';

/** Start-up refused for safety; the message says why and what to change. */
export class StartupRefused extends Error {
  readonly code = 'STARTUP_REFUSED';
}

/** Where the config came from, so SIGHUP can read the rules again. */
export interface ServerSource {
  configFile?: string | undefined;
}

/**
 * Runs the broker described by `config` until SIGINT or SIGTERM, then shuts down gracefully:
 * listeners stop accepting, v5 clients get DISCONNECT 0x8B, wills are sent, storage is flushed, and
 * the process exits 0 — or exits anyway after `shutdownTimeout`. SIGHUP reloads the auth rules.
 */
export async function runServer(config: Config, source: ServerSource = {}): Promise<void> {
  const log = createLogger(config.log.level, config.log.format);
  const ledger = new Ledger(readLedgerRules(config));
  const refusal = unsafeExposure(config, ledger.hasAuthRules || hasAuthSources(config.auth));
  if (refusal) throw new StartupRefused(refusal);
  const allowAnonymous = anonymousAllowed(config);
  const auth = await createAuthChain(config, ledger, allowAnonymous, log);

  const storage = config.storage;
  const cluster = config.cluster ? await createCluster(config, log) : undefined;
  // The store is given to the broker, which opens, commits to and closes it. Each store's package
  // (SQLite, ioredis) is loaded only when it is the one configured.
  const store = cluster
    ? cluster.store
    : storage.type === 'embedded'
      ? new (await import('@x/broker-store-embedded')).SqliteStore({
          dataDir: resolve(storage.dataDir),
          ...(storage.durability !== undefined ? { durability: storage.durability } : {}),
          ...(storage.intervalMs !== undefined ? { intervalMs: storage.intervalMs } : {}),
          ...(storage.commitWindowMs !== undefined ? { commitWindowMs: storage.commitWindowMs } : {}),
          logger: log,
        })
      : storage.type === 'redis'
        ? new (await import('@x/broker-store-redis')).RedisStore({
            url: storage.url,
            ...(storage.prefix !== undefined ? { prefix: storage.prefix } : {}),
            ...(storage.commitWindowMs !== undefined ? { commitWindowMs: storage.commitWindowMs } : {}),
            logger: log,
          })
        : undefined;
  const broker = new Broker({
    ...(config.broker as BrokerOptions),
    logger: log,
    ...(store !== undefined ? { store } : {}),
  });
  // Before the auth hooks: the bridges' hook lets their own in-process connections in.
  const bridges = await createBridges(broker, config.bridges, log);
  for (const hook of auth.hooks) broker.addHook(hook);
  auth.attach(broker);
  broker.addHook(new ConnectionLogHook(log));
  cluster?.attach(broker);
  const listeners = createListeners(config);
  for (const listener of listeners) await broker.addListener(listener);
  const token = httpToken(config);
  // One tracer for the config's traces and the API's, so together they stay within its cap.
  const tracer = new PacketTracer(broker);
  const http = await createHttpListener(
    config,
    broker,
    token,
    tracer,
    bridges ? { bridges: () => bridges.status() } : undefined,
    // The cluster's endpoints use @x/broker-http: loaded only for a cluster node that serves HTTP.
    cluster && config.http
      ? { cluster: (await import('./cluster-api.js')).clusterRoutes(cluster) }
      : undefined,
  );
  if (http) await broker.addListener(http);
  try {
    startTraces(tracer, config.trace ?? [], log);
  } catch (error) {
    throw new StartupRefused((error as Error).message);
  }

  try {
    await broker.start();
  } catch (error) {
    await broker.close().catch(() => {});
    throw new StartupRefused(`cannot start: ${(error as Error).message}`);
  }
  for (const listener of listeners)
    log.info({ listener: listener.id, address: listener.address() }, 'listening');
  if (cluster) {
    log.info(
      { store: 'redis', nodeId: cluster.nodeId },
      'cluster node: sessions, queued and retained messages are kept in the Redis the nodes share',
    );
  } else if (storage.type === 'embedded') {
    log.info(
      {
        store: 'embedded',
        dataDir: resolve(storage.dataDir),
        durability: storage.durability ?? 'acknowledged',
      },
      'persistent sessions, queued and retained messages are kept on disk',
    );
  } else if (storage.type === 'redis') {
    log.info({ store: 'redis' }, 'persistent sessions, queued and retained messages are kept in Redis');
  } else {
    log.warn(
      { store: 'memory' },
      'storage is memory: persistent sessions and retained messages will not survive a restart',
    );
  }
  if (http) {
    log.info({ address: http.address(), api: token ? 'enabled' : 'disabled (no token)' }, 'HTTP listening');
  }
  if (http && config.http && !token && !isLoopback(config.http.host)) {
    log.warn(
      { address: http.address() },
      'HTTP is reachable from other machines: /stats and /metrics need no token',
    );
  }
  if (!ledger.hasAuthRules && !hasAuthSources(config.auth)) {
    log.info(
      {},
      allowAnonymous ? 'no auth rules: anonymous clients allowed' : 'no auth rules: every client is refused',
    );
  } else {
    log.info({ anonymous: allowAnonymous }, `auth: ${auth.describe().join(', ')}`);
  }
  if (allowAnonymous && config.listeners.some(isExposed)) {
    log.warn({}, 'anonymous clients are allowed on listeners reachable from other machines');
  }

  const reload = async () => {
    try {
      const fresh = source.configFile && !config.auth.file ? loadConfigFile(source.configFile) : config;
      const rules = readLedgerRules(fresh);
      await auth.reload();
      ledger.update(rules);
      log.info(
        { authRules: ledger.rules.auth?.length ?? 0, aclRules: ledger.rules.acl?.length ?? 0 },
        'auth rules reloaded',
      );
    } catch (error) {
      log.error({ error: (error as Error).message }, 'auth rules not reloaded: keeping the previous ones');
    }
  };
  process.on('SIGHUP', reload);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, timeout: config.shutdownTimeout }, 'shutting down');
      const timer = setTimeout(() => {
        log.warn({ timeout: config.shutdownTimeout }, 'shutdown took too long: exiting anyway');
        resolve();
      }, config.shutdownTimeout);
      timer.unref();
      // The broker commits its last changes and closes the store: Redis has confirmed them when it resolves.
      // Bridges first: what they have in flight stays unacknowledged, kept by the sessions on both sides.
      const shutdown = async () => {
        await bridges?.close();
        await broker.close();
      };
      shutdown().then(
        () => {
          clearTimeout(timer);
          log.info({}, 'stopped');
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          log.error({ error: (error as Error).message }, 'error while shutting down');
          resolve();
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.off('SIGHUP', reload);
}

/**
 * Cluster mode: a Redis store on the cluster's Redis, shared by every node (the `storage` setting
 * is not used), and the node's id, generated once and kept in the data directory by default.
 */
async function createCluster(config: Config, log: ReturnType<typeof createLogger>): Promise<BrokerCluster> {
  const [{ BrokerCluster, persistentNodeId }, { RedisStore }] = await Promise.all([
    import('@x/broker-cluster'),
    import('@x/broker-store-redis'),
  ]);
  const options = config.cluster!;
  const prefix = options.prefix ?? (config.storage.type === 'redis' ? config.storage.prefix : undefined);
  const store = new RedisStore({
    url: options.url,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(options.redisCluster ? { cluster: true } : {}),
    logger: log,
  });
  const dataDir = config.storage.type === 'embedded' ? config.storage.dataDir : './data';
  return new BrokerCluster({
    url: options.url,
    store,
    nodeId: options.nodeId ?? persistentNodeId(resolve(dataDir)),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    logger: log,
  });
}
