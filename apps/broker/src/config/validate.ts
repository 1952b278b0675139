import { type RuleIssue, validateLedgerRules } from '@x/broker-auth';
import { isValidNodeId } from '@x/broker-cluster/node-id';
import { parseRedisUrl } from '@x/broker-store-redis/url';
import { AUTH_BACKEND_KEYS, readAuthBackends } from './auth-backends.js';
import { readBridges } from './bridges.js';
import { DEFAULT_PORTS, defaultConfig } from './defaults.js';
import { readTraces } from './trace.js';
import {
  type AuthConfig,
  type Config,
  type CoreConfig,
  Durabilities,
  type HttpConfig,
  type ListenerConfig,
  LogFormats,
  LogLevels,
} from './types.js';

type Path = (string | number)[];
type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads fields off raw objects, recording every problem with its path instead of stopping at the
 * first, so one run of `mqtt-broker --config` lists everything that is wrong.
 */
export class Reader {
  readonly issues: RuleIssue[] = [];

  fail(path: Path, message: string, key = false): void {
    this.issues.push(key ? { path, message, key } : { path, message });
  }

  /** The value as a mapping, reporting keys outside `known`. */
  object(value: unknown, path: Path, known: readonly string[], what: string): Raw | undefined {
    if (!isRecord(value)) {
      this.fail(path, `${what} must be a mapping`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        this.fail(
          [...path, key],
          `unknown key "${key}" in ${what} (expected one of ${known.join(', ')})`,
          true,
        );
      }
    }
    return value;
  }

  string(raw: Raw, key: string, path: Path): string | undefined {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') {
      this.fail([...path, key], `${key} must be a non-empty string`);
      return undefined;
    }
    return value;
  }

  boolean(raw: Raw, key: string, path: Path): boolean | undefined {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.fail([...path, key], `${key} must be true or false`);
      return undefined;
    }
    return value;
  }

  integer(raw: Raw, key: string, path: Path, min: number, max: number): number | undefined {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail([...path, key], `${key} must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return value;
  }

  choice<T extends string | number>(raw: Raw, key: string, path: Path, choices: readonly T[]): T | undefined {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (!choices.includes(value as T)) {
      this.fail([...path, key], `${key} must be one of ${choices.join(', ')}`);
      return undefined;
    }
    return value as T;
  }
}

const TOP_KEYS = [
  'listeners',
  'http',
  'auth',
  'broker',
  'storage',
  'cluster',
  'log',
  'shutdownTimeout',
  'trace',
  'bridges',
] as const;
const LIMIT_KEYS = ['maxConnections', 'connectionRate', 'maxPacketSize'] as const;
const TLS_KEYS = ['cert', 'key', 'ca', 'requestCert', 'rejectUnauthorized', 'cnAsUsername'] as const;
const LISTENER_KEYS = {
  tcp: ['type', 'host', 'port', ...LIMIT_KEYS],
  tls: ['type', 'host', 'port', ...TLS_KEYS, ...LIMIT_KEYS],
  ws: ['type', 'host', 'port', 'path', 'trustProxy', 'allowedOrigins', ...LIMIT_KEYS],
  wss: ['type', 'host', 'port', 'path', 'trustProxy', 'allowedOrigins', ...TLS_KEYS, ...LIMIT_KEYS],
  unix: ['type', 'path', ...LIMIT_KEYS],
} as const;
const LISTENER_TYPES = Object.keys(LISTENER_KEYS) as (keyof typeof LISTENER_KEYS)[];
const MAX_PACKET = 268_435_455;
const U32 = 0xffffffff;

const CORE_INTEGERS: Record<string, [number, number]> = {
  maxPacketSize: [16, MAX_PACKET],
  receiveMaximum: [1, 65_535],
  maxInflight: [1, 65_535],
  maxQueuedMessages: [0, 10_000_000],
  maxOutboundBytes: [1024, 2 ** 31],
  connectTimeout: [100, 3_600_000],
  maxKeepAlive: [1, 65_535],
  maxSessionExpiry: [0, U32],
  topicAliasMaximum: [0, 65_535],
  maxRetained: [0, 100_000_000],
  sweepInterval: [50, 60_000],
  sysInterval: [0, 86_400_000],
  maxConnections: [1, 10_000_000],
  maxTopicAliasBytes: [0, 2 ** 31],
  maxTopicLevels: [1, 65_535],
  maxQueuedBytes: [0, 2 ** 40],
  maxHeldBytes: [0, 2 ** 40],
  stalledConsumerTimeout: [100, 86_400_000],
  maxRetainedBytes: [0, 2 ** 40],
  maxSessions: [1, 100_000_000],
  neverExpireAfter: [0, U32],
};
/** Every key of the `broker` section (config/example.yaml shows each one). */
export const CORE_KEYS = [
  ...Object.keys(CORE_INTEGERS),
  'authThrottle',
  'topicAliasesToClients',
  'queueQos0Messages',
  'maximumQoS',
  'retainAvailable',
  'clientIdPrefix',
  'sharedSubscriptionStrategy',
  'sysTopicsWritable',
  'bindClientIdToUsername',
];

const THROTTLE_INTEGERS: Record<string, [number, number]> = {
  maxConcurrent: [1, 100_000],
  maxWaiting: [0, 1_000_000],
  forgetAfter: [0, 86_400_000],
  maxTracked: [1, 10_000_000],
};
const BACKOFF_INTEGERS: Record<string, [number, number]> = {
  freeFailures: [0, 1_000_000],
  baseDelay: [0, 3_600_000],
  maxDelay: [0, 3_600_000],
};

/** `broker.authThrottle`: false, or a mapping of limits with `perAddress` / `perUser` back-off. */
function readAuthThrottle(r: Reader, value: unknown): CoreConfig['authThrottle'] {
  if (value === false) return false;
  const path = ['broker', 'authThrottle'];
  const raw = r.object(
    value,
    path,
    [...Object.keys(THROTTLE_INTEGERS), 'perAddress', 'perUser'],
    'authThrottle',
  );
  if (!raw) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, [min, max]] of Object.entries(THROTTLE_INTEGERS)) {
    const v = r.integer(raw, key, path, min, max);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['perAddress', 'perUser'] as const) {
    if (raw[key] === undefined) continue;
    const b = r.object(raw[key], [...path, key], Object.keys(BACKOFF_INTEGERS), key);
    if (!b) continue;
    const backoff: Record<string, number> = {};
    for (const [k, [min, max]] of Object.entries(BACKOFF_INTEGERS)) {
      const v = r.integer(b, k, [...path, key], min, max);
      if (v !== undefined) backoff[k] = v;
    }
    out[key] = backoff;
  }
  return out as CoreConfig['authThrottle'];
}

function readLimits(r: Reader, raw: Raw, path: Path, out: Record<string, unknown>): void {
  const maxConnections = r.integer(raw, 'maxConnections', path, 1, 10_000_000);
  const connectionRate = r.integer(raw, 'connectionRate', path, 0, 1_000_000);
  const maxPacketSize = r.integer(raw, 'maxPacketSize', path, 16, MAX_PACKET);
  if (maxConnections !== undefined) out.maxConnections = maxConnections;
  if (connectionRate !== undefined) out.connectionRate = connectionRate;
  if (maxPacketSize !== undefined) out.maxPacketSize = maxPacketSize;
}

function readTls(r: Reader, raw: Raw, path: Path, out: Record<string, unknown>): void {
  const cert = r.string(raw, 'cert', path);
  const key = r.string(raw, 'key', path);
  if (cert === undefined && raw.cert === undefined) r.fail(path, 'a TLS listener needs `cert` (a PEM file)');
  if (key === undefined && raw.key === undefined) r.fail(path, 'a TLS listener needs `key` (a PEM file)');
  out.cert = cert ?? '';
  out.key = key ?? '';
  const ca = r.string(raw, 'ca', path);
  if (ca !== undefined) out.ca = ca;
  for (const flag of ['requestCert', 'rejectUnauthorized', 'cnAsUsername'] as const) {
    const value = r.boolean(raw, flag, path);
    if (value !== undefined) out[flag] = value;
  }
}

function readListener(r: Reader, value: unknown, path: Path): ListenerConfig | undefined {
  if (!isRecord(value)) {
    r.fail(path, 'a listener must be a mapping with a `type`');
    return undefined;
  }
  const type = r.choice(value, 'type', path, LISTENER_TYPES);
  if (type === undefined) {
    if (value.type === undefined) r.fail(path, `a listener needs a type: ${LISTENER_TYPES.join(', ')}`);
    return undefined;
  }
  const raw = r.object(value, path, LISTENER_KEYS[type], `a ${type} listener`);
  if (!raw) return undefined;
  const out: Record<string, unknown> = { type };
  if (type === 'unix') {
    const socketPath = r.string(raw, 'path', path);
    if (socketPath === undefined && raw.path === undefined) r.fail(path, 'a unix listener needs `path`');
    out.path = socketPath ?? '';
  } else {
    out.host = r.string(raw, 'host', path) ?? '127.0.0.1';
    out.port = r.integer(raw, 'port', path, 0, 65_535) ?? DEFAULT_PORTS[type];
    if (type === 'ws' || type === 'wss') {
      const wsPath = r.string(raw, 'path', path);
      if (wsPath !== undefined && !wsPath.startsWith('/'))
        r.fail([...path, 'path'], 'path must start with /');
      out.path = wsPath ?? '/mqtt';
      const trustProxy = r.boolean(raw, 'trustProxy', path);
      if (trustProxy !== undefined) out.trustProxy = trustProxy;
      const origins = raw.allowedOrigins;
      if (origins !== undefined) {
        if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string')) {
          r.fail(
            [...path, 'allowedOrigins'],
            'allowedOrigins must be a list of origins like https://app.example.com, or ["*"]',
          );
        } else out.allowedOrigins = origins;
      }
    }
    if (type === 'tls' || type === 'wss') readTls(r, raw, path, out);
  }
  readLimits(r, raw, path, out);
  return out as unknown as ListenerConfig;
}

function readHttp(r: Reader, value: unknown): HttpConfig | false | undefined {
  if (value === false || value === 'off') return false;
  const raw = r.object(value, ['http'], ['host', 'port', 'token', 'tokenFile', 'dashboard'], 'http');
  if (!raw) return undefined;
  const out: HttpConfig = {
    host: r.string(raw, 'host', ['http']) ?? '127.0.0.1',
    port: r.integer(raw, 'port', ['http'], 0, 65_535) ?? DEFAULT_PORTS.http,
  };
  const token = r.string(raw, 'token', ['http']);
  const tokenFile = r.string(raw, 'tokenFile', ['http']);
  if (token !== undefined) out.token = token;
  if (tokenFile !== undefined) out.tokenFile = tokenFile;
  const dashboard = r.boolean(raw, 'dashboard', ['http']);
  if (dashboard !== undefined) out.dashboard = dashboard;
  if (token !== undefined && tokenFile !== undefined)
    r.fail(['http', 'tokenFile'], 'give token or tokenFile, not both');
  return out;
}

function readAuth(r: Reader, value: unknown): AuthConfig {
  const raw = r.object(
    value,
    ['auth'],
    ['allowAnonymous', 'checkDelivery', 'file', 'rules', 'acl', 'aclDefault', ...AUTH_BACKEND_KEYS],
    'auth',
  );
  if (!raw) return {};
  const out: AuthConfig = readAuthBackends(r, raw);
  const allowAnonymous = r.boolean(raw, 'allowAnonymous', ['auth']);
  if (allowAnonymous !== undefined) out.allowAnonymous = allowAnonymous;
  const checkDelivery = r.boolean(raw, 'checkDelivery', ['auth']);
  if (checkDelivery !== undefined) out.checkDelivery = checkDelivery;
  const file = r.string(raw, 'file', ['auth']);
  if (file !== undefined) out.file = file;
  // The inline rules are the ledger's own format with `rules` in place of `auth`.
  const { rules, issues } = validateLedgerRules({
    auth: raw.rules,
    acl: raw.acl,
    aclDefault: raw.aclDefault,
  });
  for (const issue of issues) {
    const [head, ...rest] = issue.path;
    r.issues.push({ ...issue, path: ['auth', head === 'auth' ? 'rules' : (head ?? ''), ...rest] });
  }
  if (rules.auth) out.rules = rules.auth;
  if (rules.acl) out.acl = rules.acl;
  if (rules.aclDefault) out.aclDefault = rules.aclDefault;
  if (file !== undefined && (raw.rules !== undefined || raw.acl !== undefined)) {
    r.fail(['auth', 'file'], 'give the rules inline (rules/acl) or in a file, not both');
  }
  return out;
}

function readCore(r: Reader, value: unknown): CoreConfig {
  const raw = r.object(value, ['broker'], CORE_KEYS, 'broker');
  if (!raw) return {};
  const out: Record<string, unknown> = {};
  for (const [key, [min, max]] of Object.entries(CORE_INTEGERS)) {
    const v = r.integer(raw, key, ['broker'], min, max);
    if (v !== undefined) out[key] = v;
  }
  for (const key of [
    'topicAliasesToClients',
    'retainAvailable',
    'queueQos0Messages',
    'sysTopicsWritable',
    'bindClientIdToUsername',
  ] as const) {
    const v = r.boolean(raw, key, ['broker']);
    if (v !== undefined) out[key] = v;
  }
  if (raw.authThrottle !== undefined) {
    const throttle = readAuthThrottle(r, raw.authThrottle);
    if (throttle !== undefined) out.authThrottle = throttle;
  }
  const qos = r.choice(raw, 'maximumQoS', ['broker'], [0, 1, 2] as const);
  if (qos !== undefined) out.maximumQoS = qos;
  const prefix = r.string(raw, 'clientIdPrefix', ['broker']);
  if (prefix !== undefined) out.clientIdPrefix = prefix;
  const strategy = r.choice(raw, 'sharedSubscriptionStrategy', ['broker'], [
    'round-robin',
    'random',
  ] as const);
  if (strategy !== undefined) out.sharedSubscriptionStrategy = strategy;
  return out as CoreConfig;
}

/**
 * Checks a parsed config file (any JSON-like value) and merges it over the defaults. Listeners in the
 * file replace the default ones; every other section is merged key by key.
 */
export function validateConfig(value: unknown): { config: Config; issues: RuleIssue[] } {
  const r = new Reader();
  const config = defaultConfig();
  if (value === undefined || value === null) return { config, issues: r.issues };
  const raw = r.object(value, [], TOP_KEYS, 'the config file');
  if (!raw) return { config, issues: r.issues };

  if (raw.listeners !== undefined) {
    if (!Array.isArray(raw.listeners)) {
      r.fail(['listeners'], 'listeners must be a list');
    } else {
      config.listeners = [];
      raw.listeners.forEach((item: unknown, index: number) => {
        const listener = readListener(r, item, ['listeners', index]);
        if (listener) config.listeners.push(listener);
      });
    }
  }
  if (raw.http !== undefined) {
    const http = readHttp(r, raw.http);
    if (http !== undefined) config.http = http;
  }
  if (raw.auth !== undefined) config.auth = readAuth(r, raw.auth);
  if (raw.broker !== undefined) config.broker = readCore(r, raw.broker);
  if (raw.storage !== undefined) {
    const type = isRecord(raw.storage) ? raw.storage.type : undefined;
    const keys =
      type === 'redis'
        ? ['type', 'url', 'prefix', 'commitWindowMs']
        : type === 'memory'
          ? ['type']
          : ['type', 'dataDir', 'durability', 'intervalMs', 'commitWindowMs'];
    const storage = r.object(raw.storage, ['storage'], keys, 'storage');
    const kind = storage
      ? (r.choice(storage, 'type', ['storage'], ['memory', 'embedded', 'redis'] as const) ?? 'embedded')
      : undefined;
    if (storage && kind === 'memory') config.storage = { type: 'memory' };
    if (storage && kind === 'embedded') {
      const dataDir = r.string(storage, 'dataDir', ['storage']) ?? './data';
      const durability = r.choice(storage, 'durability', ['storage'], Durabilities);
      const intervalMs = r.integer(storage, 'intervalMs', ['storage'], 10, 3_600_000);
      const commitWindowMs = r.integer(storage, 'commitWindowMs', ['storage'], 0, 1000);
      config.storage = {
        type: 'embedded',
        dataDir,
        ...(durability !== undefined ? { durability } : {}),
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        ...(commitWindowMs !== undefined ? { commitWindowMs } : {}),
      };
    }
    if (storage && kind === 'redis') {
      const url = r.string(storage, 'url', ['storage']) ?? 'redis://127.0.0.1:6379';
      if (!/^rediss?:\/\//.test(url))
        r.fail(['storage', 'url'], 'url must start with redis:// or rediss:// (TLS)');
      else {
        // The store's own parser: what passes here is what the store will connect to.
        try {
          parseRedisUrl(url);
        } catch (error) {
          r.fail(['storage', 'url'], (error as Error).message);
        }
      }
      const prefix = r.string(storage, 'prefix', ['storage']);
      const commitWindowMs = r.integer(storage, 'commitWindowMs', ['storage'], 0, 1000);
      config.storage = {
        type: 'redis',
        url,
        ...(prefix !== undefined ? { prefix } : {}),
        ...(commitWindowMs !== undefined ? { commitWindowMs } : {}),
      };
    }
  }
  if (raw.cluster !== undefined) {
    const cluster = r.object(
      raw.cluster,
      ['cluster'],
      ['url', 'nodeId', 'prefix', 'leaseMs', 'redisCluster'],
      'cluster',
    );
    if (cluster) {
      const url = r.string(cluster, 'url', ['cluster']);
      if (url === undefined || !/^rediss?:\/\//.test(url)) {
        r.fail(['cluster', 'url'], 'url must start with redis:// or rediss:// (TLS)');
      } else {
        try {
          parseRedisUrl(url);
        } catch (error) {
          r.fail(['cluster', 'url'], (error as Error).message);
        }
        const nodeId = r.string(cluster, 'nodeId', ['cluster']);
        if (nodeId !== undefined && !isValidNodeId(nodeId)) {
          r.fail(['cluster', 'nodeId'], "nodeId: 1 to 64 of letters, digits, '.', '_' and '-'");
        }
        const prefix = r.string(cluster, 'prefix', ['cluster']);
        const leaseMs = r.integer(cluster, 'leaseMs', ['cluster'], 300, 600_000);
        const redisCluster = r.boolean(cluster, 'redisCluster', ['cluster']);
        if (redisCluster && /^rediss?:\/\/[^/]*\/[1-9]/.test(url)) {
          r.fail(['cluster', 'url'], 'a Redis Cluster has database 0 only');
        }
        config.cluster = {
          url,
          ...(nodeId !== undefined ? { nodeId } : {}),
          ...(prefix !== undefined ? { prefix } : {}),
          ...(leaseMs !== undefined ? { leaseMs } : {}),
          ...(redisCluster !== undefined ? { redisCluster } : {}),
        };
      }
    }
  }
  if (raw.log !== undefined) {
    const log = r.object(raw.log, ['log'], ['level', 'format'], 'log');
    if (log) {
      config.log.level = r.choice(log, 'level', ['log'], LogLevels) ?? config.log.level;
      config.log.format = r.choice(log, 'format', ['log'], LogFormats) ?? config.log.format;
    }
  }
  config.shutdownTimeout = r.integer(raw, 'shutdownTimeout', [], 0, 600_000) ?? config.shutdownTimeout;
  if (raw.trace !== undefined) config.trace = readTraces(r, raw.trace);
  if (raw.bridges !== undefined) config.bridges = readBridges(raw.bridges, r.issues);
  return { config, issues: r.issues };
}
