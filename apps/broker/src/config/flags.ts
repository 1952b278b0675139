import { isIP } from 'node:net';
import { isValidNodeId } from '@x/broker-cluster/node-id';
import { parseRedisUrl } from '@x/broker-store-redis/url';
import { DEFAULT_PORTS } from './defaults.js';
import { type Config, Durabilities, type ListenerConfig, type LogLevel, LogLevels } from './types.js';

/** The command-line flags that override the config file. */
export interface ConfigFlags {
  tcp?: string;
  /** Mosquitto's `-p PORT`: the TCP listener's port, on the configured host or loopback. */
  port?: string;
  tls?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  ws?: string;
  wss?: string;
  unix?: string;
  http?: string;
  httpToken?: string;
  storage?: string;
  dataDir?: string;
  /** The embedded store's durability (config `storage.durability`). */
  durability?: string;
  cluster?: string;
  nodeId?: string;
  /** The `--cluster` URL is a node of a Redis Cluster (config `cluster.redisCluster`). */
  redisCluster?: boolean;
  logLevel?: string;
  logFormat?: string;
  allowAnonymous?: boolean;
  /** A Mosquitto `password_file` (config `auth.passwordFile`). */
  passwordFile?: string;
  /** A Mosquitto `acl_file` (config `auth.aclFile`). */
  aclFile?: string;
  /** Mosquitto's `-v`: debug logging, unless `--log-level` says otherwise. */
  verbose?: boolean;
}

/** A command-line value that makes no sense; the message says which flag and why. */
export class FlagError extends Error {
  readonly code = 'FLAG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** The address forms a listener flag takes, for error messages. */
const ADDRESS_FORMS = 'PORT, :PORT, HOST:PORT, [IPv6]:PORT, an IP address alone, or off';

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (host 127.0.0.1 by default), or an IP address
 * or `localhost` alone (default port). Any other bare word is refused: `--tcp notaport` is a typo,
 * not a host name to bind.
 */
export function parseHostPort(
  flag: string,
  value: string,
  defaultPort: number,
): { host: string; port: number } {
  let host = '127.0.0.1';
  let portText = '';
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(value);
  if (bracket) {
    host = bracket[1] ?? host;
    portText = bracket[2] ?? '';
  } else if (/^\d+$/.test(value)) {
    portText = value;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) {
      if (isIP(value) === 0 && value !== 'localhost') {
        throw new FlagError(`--${flag} ${value}: not a port or an address (expected ${ADDRESS_FORMS})`);
      }
      host = value;
    } else if (value.indexOf(':') !== colon) {
      throw new FlagError(`--${flag} ${value}: write IPv6 addresses in brackets, e.g. [::1]:${defaultPort}`);
    } else {
      host = value.slice(0, colon) || host;
      portText = value.slice(colon + 1);
    }
  }
  const port = portText === '' ? defaultPort : Number(portText);
  if (!/^\d*$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new FlagError(`--${flag} ${value}: the port must be 0–65535`);
  }
  return { host, port };
}

function replace(config: Config, type: ListenerConfig['type'], listener: ListenerConfig | undefined): void {
  const index = config.listeners.findIndex((l) => l.type === type);
  const kept = config.listeners.filter((l) => l.type !== type);
  if (listener) kept.splice(index < 0 ? kept.length : index, 0, listener);
  config.listeners = kept;
}

function tlsFiles(flags: ConfigFlags, flag: string, previous: ListenerConfig | undefined) {
  const old = previous && 'cert' in previous ? previous : undefined;
  const cert = flags.tlsCert ?? old?.cert;
  const key = flags.tlsKey ?? old?.key;
  if (!cert || !key) throw new FlagError(`--${flag} needs --tls-cert FILE and --tls-key FILE`);
  const ca = flags.tlsCa ?? old?.ca;
  return { ...(old ?? {}), cert, key, ...(ca ? { ca } : {}) };
}

/**
 * Applies command-line flags over a config: each listener flag replaces the listener of its type
 * (keeping its other settings) or removes it with `off`.
 */
export function applyFlags(config: Config, flags: ConfigFlags): Config {
  const find = (type: string) => config.listeners.find((l) => l.type === type);
  if (flags.port !== undefined) {
    if (flags.tcp !== undefined)
      throw new FlagError('-p and --tcp both set the TCP listener: give one of them');
    if (!/^\d+$/.test(flags.port) || Number(flags.port) > 65_535) {
      throw new FlagError(`-p ${flags.port}: the port must be 0–65535`);
    }
    const old = find('tcp');
    replace(config, 'tcp', {
      ...old,
      type: 'tcp',
      host: old && 'host' in old ? old.host : '127.0.0.1',
      port: Number(flags.port),
    });
  }
  if (flags.tcp !== undefined) {
    const old = find('tcp');
    replace(
      config,
      'tcp',
      flags.tcp === 'off'
        ? undefined
        : { ...old, type: 'tcp', ...parseHostPort('tcp', flags.tcp, DEFAULT_PORTS.tcp) },
    );
  }
  for (const [flag, type] of [
    ['tls', 'tls'],
    ['wss', 'wss'],
  ] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    const old = find(type);
    if (value === 'off') {
      replace(config, type, undefined);
      continue;
    }
    const address = parseHostPort(flag, value, DEFAULT_PORTS[type]);
    const files = tlsFiles(flags, flag, old);
    const listener =
      type === 'tls'
        ? ({ ...files, type, ...address } as ListenerConfig)
        : ({ path: old && 'path' in old ? old.path : '/mqtt', ...files, type, ...address } as ListenerConfig);
    replace(config, type, listener);
  }
  if (flags.ws !== undefined) {
    const old = find('ws');
    replace(
      config,
      'ws',
      flags.ws === 'off'
        ? undefined
        : {
            path: '/mqtt',
            ...old,
            type: 'ws',
            ...parseHostPort('ws', flags.ws, DEFAULT_PORTS.ws),
          },
    );
  }
  if (flags.unix !== undefined) {
    replace(
      config,
      'unix',
      flags.unix === 'off' ? undefined : { ...find('unix'), type: 'unix', path: flags.unix },
    );
  }
  if (flags.http !== undefined) {
    config.http =
      flags.http === 'off'
        ? false
        : { ...(config.http || {}), ...parseHostPort('http', flags.http, DEFAULT_PORTS.http) };
  }
  if (flags.httpToken !== undefined) {
    if (!config.http) throw new FlagError('--http-token needs the HTTP listener (it is off)');
    config.http = { ...config.http, token: flags.httpToken };
    delete config.http.tokenFile;
  }
  if (flags.storage !== undefined) {
    if (flags.storage === 'memory') config.storage = { type: 'memory' };
    else if (flags.storage === 'embedded') {
      // Keeps the config file's embedded settings (durability, interval).
      if (config.storage.type !== 'embedded') config.storage = { type: 'embedded', dataDir: './data' };
    } else if (/^rediss?:\/\//.test(flags.storage)) {
      try {
        parseRedisUrl(flags.storage);
      } catch (error) {
        throw new FlagError(`--storage: ${(error as Error).message}`);
      }
      const prefix = config.storage.type === 'redis' ? config.storage.prefix : undefined;
      config.storage = { type: 'redis', url: flags.storage, ...(prefix !== undefined ? { prefix } : {}) };
    } else {
      throw new FlagError(
        `--storage ${flags.storage}: expected "embedded", "memory" or a redis://host:port[/db] URL`,
      );
    }
  }
  // --data-dir (or its environment variable) only matters to the embedded store.
  if (flags.dataDir !== undefined && config.storage.type === 'embedded') {
    config.storage = { ...config.storage, dataDir: flags.dataDir };
  }
  if (flags.durability !== undefined) {
    const durability = Durabilities.find((d) => d === flags.durability);
    if (durability === undefined) {
      throw new FlagError(`--durability ${flags.durability}: expected one of ${Durabilities.join(', ')}`);
    }
    if (config.storage.type !== 'embedded') {
      throw new FlagError(
        `--durability applies to the embedded store, not to storage ${config.storage.type} (Redis acknowledges once Redis replied; its appendfsync decides the rest)`,
      );
    }
    config.storage = { ...config.storage, durability };
  }

  if (flags.cluster !== undefined) {
    if (!/^rediss?:\/\//.test(flags.cluster)) {
      throw new FlagError(`--cluster ${flags.cluster}: expected a redis://host:port[/db] or rediss:// URL`);
    }
    try {
      parseRedisUrl(flags.cluster);
    } catch (error) {
      throw new FlagError(`--cluster: ${(error as Error).message}`);
    }
    config.cluster = { ...config.cluster, url: flags.cluster };
  }
  if (flags.nodeId !== undefined) {
    if (!config.cluster) throw new FlagError('--node-id needs cluster mode (--cluster redis://…)');
    if (!isValidNodeId(flags.nodeId)) {
      throw new FlagError(`--node-id ${flags.nodeId}: 1 to 64 of letters, digits, '.', '_' and '-'`);
    }
    config.cluster = { ...config.cluster, nodeId: flags.nodeId };
  }
  if (flags.redisCluster) {
    if (!config.cluster) throw new FlagError('--redis-cluster needs cluster mode (--cluster redis://…)');
    if (parseRedisUrl(config.cluster.url).db !== 0) {
      throw new FlagError('--redis-cluster: a Redis Cluster has database 0 only');
    }
    config.cluster = { ...config.cluster, redisCluster: true };
  }

  if (flags.logLevel !== undefined) {
    if (!LogLevels.includes(flags.logLevel as LogLevel)) {
      throw new FlagError(`--log-level ${flags.logLevel}: expected one of ${LogLevels.join(', ')}`);
    }
    config.log.level = flags.logLevel as LogLevel;
  }
  if (flags.verbose && flags.logLevel === undefined) config.log.level = 'debug';
  if (flags.logFormat !== undefined) {
    if (!['auto', 'json', 'pretty'].includes(flags.logFormat)) {
      throw new FlagError(`--log-format ${flags.logFormat}: expected auto, json or pretty`);
    }
    config.log.format = flags.logFormat as Config['log']['format'];
  }
  if (flags.allowAnonymous) config.auth.allowAnonymous = true;
  if (flags.passwordFile !== undefined) config.auth.passwordFile = flags.passwordFile;
  if (flags.aclFile !== undefined) config.auth.aclFile = flags.aclFile;
  return config;
}
