import { readFileSync } from 'node:fs';
import type { Broker, Logger } from '@x/broker';
import type { RuleIssue } from '@x/broker-auth';
// Only the options module: the bridges themselves (and @x/client) load when some are configured.
import type { Bridges } from '@x/broker-bridge';
import {
  type BridgeDirection,
  BridgeDirections,
  type BridgeOptions,
  type BridgeTopic,
  bridgeOptionIssues,
} from '@x/broker-bridge/options';

/**
 * One entry of `bridges:` in the config file: the bridge's options, except that `ca`, `cert` and
 * `key` name PEM files (read when the broker starts) instead of holding PEM text.
 */
export type BridgeConfig = BridgeOptions;

type Path = (string | number)[];
type Raw = Record<string, unknown>;

const BRIDGE_KEYS = [
  'name',
  'url',
  'protocol',
  'clientId',
  'username',
  'password',
  'ca',
  'cert',
  'key',
  'rejectUnauthorized',
  'servername',
  'keepalive',
  'sessionExpiryInterval',
  'reconnect',
  'inflight',
  'receiveMaximumSlack',
  'queueBytes',
  'localClientId',
  'topics',
];
const STRINGS = [
  'name',
  'url',
  'clientId',
  'username',
  'password',
  'ca',
  'cert',
  'key',
  'servername',
  'localClientId',
] as const;
const INTEGERS: Record<string, [number, number]> = {
  keepalive: [0, 65_535],
  sessionExpiryInterval: [0, 0xffffffff],
  inflight: [1, 65_535],
  receiveMaximumSlack: [0, 65_535],
  queueBytes: [1024, 2 ** 40],
};
const TOPIC_KEYS = ['filter', 'direction', 'qos', 'localPrefix', 'remotePrefix'];

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks `bridges:` (a list of bridges), recording every problem with its path in `issues`. */
export function readBridges(value: unknown, issues: RuleIssue[]): BridgeConfig[] {
  const fail = (path: Path, message: string, key = false) =>
    issues.push(key ? { path, message, key } : { path, message });
  const keysOf = (raw: Raw, path: Path, known: string[], what: string) => {
    for (const key of Object.keys(raw)) {
      if (!known.includes(key))
        fail([...path, key], `unknown key "${key}" in ${what} (expected one of ${known.join(', ')})`, true);
    }
  };
  if (!Array.isArray(value)) {
    fail(['bridges'], 'bridges must be a list of { name, url, topics }');
    return [];
  }
  const names = new Set<string>();
  const bridges: BridgeConfig[] = [];
  value.forEach((item: unknown, index: number) => {
    const path: Path = ['bridges', index];
    if (!isRecord(item)) {
      fail(path, 'a bridge must be a mapping with name, url and topics');
      return;
    }
    keysOf(item, path, BRIDGE_KEYS, 'a bridge');
    const before = issues.length;
    const out: Record<string, unknown> = {};
    for (const key of STRINGS) {
      const v = item[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v === '') fail([...path, key], `${key} must be a non-empty string`);
      else out[key] = v;
    }
    for (const key of ['name', 'url'] as const) {
      if (item[key] === undefined) fail(path, `a bridge needs \`${key}\``);
    }
    for (const [key, [min, max]] of Object.entries(INTEGERS)) {
      const v = item[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        fail([...path, key], `${key} must be an integer from ${min} to ${max}`);
      } else out[key] = v;
    }
    if (item.rejectUnauthorized !== undefined) {
      if (typeof item.rejectUnauthorized !== 'boolean')
        fail([...path, 'rejectUnauthorized'], 'rejectUnauthorized must be true or false');
      else out.rejectUnauthorized = item.rejectUnauthorized;
    }
    if (item.protocol !== undefined) {
      // YAML reads `protocol: 5` as a number and `protocol: 3.1.1` as a string.
      const protocol = String(item.protocol);
      if (protocol === '5' || protocol === '3.1.1') out.protocol = protocol;
      else fail([...path, 'protocol'], 'protocol must be 5 or 3.1.1');
    }
    if (item.reconnect !== undefined) {
      const reconnect = item.reconnect;
      if (!isRecord(reconnect))
        fail([...path, 'reconnect'], 'reconnect must be a mapping { initialDelay, maxDelay } (ms)');
      else {
        keysOf(reconnect, [...path, 'reconnect'], ['initialDelay', 'maxDelay'], 'reconnect');
        const r: Record<string, number> = {};
        for (const key of ['initialDelay', 'maxDelay']) {
          const v = reconnect[key];
          if (v === undefined) continue;
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 10 || v > 3_600_000) {
            fail([...path, 'reconnect', key], `${key} must be an integer from 10 to 3600000 (ms)`);
          } else r[key] = v;
        }
        out.reconnect = r;
      }
    }
    out.topics = readTopics(item.topics, [...path, 'topics'], fail, keysOf);
    if (issues.length > before) return;
    const bridge = out as unknown as BridgeConfig;
    // What types cannot say (URL scheme, filters, prefixes, echo on v3.1.1) the package checks.
    for (const issue of bridgeOptionIssues(bridge as BridgeOptions))
      fail([...path, ...issue.path], issue.message);
    if (names.has(bridge.name)) fail([...path, 'name'], `another bridge is already named "${bridge.name}"`);
    names.add(bridge.name);
    if (issues.length === before) bridges.push(bridge);
  });
  return bridges;
}

function readTopics(
  value: unknown,
  path: Path,
  fail: (path: Path, message: string) => void,
  keysOf: (raw: Raw, path: Path, known: string[], what: string) => void,
): BridgeTopic[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail(path, 'topics must list at least one { filter, direction }');
    return [];
  }
  const topics: BridgeTopic[] = [];
  value.forEach((item: unknown, i: number) => {
    const at = [...path, i];
    if (!isRecord(item)) {
      fail(at, 'a topic must be a mapping { filter, direction, qos, localPrefix, remotePrefix }');
      return;
    }
    keysOf(item, at, TOPIC_KEYS, 'a bridge topic');
    const topic: Partial<BridgeTopic> = {};
    if (typeof item.filter !== 'string' || item.filter === '')
      fail(at, 'a topic needs `filter` (a topic filter)');
    else topic.filter = item.filter;
    if (!BridgeDirections.includes(item.direction as BridgeDirection)) {
      fail([...at, 'direction'], `direction must be one of ${BridgeDirections.join(', ')}`);
    } else topic.direction = item.direction as BridgeDirection;
    if (item.qos !== undefined) {
      if (item.qos !== 0 && item.qos !== 1 && item.qos !== 2) fail([...at, 'qos'], 'qos must be 0, 1 or 2');
      else topic.qos = item.qos;
    }
    for (const key of ['localPrefix', 'remotePrefix'] as const) {
      const v = item[key];
      if (v === undefined) continue;
      if (typeof v !== 'string') fail([...at, key], `${key} must be a string`);
      else topic[key] = v;
    }
    topics.push(topic as BridgeTopic);
  });
  return topics;
}

/** Makes the TLS file names absolute (relative ones are relative to the config file). */
export function resolveBridgePaths(bridges: BridgeConfig[] | undefined, abs: (file: string) => string): void {
  for (const bridge of bridges ?? []) {
    for (const key of ['ca', 'cert', 'key'] as const) {
      const file = bridge[key];
      if (file !== undefined) bridge[key] = abs(file);
    }
  }
}

/** Masks the bridges' passwords for printing. */
export function maskBridges(bridges: BridgeConfig[] | undefined): void {
  for (const bridge of bridges ?? []) if (bridge.password !== undefined) bridge.password = '***';
}

/** A bridge cannot start (a TLS file cannot be read): reported in one line, exit 2. */
export class BridgeStartupError extends Error {
  readonly code = 'STARTUP_REFUSED';
}

/**
 * The bridges of the config, added to `broker` (they start with it). Called before the auth hooks are
 * added: the bridges' hook must see their own connections first. Returns undefined when none is configured.
 * @throws {BridgeStartupError} naming the bridge when a TLS file cannot be read.
 */
export async function createBridges(
  broker: Broker,
  bridges: BridgeConfig[] | undefined,
  log: Logger,
): Promise<Bridges | undefined> {
  if (bridges === undefined || bridges.length === 0) return undefined;
  const { Bridges } = await import('@x/broker-bridge');
  const set = new Bridges(broker, { logger: log });
  for (const bridge of bridges) {
    const options: BridgeOptions = { ...bridge };
    for (const key of ['ca', 'cert', 'key'] as const) {
      const file = bridge[key];
      if (file === undefined) continue;
      try {
        options[key] = readFileSync(file, 'utf8');
      } catch (error) {
        throw new BridgeStartupError(
          `bridge "${bridge.name}": cannot read ${key} file ${file}: ${(error as Error).message}`,
        );
      }
    }
    set.add(options);
  }
  return set;
}
