import type { ScenarioInput } from '@x/bench';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { collect, collectPid } from './brokers.js';

/**
 * Flags shared by every command. Names follow mqtt-stresser's where it has one (`--broker`,
 * `--num-clients`, `--num-messages`, `--publisher-qos`, `--subscriber-qos`, `--global-timeout`,
 * `--rampup-size`, `--skip-tls-verification`, …); each also reads `MQTT_BENCH_<NAME>` from the
 * environment, e.g. `MQTT_BENCH_BROKER`.
 */

/** Go-style duration (`500ms`, `5s`, `1.5m`, `1h`) in milliseconds; a bare number is seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`"${text}" is not a duration (examples: 500ms, 5s, 2m)`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return value * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

export function integer(text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v)) throw new InvalidArgumentError(`"${text}" is not an integer`);
  return v;
}

function positive(text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`"${text}" is not a number ≥ 0`);
  return v;
}

function qos(text: string): 0 | 1 | 2 {
  if (text === '0' || text === '1' || text === '2') return Number(text) as 0 | 1 | 2;
  throw new InvalidArgumentError('QoS must be 0, 1 or 2');
}

/** `--source-addresses`: a count, or a comma-separated list of addresses. */
function sourceAddresses(text: string): number | string[] {
  if (/^\d+$/.test(text.trim())) return Number(text);
  return text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
}

function protocol(text: string): 4 | 5 {
  if (['4', '3.1.1', '311'].includes(text)) return 4;
  if (['5', '5.0', '50'].includes(text)) return 5;
  throw new InvalidArgumentError('protocol must be 3.1.1 (or 4) or 5');
}

/** Adds an option whose value also comes from MQTT_BENCH_<LONG_NAME>. */
export function opt(
  command: Command,
  flags: string,
  description: string,
  parse?: (text: string, previous: unknown) => unknown,
  fallback?: unknown,
) {
  const option = new Option(flags, description);
  const long = option.long?.replace(/^--(no-)?/, '') ?? '';
  option.env(`MQTT_BENCH_${long.toUpperCase().replace(/-/g, '_')}`);
  if (parse) option.argParser(parse as (value: string, previous: unknown) => unknown);
  if (fallback !== undefined) option.default(fallback);
  command.addOption(option);
}

/** Options of every scenario: broker, protocol, QoS, payload, session, auth, TLS, timing, output. */
export function addCommonOptions(command: Command): Command {
  opt(
    command,
    '-b, --broker <url>',
    'broker address: tcp://, mqtt://, ssl://, tls://, mqtts://, ws://, wss://, or :port; repeat it (NAME=URL names one) to compare brokers side by side',
    collect,
  );
  opt(
    command,
    '--publisher-broker <url>',
    'publishers connect to these instead of --broker, in turn (repeat it: a workload spread over cluster nodes)',
    collect,
  );
  opt(command, '--subscriber-broker <url>', 'subscribers likewise (repeatable)', collect);
  opt(
    command,
    '--source-addresses <n|list>',
    'bind client sockets to these source addresses in turn: a count N (127.0.0.1 … 127.0.0.N) or a comma list; about 10 000 connections per address',
    sourceAddresses,
  );
  opt(command, '--brokers <file>', 'compare the brokers listed in a YAML/JSON file: [{ name, url, pid? }]');
  opt(
    command,
    '--broker-pid <pid>',
    'broker process id, repeatable in --broker order: its CPU per message and RSS from /proc',
    collectPid,
  );
  opt(
    command,
    '--rounds <n>',
    'compare: run the scenario this many times against each broker, interleaved (default 1)',
    integer,
  );
  opt(command, '--protocol-version <v>', 'MQTT protocol: 3.1.1 or 5 (default 3.1.1)', protocol);
  opt(command, '-q, --qos <n>', 'QoS for publishers and subscribers (0, 1, 2)', qos);
  opt(command, '--publisher-qos <n>', 'QoS of the publishes (default 0)', qos);
  opt(command, '--subscriber-qos <n>', 'QoS of the subscriptions (default 0)', qos);
  opt(command, '-s, --payload-size <bytes>', 'payload bytes, at least 28 (default 64; stress: 28)', integer);
  opt(command, '--persistent', 'persistent sessions: Clean Session / Clean Start off');
  opt(command, '--session-expiry <seconds>', 'MQTT 5 Session Expiry Interval with --persistent', integer);
  opt(command, '-u, --username <name>', 'user name');
  opt(command, '-P, --password <secret>', 'password');
  opt(command, '--keepalive <seconds>', 'Keep Alive (default 30)', integer);
  opt(command, '--retain', 'set the retain flag on publishes');
  opt(command, '--cafile <file>', 'PEM CA certificate that signed the broker certificate');
  opt(command, '--cert <file>', 'PEM client certificate (with --key)');
  opt(command, '--key <file>', 'PEM client key (with --cert)');
  opt(command, '--skip-tls-verification', 'accept any broker certificate');
  opt(command, '--insecure', 'same as --skip-tls-verification');
  opt(
    command,
    '--timeout <duration>',
    'wait for each connect/subscribe/publish (default 5s stress, 10s others)',
    parseDuration,
  );
  opt(
    command,
    '--global-timeout <duration>',
    'stop and report after this long (default 60s, plus --duration or the time --rate needs)',
    parseDuration,
  );
  opt(command, '--rampup-size <n>', 'connections per ramp-up batch (default 100)', integer);
  opt(
    command,
    '--rampup-delay <duration>',
    'pause between ramp-up batches (default 500ms stress, 0 others)',
    parseDuration,
  );
  opt(command, '--connect-rate <n>', 'connection attempts per second (default: no limit)', positive);
  opt(command, '--max-inflight <n>', 'QoS 1/2 publishes in flight per publisher (default 100)', integer);
  opt(command, '-w, --workers <k>', 'worker threads to spread the clients over (default 1)', integer);
  opt(
    command,
    '--topic-base-path <topic>',
    'topic prefix (default mqtt-bench/<run id>; stress: internal/mqtt-stresser)',
  );
  opt(command, '--client-id-prefix <prefix>', 'client id prefix (default mqtt-bench-<host>-<run id>)');
  opt(
    command,
    '--json',
    'print the result (a comparison: every round and the medians) as JSON on stdout (nothing else goes to stdout)',
  );
  opt(command, '--csv', 'print the result as CSV on stdout');
  opt(command, '--html <file>', 'write a self-contained HTML report with charts');
  opt(
    command,
    '--no-progress',
    'no progress on stderr (a live line on a terminal, else one line per second)',
  );
  return command;
}

/** Raw option values as commander hands them over. */
export type RawOptions = Record<string, unknown>;

/** Maps the common flags onto the library's input. */
export function commonInput(o: RawOptions): ScenarioInput {
  const input: ScenarioInput = {};
  const set = <K extends keyof ScenarioInput>(key: K, value: unknown) => {
    if (value !== undefined) input[key] = value as ScenarioInput[K];
  };
  // Several brokers are a comparison (see brokers.ts); a single run takes the first.
  set('broker', Array.isArray(o.broker) ? o.broker[0] : o.broker);
  set('publisherBrokers', o.publisherBroker);
  set('subscriberBrokers', o.subscriberBroker);
  set('sourceAddresses', o.sourceAddresses);
  set('protocolVersion', o.protocolVersion);
  set('qos', o.qos);
  set('publisherQos', o.publisherQos);
  set('subscriberQos', o.subscriberQos);
  set('payloadSize', o.payloadSize);
  if (o.persistent) input.clean = false;
  set('sessionExpiry', o.sessionExpiry);
  set('username', o.username);
  set('password', o.password);
  set('keepalive', o.keepalive);
  if (o.retain) input.retain = true;
  set('timeoutMs', o.timeout);
  set('globalTimeoutMs', o.globalTimeout);
  set('rampUpSize', o.rampupSize);
  set('rampUpDelayMs', o.rampupDelay);
  set('connectRate', o.connectRate);
  set('maxInflight', o.maxInflight);
  set('workers', o.workers);
  set('topicBase', o.topicBasePath);
  set('clientIdPrefix', o.clientIdPrefix);
  input.tls = {
    ...(typeof o.cafile === 'string' ? { caFile: o.cafile } : {}),
    ...(typeof o.cert === 'string' ? { certFile: o.cert } : {}),
    ...(typeof o.key === 'string' ? { keyFile: o.key } : {}),
    ...(o.skipTlsVerification || o.insecure ? { insecure: true } : {}),
  };
  return input;
}

/** Options of the fleet commands (pub, sub, latency). */
export function addFleetOptions(command: Command): Command {
  opt(command, '-p, --publishers <n>', 'publisher connections', integer);
  opt(command, '-S, --subscribers <n>', 'subscriber connections', integer);
  opt(command, '-n, --num-messages <n>', 'messages per publisher (0 = until --duration ends)', integer);
  opt(
    command,
    '-d, --duration <duration>',
    'publish for this long instead of a message count',
    parseDuration,
  );
  opt(
    command,
    '-r, --rate <msg/s>',
    'total target rate over all publishers, open loop (default: closed loop)',
    positive,
  );
  opt(
    command,
    '--warmup <duration>',
    'publish this long first without recording latency: both ends compile and size their heaps (default 1s for latency, 0 otherwise)',
    parseDuration,
  );
  opt(
    command,
    '-t, --topics <n>',
    'publisher i publishes to <base>/<i mod n>, subscriber j subscribes to <base>/<j mod n> (default 1)',
    integer,
  );
  opt(command, '--wildcard', 'every subscriber subscribes to <base>/+ (all topics)');
  opt(
    command,
    '--drain-timeout <duration>',
    'after publishing, wait this long without progress for missing messages (default 5s)',
    parseDuration,
  );
  opt(command, '-c, --num-clients <n>', 'shorthand: publishers for pub, subscribers for sub', integer);
  return command;
}

export function fleetInput(o: RawOptions): ScenarioInput {
  const input = commonInput(o);
  const set = <K extends keyof ScenarioInput>(key: K, value: unknown) => {
    if (value !== undefined) input[key] = value as ScenarioInput[K];
  };
  set('publishers', o.publishers);
  set('subscribers', o.subscribers);
  set('numClients', o.numClients);
  set('numMessages', o.numMessages);
  set('durationMs', o.duration);
  set('rate', o.rate);
  set('warmupMs', o.warmup);
  set('topics', o.topics);
  if (o.wildcard) input.wildcard = true;
  set('drainTimeoutMs', o.drainTimeout);
  return input;
}
