import { isUtf8 } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import type { Broker, InlineMessage } from '@x/broker';
import type { StatsSample, StreamDropped, StreamMessage } from './api-types.js';
import { HttpError } from './respond.js';

/** Limits of the server-sent event streams. */
export interface StreamLimits {
  /** Streams open at once (message and stats streams together). Default 16. */
  maxStreams?: number;
  /**
   * Bytes a stream may hold unsent while the browser reads slowly; messages past it are dropped
   * and counted (a `dropped` event). Default 256 KiB.
   */
  maxStreamBuffer?: number;
  /** Payload bytes shown per message; longer payloads are cut (`truncated: true`). Default 4096. */
  maxStreamPayload?: number;
}

/** Seconds of history the stats stream starts with: 15 minutes at one sample a second. */
const HISTORY = 900;
const SAMPLE_MS = 1000;
const HEARTBEAT_MS = 15_000;

function startEvents(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // Proxies (nginx) must not hold the stream back.
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Cuts a payload for display at a UTF-8 character boundary, so a cut text stays text. */
function shown(
  payload: Uint8Array,
  limit: number,
): Pick<StreamMessage, 'payload' | 'encoding' | 'truncated'> {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let end = Math.min(bytes.length, limit);
  const truncated = end < bytes.length;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  if (truncated) while (end > 0 && end > limit - 4 && (bytes[end]! & 0xc0) === 0x80) end--;
  const part = bytes.subarray(0, end);
  return isUtf8(part)
    ? { payload: part.toString('utf8'), encoding: 'utf8', truncated }
    : {
        payload: bytes.subarray(0, Math.min(bytes.length, limit)).toString('base64'),
        encoding: 'base64',
        truncated,
      };
}

interface OpenStream {
  response: ServerResponse;
  /** Writes unless the stream already holds `maxStreamBuffer` bytes; false when dropped. */
  send(text: string): boolean;
}

/**
 * The server-sent event streams of the management API: live messages of a topic filter (through the
 * broker's inline client) and the broker's figures once a second for the dashboard's charts. Each
 * stream is bounded in bytes: what a slow reader cannot take is dropped and counted, never queued
 * without end.
 */
export class StreamHub {
  readonly #broker: Broker;
  readonly #maxStreams: number;
  readonly #maxBuffer: number;
  readonly #maxPayload: number;
  readonly #streams = new Set<OpenStream>();
  readonly #statsStreams = new Set<OpenStream>();
  readonly #history: StatsSample[] = [];
  #sampler: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #last: { t: number; in: number; out: number; bytesIn: number; bytesOut: number } | undefined;

  constructor(broker: Broker, limits: StreamLimits = {}) {
    this.#broker = broker;
    this.#maxStreams = limits.maxStreams ?? 16;
    this.#maxBuffer = limits.maxStreamBuffer ?? 256 * 1024;
    this.#maxPayload = limits.maxStreamPayload ?? 4096;
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  #open(response: ServerResponse, onClose: () => void): OpenStream {
    if (this.#streams.size >= this.#maxStreams) {
      throw new HttpError(429, 'TOO_MANY_STREAMS', `at most ${this.#maxStreams} streams may be open at once`);
    }
    startEvents(response);
    const maxBuffer = this.#maxBuffer;
    const stream: OpenStream = {
      response,
      send(text) {
        if (response.writableLength > maxBuffer || response.destroyed) return false;
        response.write(text);
        return true;
      },
    };
    this.#streams.add(stream);
    this.#heartbeat ??= setInterval(() => {
      for (const s of this.#streams) s.send(': keep-alive\n\n');
    }, HEARTBEAT_MS).unref();
    response.on('close', () => {
      this.#streams.delete(stream);
      if (this.#streams.size === 0) {
        clearInterval(this.#heartbeat);
        this.#heartbeat = undefined;
      }
      onClose();
    });
    return stream;
  }

  /** `GET /api/v1/stream?filter=`: every message routed to a topic matching `filter`. */
  messages(response: ServerResponse, filter: string): void {
    let dropped = 0;
    let reported = 0;
    const maxPayload = this.#maxPayload;
    const handler = (message: InlineMessage) => {
      const body: StreamMessage = {
        topic: message.topic,
        qos: message.qos,
        retain: message.retain,
        ...shown(message.payload, maxPayload),
        bytes: message.payload.length,
        at: Date.now(),
      };
      if (dropped > reported && stream.send(event('dropped', { dropped } satisfies StreamDropped))) {
        reported = dropped;
      }
      if (!stream.send(event('message', body))) dropped++;
    };
    const stream = this.#open(response, () => this.#broker.inline.unsubscribe(filter, handler));
    // Tells the page the subscription is in place before any message (retained ones come first).
    stream.send(event('ready', { filter }));
    // Granted QoS 2, so each message shows the QoS it was published with; the inline client
    // acknowledges nothing, so this costs no state.
    this.#broker.inline.subscribe(filter, handler, 2);
    // A slow reader catches up: tell it what it missed once the socket drains.
    response.on('drain', () => {
      if (dropped > reported && stream.send(event('dropped', { dropped } satisfies StreamDropped))) {
        reported = dropped;
      }
    });
  }

  /** `GET /api/v1/stream/stats`: the last 15 minutes of samples, then one a second. */
  stats(response: ServerResponse): void {
    this.startSampling();
    const stream = this.#open(response, () => this.#statsStreams.delete(stream));
    this.#statsStreams.add(stream);
    stream.send(event('history', this.#history));
  }

  /** Ends every stream and stops the timers (the listener closes). */
  close(): void {
    clearInterval(this.#sampler);
    clearInterval(this.#heartbeat);
    this.#sampler = undefined;
    this.#heartbeat = undefined;
    for (const s of this.#streams) s.response.end();
  }

  /**
   * Starts keeping the 15-minute history (one sample a second) until {@link close}. The first stats
   * stream starts it when nothing did before, so a page opened later finds the recent history.
   */
  startSampling(): void {
    if (this.#sampler) return;
    this.#sample();
    this.#sampler = setInterval(() => this.#sample(), SAMPLE_MS).unref();
  }

  #sample(): void {
    const stats = this.#broker.refreshStats();
    const t = Date.now();
    const last = this.#last;
    const seconds = last ? Math.max((t - last.t) / 1000, 0.001) : 1;
    const rate = (now: number, before: number | undefined) =>
      before === undefined ? 0 : Math.max(0, (now - before) / seconds);
    const memory = process.memoryUsage();
    const sample: StatsSample = {
      t,
      connections: stats.clientsConnected,
      connectionsTotal: stats.connectionsTotal,
      sessions: stats.clientsTotal,
      subscriptions: stats.subscriptions,
      retained: stats.retained,
      inflight: stats.inflight,
      dropped: stats.publishDropped,
      messagesInPerSec: rate(stats.messagesReceived, last?.in),
      messagesOutPerSec: rate(stats.messagesSent, last?.out),
      bytesInPerSec: rate(stats.bytesReceived, last?.bytesIn),
      bytesOutPerSec: rate(stats.bytesSent, last?.bytesOut),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
    };
    this.#last = {
      t,
      in: stats.messagesReceived,
      out: stats.messagesSent,
      bytesIn: stats.bytesReceived,
      bytesOut: stats.bytesSent,
    };
    this.#history.push(sample);
    if (this.#history.length > HISTORY) this.#history.shift();
    const text = event('sample', sample);
    for (const s of this.#statsStreams) s.send(text);
  }
}
