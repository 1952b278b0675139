import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { QoS } from '@x/packets';
import { PAYLOAD_HEADER_SIZE } from './payload.js';
import type { CommonOptions, ConnOptions, FleetOptions, StressOptions } from './plan.js';
import type { ScenarioName } from './result.js';
import { parseBroker, resolveTls, type TlsOptions } from './transports.js';

/**
 * Everything a caller may set, all optional, in one flat object (the CLI's flags map onto it).
 * `numClients` is the client count of every scenario: stresser workers for `stress`, connections for
 * `conn`, and the default for `publishers`/`subscribers` where a scenario takes it.
 */
export interface ScenarioInput {
  broker?: string;
  /** Publishers connect to these in turn instead of `broker` (a workload spread over cluster nodes). */
  publisherBrokers?: string[];
  /** Subscribers connect to these in turn instead of `broker`. */
  subscriberBrokers?: string[];
  /**
   * Source addresses for the client sockets, used in turn: a list of IP addresses, or a count N for
   * the loopback addresses 127.0.0.1 … 127.0.0.N (all routable on Linux; needs a loopback broker).
   * Unbound sockets share ~28 000 ephemeral ports towards one broker port; bound ones take their
   * port from bind(), which slows down as an address fills: about 10 000 connections per address.
   */
  sourceAddresses?: number | string[];
  tls?: TlsOptions;
  protocolVersion?: 4 | 5;
  /** Sets both QoS values unless they are given separately. */
  qos?: QoS;
  publisherQos?: QoS;
  subscriberQos?: QoS;
  payloadSize?: number;
  clean?: boolean;
  sessionExpiry?: number;
  username?: string;
  password?: string;
  keepalive?: number;
  retain?: boolean;
  timeoutMs?: number;
  globalTimeoutMs?: number;
  rampUpSize?: number;
  rampUpDelayMs?: number;
  connectRate?: number;
  maxInflight?: number;
  workers?: number;
  topicBase?: string;
  clientIdPrefix?: string;
  numClients?: number;
  numMessages?: number;
  pauseBetweenMessagesMs?: number;
  holdLimit?: number;
  fixReport?: boolean;
  publishers?: number;
  subscribers?: number;
  topics?: number;
  wildcard?: boolean;
  durationMs?: number;
  rate?: number;
  /** Latency of messages scheduled in this first part of publishing is not recorded (`FleetOptions`). */
  warmupMs?: number;
  drainTimeoutMs?: number;
  holdMs?: number;
  /** `conn`: each connection subscribes to a topic of its own (default false). */
  subscribe?: boolean;
}

/** A scenario's options with every default filled in. */
export interface ResolvedScenario {
  scenario: ScenarioName;
  common: CommonOptions;
  stress?: StressOptions;
  fleet?: FleetOptions;
  conn?: ConnOptions;
}

/** Invalid options: the message says which one and why. */
export class OptionError extends Error {
  override name = 'OptionError';
}

/** What the global timeout is by default, and how much it leaves beyond a planned duration. */
const GLOBAL_TIMEOUT_MS = 60_000;

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * How long the scenario's own settings make it last at least, and which flags say so: `--duration`,
 * `--num-messages` at a `--rate`, `--pause-between-messages`, `--hold`. Zero when they do not fix it.
 */
function plannedRun(out: ResolvedScenario): { ms: number; what: string } {
  const fleet = out.fleet;
  if (fleet) {
    if (fleet.numMessages === 0) {
      const ms = fleet.warmupMs + fleet.durationMs;
      const warmup = fleet.warmupMs > 0 ? ` after --warmup ${seconds(fleet.warmupMs)}` : '';
      return { ms, what: `--duration ${seconds(fleet.durationMs)}${warmup}` };
    }
    if (fleet.rate > 0 && fleet.publishers > 0) {
      const ms = ((fleet.numMessages * fleet.publishers) / fleet.rate) * 1000;
      return { ms, what: `--num-messages ${fleet.numMessages} at --rate ${fleet.rate} (${seconds(ms)})` };
    }
  }
  if (out.stress && out.stress.pauseBetweenMessagesMs > 0) {
    const ms = out.stress.numMessages * out.stress.pauseBetweenMessagesMs;
    return {
      ms,
      what: `--num-messages ${out.stress.numMessages} with --pause-between-messages (${seconds(ms)})`,
    };
  }
  if (out.conn && out.conn.holdMs > 0)
    return { ms: out.conn.holdMs, what: `--hold ${seconds(out.conn.holdMs)}` };
  return { ms: 0, what: '' };
}

function int(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || Math.floor(v) !== v || v < min || v > max) {
    throw new OptionError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return v;
}

function num(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min)
    throw new OptionError(`${name} must be a number ≥ ${min}, got ${value}`);
  return v;
}

function qos(name: string, value: number | undefined): QoS {
  const v = value ?? 0;
  if (v !== 0 && v !== 1 && v !== 2) throw new OptionError(`${name} must be 0, 1 or 2, got ${value}`);
  return v;
}

/** `sourceAddresses`: a list as given, or a count N as 127.0.0.1 … 127.0.0.N. */
function sourceAddresses(value: number | string[] | undefined, broker: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) {
    const bad = value.find((a) => isIP(a) === 0);
    if (bad !== undefined) throw new OptionError(`source address "${bad}" is not an IP address`);
    return value;
  }
  const n = int('source addresses', value, 0, 0, 254);
  if (n > 0) {
    let host: string;
    try {
      host = parseBroker(broker).host;
    } catch (error) {
      throw new OptionError((error as Error).message, { cause: error });
    }
    if (!host.startsWith('127.') && host !== 'localhost') {
      throw new OptionError(
        `--source-addresses ${n} picks loopback addresses, which cannot reach ${host}: list the addresses instead`,
      );
    }
  }
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}

/** Fills in defaults and checks ranges; throws `OptionError` on bad input. */
export function resolveScenario(scenario: ScenarioName, input: ScenarioInput): ResolvedScenario {
  if (!input.broker) throw new OptionError('a broker address is required (--broker tcp://host:1883)');
  const runId = randomBytes(3).toString('hex');
  const host = hostname();
  const stress = scenario === 'stress';
  const protocolVersion = input.protocolVersion ?? 4;
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw new OptionError(`protocol version must be 4 (3.1.1) or 5, got ${protocolVersion}`);
  }
  const common: CommonOptions = {
    broker: input.broker,
    publisherBrokers: input.publisherBrokers ?? [],
    subscriberBrokers: input.subscriberBrokers ?? [],
    sourceAddresses: sourceAddresses(input.sourceAddresses, input.broker),
    tls: input.tls ?? {},
    protocolVersion,
    publisherQos: qos('publisher QoS', input.publisherQos ?? input.qos),
    subscriberQos: qos('subscriber QoS', input.subscriberQos ?? input.qos),
    payloadSize: int(
      'payload size',
      input.payloadSize,
      stress ? PAYLOAD_HEADER_SIZE : 64,
      PAYLOAD_HEADER_SIZE,
      256 * 1024 * 1024,
    ),
    clean: input.clean ?? true,
    sessionExpiry: int('session expiry', input.sessionExpiry, 3600, 0, 0xffff_ffff),
    keepalive: int('keepalive', input.keepalive, 30, 0, 65_535),
    retain: input.retain ?? false,
    timeoutMs: num('timeout', input.timeoutMs, stress ? 5_000 : 10_000, 1),
    globalTimeoutMs: num('global timeout', input.globalTimeoutMs, GLOBAL_TIMEOUT_MS, 1),
    rampUpSize: int(
      'ramp-up size',
      input.rampUpSize !== undefined && input.rampUpSize < 0 ? 100 : input.rampUpSize,
      100,
      1,
    ),
    rampUpDelayMs: num('ramp-up delay', input.rampUpDelayMs, stress ? 500 : 0, 0),
    connectRate: num('connect rate', input.connectRate, 0, 0),
    maxInflight: int('max inflight', input.maxInflight, 100, 1, 65_535),
    workers: int('workers', input.workers, 1, 1, 256),
    topicBase: input.topicBase || (stress ? 'internal/mqtt-stresser' : `mqtt-bench/${runId}`),
    clientIdPrefix: input.clientIdPrefix || `mqtt-bench-${host}-${runId}`,
    runTag: Number.parseInt(runId.slice(0, 4), 16),
    ...(input.username !== undefined ? { username: input.username } : {}),
    ...(input.password !== undefined ? { password: input.password } : {}),
  };
  try {
    // Checked here, so a mistyped address or a missing file is a usage error, not a failed run.
    for (const broker of [common.broker, ...common.publisherBrokers, ...common.subscriberBrokers])
      parseBroker(broker);
    resolveTls(common.tls);
  } catch (error) {
    throw new OptionError((error as Error).message, { cause: error });
  }
  const out: ResolvedScenario = { scenario, common };
  if (stress) {
    out.stress = {
      numClients: int('num-clients', input.numClients, 10, 1),
      numMessages: int('num-messages', input.numMessages, 10, 1),
      pauseBetweenMessagesMs: num('pause between messages', input.pauseBetweenMessagesMs, 0, 0),
      holdLimit: int('hold limit', input.holdLimit, 100, 1),
      fixReport: input.fixReport ?? false,
    };
  } else if (scenario === 'conn') {
    out.conn = {
      clients: int('num-clients', input.numClients, 100, 1),
      holdMs: num('hold', input.holdMs, 0, 0),
      subscribe: input.subscribe ?? false,
    };
  } else {
    const latency = scenario === 'latency';
    const defaults = { pub: [10, 1], sub: [1, 10], latency: [1, 1] } as const;
    const [p, s] = defaults[scenario];
    const fleet: FleetOptions = {
      publishers: int(
        'publishers',
        input.publishers ?? (scenario === 'pub' ? input.numClients : undefined),
        p,
        0,
      ),
      subscribers: int(
        'subscribers',
        input.subscribers ?? (scenario === 'sub' ? input.numClients : undefined),
        s,
        0,
      ),
      topics: int('topics', input.topics, 1, 1),
      wildcard: input.wildcard ?? false,
      numMessages: int('num-messages', input.numMessages, input.durationMs ? 0 : latency ? 0 : 1000, 0),
      durationMs: num('duration', input.durationMs, latency ? 10_000 : 0, 0),
      rate: num('rate', input.rate, latency ? 1000 : 0, 0),
      // A message count asks for those messages to be measured: no warm-up unless one is given.
      warmupMs: num('warmup', input.warmupMs, latency && !input.numMessages ? 1000 : 0, 0),
      drainTimeoutMs: num('drain timeout', input.drainTimeoutMs, 5_000, 0),
    };
    if (latency && fleet.rate <= 0)
      throw new OptionError('the latency scenario needs a fixed --rate above 0');
    if (fleet.numMessages === 0 && fleet.durationMs <= 0) {
      throw new OptionError('give --num-messages or --duration, or publishing would never end');
    }
    if (fleet.publishers === 0 && scenario !== 'pub') {
      throw new OptionError(
        `the ${scenario} scenario needs at least one publisher: its subscribers only check the run's own messages`,
      );
    }
    if (fleet.publishers === 0 && fleet.subscribers === 0)
      throw new OptionError('nothing to run: no publishers and no subscribers');
    out.fleet = fleet;
  }
  // A run whose settings make it longer than the global timeout would be cut short: the default
  // timeout grows to fit (plus its own 60 s for connecting and draining); an explicit one is refused.
  const planned = plannedRun(out);
  if (planned.ms > 0) {
    if (input.globalTimeoutMs === undefined) {
      common.globalTimeoutMs = Math.max(GLOBAL_TIMEOUT_MS, Math.ceil(planned.ms) + GLOBAL_TIMEOUT_MS);
    } else if (planned.ms >= common.globalTimeoutMs) {
      throw new OptionError(
        `${planned.what} does not fit in --global-timeout ${seconds(common.globalTimeoutMs)}: raise --global-timeout, or leave it out and it grows to fit`,
      );
    }
  }
  return out;
}
