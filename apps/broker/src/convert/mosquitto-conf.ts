import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A line of mosquitto.conf that was not carried over (or only approximately), and why. */
export interface ConvertNote {
  source: string;
  line: number;
  text: string;
  why: string;
}

/** What converting one mosquitto.conf gives: our config as a plain object, and what did not map. */
export interface Converted {
  config: Record<string, unknown>;
  notes: ConvertNote[];
}

/** An input the converter cannot read at all (unreadable file, include loop). */
export class ConvertError extends Error {
  readonly code = 'CONVERT_FAILED';
}

interface Line {
  source: string;
  line: number;
  key: string;
  value: string;
  text: string;
}

interface MosquittoListener {
  at: Line;
  port: number;
  host: string | undefined;
  protocol: 'mqtt' | 'websockets';
  settings: Map<string, Line>;
}

/** Settings that belong to the listener above them. */
const LISTENER_KEYS = new Set([
  'protocol',
  'cafile',
  'certfile',
  'keyfile',
  'require_certificate',
  'use_identity_as_username',
  'max_connections',
  // Known to Mosquitto, kept per listener so the note names the right place.
  'capath',
  'ciphers',
  'ciphers_tls1.3',
  'tls_version',
  'mount_point',
  'socket_domain',
  'bind_interface',
  'http_dir',
  'use_subject_as_username',
  'use_username_as_clientid',
  'psk_hint',
  'tls_engine',
  'tls_keyform',
  'crlfile',
  'dhparamfile',
  'websockets_headers_size',
]);
/** Auth settings that Mosquitto keeps per listener with `per_listener_settings true`. */
const AUTH_KEYS = new Set(['allow_anonymous', 'password_file', 'acl_file']);

/** Settings of a bridge (`connection NAME` and what follows it); `bridge_*` ones too. */
const BRIDGE_KEYS = new Set([
  'address',
  'addresses',
  'cleansession',
  'clientid',
  'keepalive_interval',
  'idle_timeout',
  'local_cleansession',
  'local_clientid',
  'local_password',
  'local_username',
  'notifications',
  'notifications_local_only',
  'notification_topic',
  'password',
  'remote_clientid',
  'remote_password',
  'remote_username',
  'restart_timeout',
  'round_robin',
  'start_type',
  'threshold',
  'topic',
  'try_private',
  'username',
]);

const MAX_U32 = 0xffffffff;
const MAX_PACKET = 268_435_455;

/** Splits the text into `key value` lines, following `include_dir` (its `*.conf` files, sorted). */
function readLines(text: string, source: string, seen: Set<string>, notes: ConvertNote[]): Line[] {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const space = trimmed.search(/\s/);
    const key = space < 0 ? trimmed : trimmed.slice(0, space);
    const value = space < 0 ? '' : trimmed.slice(space + 1).trim();
    const line = { source, line: index + 1, key, value, text: trimmed };
    if (key !== 'include_dir') {
      lines.push(line);
      return;
    }
    let files: string[];
    try {
      files = readdirSync(value)
        .filter((name) => name.endsWith('.conf'))
        .sort();
    } catch (error) {
      notes.push({ ...line, why: `cannot read the directory (${(error as NodeJS.ErrnoException).code})` });
      return;
    }
    for (const name of files) {
      const file = join(value, name);
      if (seen.has(file))
        throw new ConvertError(`${source}:${index + 1}: include_dir ${value} includes ${file} twice`);
      seen.add(file);
      lines.push(...readLines(readText(file), file, seen, notes));
    }
  });
  return lines;
}

/** Reads a file, or throws a one-line {@link ConvertError}. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (error as Error).message;
    throw new ConvertError(`${file}: cannot read it (${why})`);
  }
}

/** `14d`, `2w`, `1h`, `30m`, `1y`: Mosquitto's duration, in seconds, or undefined. */
function duration(value: string): number | undefined {
  const match = /^(\d+)([hdwmy])$/.exec(value);
  if (!match) return undefined;
  const unit = { h: 3600, d: 86_400, w: 604_800, m: 2_592_000, y: 31_536_000 }[match[2] as 'h'];
  return Math.min(Number(match[1]) * unit, MAX_U32 - 1);
}

/**
 * Converts the text of a mosquitto.conf (Mosquitto 2) into this broker's config, listing every line
 * it could not carry over. The result is meant for `stringify` and then `--config`.
 */
export function convertMosquittoConf(text: string, source: string): Converted {
  const notes: ConvertNote[] = [];
  const note = (line: Line, why: string) =>
    notes.push({ source: line.source, line: line.line, text: line.text, why });
  const lines = readLines(text, source, new Set([source]), notes);

  const globals = new Map<string, Line>();
  const listeners: MosquittoListener[] = [];
  let current: MosquittoListener | undefined;
  let bridge: Line | undefined;
  const perListener = lines.some((l) => l.key === 'per_listener_settings' && l.value === 'true');
  const authByListener = new Map<MosquittoListener | undefined, Map<string, Line>>();

  for (const line of lines) {
    if (line.key === 'connection') {
      bridge = line;
      note(line, 'bridges are not converted: configure `bridges:` by hand');
      continue;
    }
    if (line.key === 'listener') {
      bridge = undefined;
      const [port, ...host] = line.value.split(/\s+/);
      if (!/^\d+$/.test(port ?? '') || Number(port) > 65_535) {
        note(line, 'the port must be 0–65535');
        current = undefined;
        continue;
      }
      current = {
        at: line,
        port: Number(port),
        host: host.length > 0 ? host.join(' ') : undefined,
        protocol: 'mqtt',
        settings: new Map(),
      };
      listeners.push(current);
      continue;
    }
    if (bridge !== undefined && (BRIDGE_KEYS.has(line.key) || line.key.startsWith('bridge_'))) {
      note(line, `part of bridge "${bridge.value}"`);
      continue;
    }
    if (AUTH_KEYS.has(line.key)) {
      const scope = perListener ? current : undefined;
      const map = authByListener.get(scope) ?? new Map<string, Line>();
      map.set(line.key, line);
      authByListener.set(scope, map);
      continue;
    }
    if (LISTENER_KEYS.has(line.key) && current !== undefined) {
      current.settings.set(line.key, line);
      continue;
    }
    globals.set(line.key, line);
  }

  const config: Record<string, unknown> = {};
  const broker: Record<string, unknown> = {};
  const consumed = new Set<Line>();
  const take = (key: string) => {
    const line = globals.get(key);
    if (line) consumed.add(line);
    return line;
  };

  // The listener Mosquitto makes from `port` / `bind_address`, or its local-only default.
  const port = take('port');
  const bindAddress = take('bind_address');
  if (port !== undefined || (listeners.length === 0 && bindAddress !== undefined)) {
    const settings = new Map<string, Line>();
    for (const key of LISTENER_KEYS) {
      const line = take(key);
      if (line) settings.set(key, line);
    }
    listeners.unshift({
      at: port ?? (bindAddress as Line),
      port: Number(port?.value ?? 1883),
      host: bindAddress?.value,
      protocol: 'mqtt',
      settings,
    });
  }
  const out: Record<string, unknown>[] = [];
  if (listeners.length === 0) {
    // Mosquitto 2 with no listener listens on loopback only.
    out.push({ type: 'tcp', host: '127.0.0.1', port: 1883 });
  }
  for (const listener of listeners) {
    const mapped = convertListener(listener, note);
    if (mapped) out.push(mapped);
  }
  config.listeners = out;
  // Mosquitto has no HTTP listener; turn ours on by hand (`http:`) for /metrics and the dashboard.
  config.http = false;

  // Auth: one set for the whole broker.
  const authSets = [...authByListener.entries()];
  const auth: Record<string, unknown> = {};
  const [first] = authSets;
  if (first) {
    const [, settings] = first;
    for (const [, other] of authSets.slice(1)) {
      for (const [key, line] of other) {
        if (settings.get(key)?.value !== line.value) {
          note(
            line,
            'per_listener_settings: this broker has one auth setup for every listener; the first listener’s is used',
          );
        }
      }
    }
    const anonymous = settings.get('allow_anonymous');
    if (anonymous) {
      if (anonymous.value === 'true' || anonymous.value === 'false')
        auth.allowAnonymous = anonymous.value === 'true';
      else note(anonymous, 'expected true or false');
    }
    const passwordFile = settings.get('password_file');
    if (passwordFile) auth.passwordFile = passwordFile.value;
    const aclFile = settings.get('acl_file');
    if (aclFile) auth.aclFile = aclFile.value;
  }
  if (auth.allowAnonymous === undefined && listeners.length > 0) {
    // Mosquitto 2 refuses anonymous clients once a listener is configured; so does this broker
    // (say so, rather than rely on the loopback rule).
    auth.allowAnonymous = false;
  }
  if (Object.keys(auth).length > 0) config.auth = auth;
  const perListenerLine = take('per_listener_settings');
  if (perListenerLine && perListenerLine.value !== 'true' && perListenerLine.value !== 'false') {
    note(perListenerLine, 'expected true or false');
  }

  // Persistence: Mosquitto keeps nothing unless asked.
  const persistence = take('persistence');
  const location = take('persistence_location');
  const autosave = take('autosave_interval');
  if (persistence?.value === 'true') {
    const storage: Record<string, unknown> = { type: 'embedded', dataDir: location?.value ?? '.' };
    if (autosave && /^\d+$/.test(autosave.value) && Number(autosave.value) > 0) {
      storage.durability = 'interval';
      storage.intervalMs = Math.min(Number(autosave.value) * 1000, 3_600_000);
    }
    config.storage = storage;
  } else {
    config.storage = { type: 'memory' };
    if (location) note(location, 'persistence is off');
  }
  const persistenceFile = take('persistence_file');
  if (persistenceFile) note(persistenceFile, 'the embedded store is a SQLite file of its own in dataDir');

  const integer = (key: string, target: string, min: number, max: number, zero?: number | 'skip') => {
    const line = take(key);
    if (!line) return;
    const value = Number(line.value);
    if (!/^-?\d+$/.test(line.value)) return note(line, 'expected a whole number');
    if (value <= 0 && zero === 'skip') return note(line, 'no limit here: this broker’s default applies');
    const mapped = value <= 0 && zero !== undefined ? (zero as number) : value;
    if (mapped < min || mapped > max) return note(line, `expected ${min} to ${max}`);
    broker[target] = mapped;
  };
  // Mosquitto's 0 means "no limit" for these.
  integer('max_queued_messages', 'maxQueuedMessages', 1, 10_000_000, 'skip');
  integer('max_queued_bytes', 'maxQueuedBytes', 1, 2 ** 40, 'skip');
  integer('max_inflight_messages', 'maxInflight', 1, 65_535, 'skip');
  integer('max_keepalive', 'maxKeepAlive', 1, 65_535, 'skip');
  integer('max_packet_size', 'maxPacketSize', 16, MAX_PACKET, 'skip');
  const sizeLimit = take('message_size_limit');
  if (sizeLimit) {
    const limit = Number(sizeLimit.value);
    if (!/^\d+$/.test(sizeLimit.value)) note(sizeLimit, 'expected a whole number');
    else if (limit > 0) {
      // A limit on the payload: the packet may also carry the topic (up to 64 KiB) and headers.
      broker.maxPacketSize ??= Math.min(limit + 65_545, MAX_PACKET);
      note(sizeLimit, `approximated: broker.maxPacketSize ${broker.maxPacketSize} limits the whole packet`);
    }
  }
  const expiration = take('persistent_client_expiration');
  if (expiration) {
    const seconds = duration(expiration.value);
    if (seconds === undefined) note(expiration, 'expected a duration like 2h, 14d, 1w, 1m, 1y');
    else broker.neverExpireAfter = seconds;
  }
  const sysInterval = take('sys_interval');
  if (sysInterval && /^\d+$/.test(sysInterval.value))
    broker.sysInterval = Math.min(Number(sysInterval.value) * 1000, 86_400_000);
  for (const [key, target] of [
    ['retain_available', 'retainAvailable'],
    ['queue_qos0_messages', 'queueQos0Messages'],
  ] as const) {
    const line = take(key);
    if (!line) continue;
    if (line.value === 'true' || line.value === 'false') broker[target] = line.value === 'true';
    else note(line, 'expected true or false');
  }
  const maxQos = take('max_qos');
  if (maxQos) {
    if (['0', '1', '2'].includes(maxQos.value)) broker.maximumQoS = Number(maxQos.value);
    else note(maxQos, 'expected 0, 1 or 2');
  }
  const prefix = take('auto_id_prefix');
  if (prefix) broker.clientIdPrefix = prefix.value;
  if (Object.keys(broker).length > 0) config.broker = broker;

  for (const line of globals.values()) {
    if (consumed.has(line)) continue;
    note(
      line,
      LISTENER_KEYS.has(line.key) ? 'belongs to a listener, and none comes before it' : 'not mapped',
    );
  }
  // The main file first, then the included ones, each by line.
  const rank = (note: ConvertNote) => (note.source === source ? '' : note.source);
  notes.sort((a, b) => rank(a).localeCompare(rank(b)) || a.line - b.line);
  return { config, notes };
}

function convertListener(
  listener: MosquittoListener,
  note: (line: Line, why: string) => void,
): Record<string, unknown> | undefined {
  const get = (key: string) => listener.settings.get(key);
  const protocol = get('protocol');
  if (protocol && protocol.value !== 'mqtt' && protocol.value !== 'websockets') {
    note(protocol, 'expected mqtt or websockets');
    return undefined;
  }
  const ws = protocol?.value === 'websockets';
  const cert = get('certfile');
  const key = get('keyfile');
  if ((cert === undefined) !== (key === undefined)) {
    note(cert ?? (key as Line), 'TLS needs both certfile and keyfile: listener skipped');
    return undefined;
  }
  const tls = cert !== undefined;
  if (listener.port === 0 && listener.host?.startsWith('/')) {
    // `listener 0 /path/to/socket`: a Unix socket.
    return { type: 'unix', path: listener.host };
  }
  const out: Record<string, unknown> = {
    type: ws ? (tls ? 'wss' : 'ws') : tls ? 'tls' : 'tcp',
    // Mosquitto listens on every interface when no address is given.
    host: listener.host ?? '0.0.0.0',
    port: listener.port,
  };
  if (ws) {
    out.path = '/mqtt';
    note(protocol as Line, 'WebSocket clients connect at path /mqtt here (Mosquitto serves every path)');
  }
  if (tls) {
    out.cert = cert.value;
    out.key = (key as Line).value;
    const ca = get('cafile');
    if (ca) out.ca = ca.value;
    const require = get('require_certificate');
    if (require?.value === 'true') out.requestCert = true;
    if (get('use_identity_as_username')?.value === 'true') out.cnAsUsername = true;
  }
  const maxConnections = get('max_connections');
  if (maxConnections && /^\d+$/.test(maxConnections.value) && Number(maxConnections.value) > 0) {
    out.maxConnections = Number(maxConnections.value);
  }
  for (const [name, line] of listener.settings) {
    if (
      [
        'protocol',
        'certfile',
        'keyfile',
        'cafile',
        'require_certificate',
        'use_identity_as_username',
        'max_connections',
      ].includes(name)
    ) {
      continue;
    }
    note(line, 'not mapped');
  }
  if (!tls && (get('cafile') || get('require_certificate'))) {
    note((get('cafile') ?? get('require_certificate')) as Line, 'TLS settings without certfile/keyfile');
  }
  return out;
}
