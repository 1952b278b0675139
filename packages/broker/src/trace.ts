import { encode, type Packet, type PacketType } from '@x/packets';
import { isValidTopicFilter, matchesFilter } from '@x/topics';
import type { ClientInfo } from './client-info.js';
import { BrokerError } from './errors.js';
import type { Hook } from './hooks.js';
import type { Logger } from './logger.js';
import { logTraceSink } from './trace-sinks.js';

/** What to trace and for how long. Give `clientId`, `topicFilter`, or both (then both must match). */
export interface TraceRequest {
  /** Every packet read from or sent to this client. */
  clientId?: string;
  /**
   * PUBLISH packets, either direction, whose topic name matches this filter. Acknowledgements carry
   * no topic, so they are not traced by filter; trace the client id to see the whole exchange.
   */
  topicFilter?: string;
  /**
   * Byte budget: the trace stops itself before its records would exceed this many bytes (each
   * record counted as its JSON line plus a newline). Default 1 MiB; at most the tracer's `maxBytes`.
   */
  maxBytes?: number;
  /** The trace stops itself after this many milliseconds; 0: only the byte budget ends it. Default 600 000 (10 min). */
  durationMs?: number;
  /** Also record the first N bytes of each PUBLISH payload, as hex. Default 0 (only the payload size). */
  payloadBytes?: number;
}

/** One traced packet: a line of the trace. */
export interface TracedPacket {
  /** The id of the trace that recorded it. */
  trace: number;
  /** `in`: read from the client; `out`: sent to it. */
  direction: 'in' | 'out';
  clientId: string;
  type: PacketType;
  packetId?: number;
  topic?: string;
  topicAlias?: number;
  qos?: number;
  /** Set flags: `dup`, `retain` (PUBLISH), `cleanStart` (CONNECT), `sessionPresent` (CONNACK). */
  flags?: string[];
  reasonCode?: number;
  /** SUBACK / UNSUBACK reason codes. */
  reasonCodes?: number[];
  /** SUBSCRIBE / UNSUBSCRIBE topic filters. */
  topicFilters?: string[];
  /** Bytes on the wire. A packet read is measured by encoding it again (equal for conforming peers). */
  size?: number;
  /** PUBLISH payload bytes. */
  payloadSize?: number;
  /** The first `payloadBytes` bytes of a PUBLISH payload, hex, when the trace asked for them. */
  payloadHex?: string;
}

/** Why a trace ended. */
export type TraceStopReason = 'stopped' | 'max-bytes' | 'duration' | 'broker-stopped';

/** A trace as `list()` shows it. */
export interface TraceInfo {
  id: number;
  clientId?: string;
  topicFilter?: string;
  maxBytes: number;
  durationMs: number;
  payloadBytes: number;
  /** ISO time the trace started. */
  startedAt: string;
  /** Packets recorded so far. */
  packets: number;
  /** Bytes of records written so far (counted against `maxBytes`). */
  bytes: number;
  active: boolean;
  stopReason?: TraceStopReason;
  /** ISO time the trace ended. */
  stoppedAt?: string;
}

/** Where a trace's records go: the log, a file, or anything that takes lines. */
export interface TraceSink {
  /** One traced packet, as fields and as its JSON line (no newline). */
  packet(record: TracedPacket, line: string): void;
  /** The trace ended; `info.stopReason` says why. Called once, last (e.g. to close a file). */
  end?(info: TraceInfo): void;
}

/** Options of {@link PacketTracer}. */
export interface PacketTracerOptions {
  /** Where traces started without a sink of their own write. Default: the broker's log. */
  sink?: TraceSink;
  /** Traces active at once; one more is refused with `TRACE_LIMIT`. Default 4. */
  maxTraces?: number;
  /** The largest byte budget a trace may ask for. Default 64 MiB. */
  maxBytes?: number;
}

/** What the tracer needs of a broker. */
export interface TraceHost {
  readonly log: Logger;
  addHook(hook: Hook): unknown;
  removeHook(hook: Hook): boolean;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_BYTES_LIMIT = 64 * 1024 * 1024;
const DEFAULT_DURATION_MS = 600_000;
const MAX_DURATION_MS = 86_400_000;
const MAX_PAYLOAD_BYTES = 1024;
/** Ended traces kept for `list()`, so a caller can see why one stopped. */
const ENDED_KEPT = 16;

interface Trace {
  info: TraceInfo;
  sink: TraceSink;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Traces packets of chosen clients or topics, both directions, one record per packet, each trace
 * bounded by a byte budget and a duration after which it stops itself and says so. While no trace
 * is active the tracer has no hook on the broker, so untraced brokers do no work per packet.
 *
 * ```ts
 * const tracer = new PacketTracer(broker);
 * const { id } = tracer.start({ clientId: 'sensor-1', maxBytes: 65_536 });
 * // … the broker's log gets one `packet traced` line per packet …
 * tracer.stop(id);
 * ```
 */
export class PacketTracer {
  readonly #host: TraceHost;
  readonly #sink: TraceSink;
  readonly #maxTraces: number;
  readonly #maxBytes: number;
  readonly #active = new Map<number, Trace>();
  readonly #ended: TraceInfo[] = [];
  #nextId = 1;
  #hooked = false;
  readonly #hook: Hook;

  constructor(host: TraceHost, options: PacketTracerOptions = {}) {
    this.#host = host;
    this.#sink = options.sink ?? logTraceSink(host.log);
    this.#maxTraces = options.maxTraces ?? 4;
    this.#maxBytes = options.maxBytes ?? MAX_BYTES_LIMIT;
    this.#hook = {
      id: 'packet-tracer',
      onPacketRead: (client, packet) => {
        this.#record('in', client, packet, undefined);
        return packet;
      },
      onPacketSent: (client, packet, bytes) => this.#record('out', client, packet, bytes),
      onStopped: () => this.stopAll('broker-stopped'),
    };
  }

  /**
   * Starts a trace. Throws a `BrokerError`: `INVALID_TRACE` for a bad request, `TRACE_LIMIT` when
   * `maxTraces` are already active. `sink` overrides the tracer's for this trace (e.g. a file).
   */
  start(request: TraceRequest, sink?: TraceSink): TraceInfo {
    const info = this.#check(request);
    if (this.#active.size >= this.#maxTraces) {
      throw new BrokerError('TRACE_LIMIT', `${this.#maxTraces} traces are active; stop one first`);
    }
    const trace: Trace = { info, sink: sink ?? this.#sink, timer: undefined };
    if (info.durationMs > 0) {
      trace.timer = setTimeout(() => this.#end(trace, 'duration'), info.durationMs);
      trace.timer.unref();
    }
    this.#active.set(info.id, trace);
    if (!this.#hooked) {
      this.#hooked = true;
      this.#host.addHook(this.#hook);
    }
    this.#host.log.info(logFields(info), 'trace started');
    return { ...info };
  }

  /** Stops a trace; returns its final figures, or undefined when no active trace has this id. */
  stop(id: number): TraceInfo | undefined {
    const trace = this.#active.get(id);
    if (trace === undefined) return undefined;
    this.#end(trace, 'stopped');
    return { ...trace.info };
  }

  /** Stops every active trace. */
  stopAll(reason: TraceStopReason = 'stopped'): void {
    for (const trace of [...this.#active.values()]) this.#end(trace, reason);
  }

  /** One trace by id, active or among the last ended ones. */
  get(id: number): TraceInfo | undefined {
    const info = this.#active.get(id)?.info ?? this.#ended.find((t) => t.id === id);
    return info === undefined ? undefined : { ...info };
  }

  /** The active traces, then the last 16 ended ones (newest first). */
  list(): TraceInfo[] {
    return [...[...this.#active.values()].map((t) => t.info), ...this.#ended].map((info) => ({ ...info }));
  }

  #check(request: TraceRequest): TraceInfo {
    return {
      id: this.#nextId++,
      ...checked(request, this.#maxBytes),
      startedAt: new Date().toISOString(),
      packets: 0,
      bytes: 0,
      active: true,
    };
  }

  #record(direction: 'in' | 'out', client: ClientInfo, packet: Packet, bytes: number | undefined): void {
    // A CONNECT is read before the client has its id.
    const clientId = packet.type === 'connect' ? packet.clientId : client.id;
    for (const trace of this.#active.values()) {
      const { info } = trace;
      if (info.clientId !== undefined && info.clientId !== clientId) continue;
      if (
        info.topicFilter !== undefined &&
        (packet.type !== 'publish' || !matchesFilter(info.topicFilter, packet.topic))
      )
        continue;
      const size = bytes ?? encodedSize(packet, client);
      const record = describe(info.id, direction, clientId, packet, size, info.payloadBytes);
      const line = JSON.stringify(record);
      const cost = Buffer.byteLength(line) + 1;
      if (info.bytes + cost > info.maxBytes) {
        this.#end(trace, 'max-bytes');
        continue;
      }
      info.bytes += cost;
      info.packets++;
      trace.sink.packet(record, line);
    }
  }

  #end(trace: Trace, reason: TraceStopReason): void {
    const { info } = trace;
    if (!this.#active.delete(info.id)) return;
    if (trace.timer !== undefined) clearTimeout(trace.timer);
    info.active = false;
    info.stopReason = reason;
    info.stoppedAt = new Date().toISOString();
    this.#ended.unshift(info);
    if (this.#ended.length > ENDED_KEPT) this.#ended.pop();
    if (this.#active.size === 0 && this.#hooked) {
      this.#hooked = false;
      this.#host.removeHook(this.#hook);
    }
    // Said in the broker's log whatever the sink, so an operator sees why the trace went quiet.
    this.#host.log.info(logFields(info), 'trace stopped');
    trace.sink.end?.({ ...info });
  }
}

type CheckedRequest = Pick<
  TraceInfo,
  'clientId' | 'topicFilter' | 'maxBytes' | 'durationMs' | 'payloadBytes'
>;

/** The request with its defaults filled in; throws `INVALID_TRACE` naming the first problem. */
function checked(request: TraceRequest, maxBytesLimit: number): CheckedRequest {
  const { clientId, topicFilter } = request;
  const invalid = (detail: string) => new BrokerError('INVALID_TRACE', detail);
  if (clientId === undefined && topicFilter === undefined) throw invalid('give a clientId or a topicFilter');
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) {
    throw invalid('clientId must be a non-empty string');
  }
  if (topicFilter !== undefined && (typeof topicFilter !== 'string' || !isValidTopicFilter(topicFilter))) {
    throw invalid('topicFilter must be a valid topic filter');
  }
  const integer = (value: unknown, name: string, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(`${name} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
  return {
    ...(clientId !== undefined ? { clientId } : {}),
    ...(topicFilter !== undefined ? { topicFilter } : {}),
    maxBytes: integer(request.maxBytes, 'maxBytes', 1, maxBytesLimit, DEFAULT_MAX_BYTES),
    durationMs: integer(request.durationMs, 'durationMs', 0, MAX_DURATION_MS, DEFAULT_DURATION_MS),
    payloadBytes: integer(request.payloadBytes, 'payloadBytes', 0, MAX_PAYLOAD_BYTES, 0),
  };
}

/**
 * Why `PacketTracer.start` would refuse this request (the first problem, as a sentence), or
 * undefined when it is valid: for hosts that check traces in their config before starting.
 * `maxBytes`: the tracer's limit, default 64 MiB.
 */
export function traceRequestProblem(request: TraceRequest, maxBytes = MAX_BYTES_LIMIT): string | undefined {
  try {
    checked(request, maxBytes);
    return undefined;
  } catch (error) {
    return (error as BrokerError).message.replace(/^[^:]*: /, '');
  }
}

function logFields(info: TraceInfo): object {
  const { id, ...rest } = info;
  return { trace: id, ...rest };
}

function encodedSize(packet: Packet, client: ClientInfo): number | undefined {
  try {
    return encode(packet, packet.type === 'connect' ? packet.protocolVersion : client.protocolVersion).length;
  } catch {
    return undefined;
  }
}

/** The fields of one packet worth a trace line; never the payload beyond `payloadBytes`. */
function describe(
  trace: number,
  direction: 'in' | 'out',
  clientId: string,
  packet: Packet,
  size: number | undefined,
  payloadBytes: number,
): TracedPacket {
  const record: TracedPacket = { trace, direction, clientId, type: packet.type };
  switch (packet.type) {
    case 'connect':
      if (packet.clean) record.flags = ['cleanStart'];
      break;
    case 'connack':
      record.reasonCode = packet.reasonCode;
      if (packet.sessionPresent) record.flags = ['sessionPresent'];
      break;
    case 'publish': {
      if (packet.packetId !== undefined) record.packetId = packet.packetId;
      record.topic = packet.topic;
      const alias = packet.properties?.topicAlias;
      if (alias !== undefined) record.topicAlias = alias;
      record.qos = packet.qos;
      const flags = [];
      if (packet.dup) flags.push('dup');
      if (packet.retain) flags.push('retain');
      if (flags.length > 0) record.flags = flags;
      record.payloadSize = packet.payload.length;
      if (payloadBytes > 0) {
        record.payloadHex = Buffer.from(
          packet.payload.buffer,
          packet.payload.byteOffset,
          Math.min(payloadBytes, packet.payload.length),
        ).toString('hex');
      }
      break;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      record.packetId = packet.packetId;
      if (packet.reasonCode !== undefined) record.reasonCode = packet.reasonCode;
      break;
    case 'subscribe':
      record.packetId = packet.packetId;
      record.topicFilters = packet.subscriptions.map((s) => s.topicFilter);
      break;
    case 'unsubscribe':
      record.packetId = packet.packetId;
      record.topicFilters = packet.topicFilters;
      break;
    case 'suback':
    case 'unsuback':
      record.packetId = packet.packetId;
      if (packet.reasonCodes !== undefined) record.reasonCodes = packet.reasonCodes;
      break;
    case 'disconnect':
    case 'auth':
      if (packet.reasonCode !== undefined) record.reasonCode = packet.reasonCode;
      break;
  }
  if (size !== undefined) record.size = size;
  return record;
}
