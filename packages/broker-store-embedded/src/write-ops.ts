import {
  type Delivery,
  encodeStoredWill,
  type Message,
  storedMessageBound,
  writeStoredMessage,
} from '@x/broker';
import type { PendingBatch } from './pending.js';

const DELIVERY = 'flags, expires_at, subscription_ids, publish';

/**
 * Every statement a batch is written with, by index, and the kinds of its parameters:
 * `c` the current client id, `t` text, `n` a number, `N` a number or NULL, `s` text or NULL,
 * `b` bytes or NULL.
 */
export const STATEMENTS: ReadonlyArray<readonly [sql: string, params: string]> = [
  ['DELETE FROM sessions WHERE client_id = ?', 'c'],
  ['DELETE FROM subscriptions WHERE client_id = ?', 'c'],
  ['DELETE FROM queue WHERE client_id = ?', 'c'],
  ['DELETE FROM inflight WHERE client_id = ?', 'c'],
  ['DELETE FROM inbound_qos2 WHERE client_id = ?', 'c'],
  [
    `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at,
     will, will_delay, pending_will, pending_will_delay, pending_will_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    'cnnnbnbnn',
  ],
  ['INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)', 'ctnnnnN'],
  ['DELETE FROM subscriptions WHERE client_id = ? AND topic_filter = ?', 'ct'],
  [`INSERT OR REPLACE INTO queue (client_id, seq, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?)`, 'cnnnsb'],
  ['DELETE FROM queue WHERE client_id = ? AND seq = ?', 'cn'],
  [
    `INSERT OR REPLACE INTO inflight (client_id, packet_id, sent_order, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    'cnnnnsb',
  ],
  // An update of a live flow (PUBREL) keeps its place in the sending order.
  [
    `INSERT INTO inflight (client_id, packet_id, sent_order, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (client_id, packet_id) DO UPDATE SET flags = excluded.flags, expires_at = excluded.expires_at,
     subscription_ids = excluded.subscription_ids, publish = excluded.publish`,
    'cnnnnsb',
  ],
  ['DELETE FROM inflight WHERE client_id = ? AND packet_id = ?', 'cn'],
  ['INSERT OR IGNORE INTO inbound_qos2 VALUES (?, ?)', 'cn'],
  ['DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?', 'cn'],
  ['INSERT OR REPLACE INTO retained VALUES (?, ?, ?)', 'tnb'],
  ['DELETE FROM retained WHERE topic = ?', 't'],
  ["INSERT OR REPLACE INTO meta VALUES ('sys_info', ?)", 't'],
  ["INSERT OR REPLACE INTO meta VALUES ('probed_at', ?)", 'n'],
  // A run of consecutive sequence numbers or packet ids deleted together (one statement, not one
  // per row: a queue drains from its head, so its deletes come in runs).
  ['DELETE FROM queue WHERE client_id = ? AND seq BETWEEN ? AND ?', 'cnn'],
  ['DELETE FROM inflight WHERE client_id = ? AND packet_id BETWEEN ? AND ?', 'cnn'],
];

/** Statement index of each write. */
export const S = {
  deleteClient: [0, 1, 2, 3, 4],
  session: 5,
  subscription: 6,
  unsubscribe: 7,
  queue: 8,
  dequeue: 9,
  replaceInflight: 10,
  upsertInflight: 11,
  deleteInflight: 12,
  saveInbound: 13,
  deleteInbound: 14,
  retain: 15,
  unretain: 16,
  sysInfo: 17,
  probe: 18,
  dequeueRun: 19,
  deleteInflightRun: 20,
} as const;

/** The byte that starts a new current client id (`c` parameters) instead of a statement. */
export const CLIENT = 0xff;
/** Length prefix of a NULL text or bytes parameter. */
export const NULL_LENGTH = 0xffffffff;

/**
 * A batch as it travels to the writer thread: `[statement][parameters]` records in shared memory,
 * so postMessage sends a reference. Rows of JavaScript values cost more main-thread time in the
 * structured clone than SQLite spent writing them, and moving (transferring) a fresh ArrayBuffer
 * per batch cost about 150 µs a post (profiled): the buffers are reused instead (`SharedBuffers`).
 */
export interface EncodedBatch {
  buffer: SharedArrayBuffer;
  length: number;
  /** Number of statements. */
  ops: number;
}

/**
 * Spare shared buffers for batches: one is taken per batch and given back once the writer thread
 * has answered for it. Buffers above `maxKeptBytes` (a burst) are left to the garbage collector.
 */
export class SharedBuffers {
  readonly #spare: SharedArrayBuffer[] = [];
  readonly #maxKeptBytes: number;

  constructor(maxKeptBytes = 1024 * 1024) {
    this.#maxKeptBytes = maxKeptBytes;
  }

  take(minBytes: number): SharedArrayBuffer {
    const spare = this.#spare.pop();
    if (spare !== undefined && spare.byteLength >= minBytes) return spare;
    return new SharedArrayBuffer(Math.max(64 * 1024, minBytes));
  }

  give(buffer: SharedArrayBuffer): void {
    if (buffer.byteLength <= this.#maxKeptBytes && this.#spare.length < 4) this.#spare.push(buffer);
  }
}

/**
 * Writes statements into one growing buffer. Numbers are float64 (timestamps need more than 32
 * bits); text and bytes carry a uint32 length; a client id is written once per run of statements
 * about the same client.
 */
export class BatchEncoder {
  readonly #buffers: SharedBuffers;
  #shared: SharedArrayBuffer;
  #buf: Buffer;
  #offset = 0;
  #ops = 0;
  #client: string | undefined;
  /** Where each message's PUBLISH bytes already are in this batch (a message queued for many sessions). */
  #messages = new Map<Message, number>();

  constructor(buffers: SharedBuffers, sizeHint = 0) {
    this.#buffers = buffers;
    this.#shared = buffers.take(sizeHint);
    this.#buf = Buffer.from(this.#shared);
  }

  get ops(): number {
    return this.#ops;
  }

  /** Starts a statement; `client` for statements with a `c` parameter. */
  op(statement: number, client?: string): this {
    if (client !== undefined && client !== this.#client) {
      this.#client = client;
      this.#reserve(1);
      this.#buf[this.#offset++] = CLIENT;
      this.text(client);
    }
    this.#reserve(1);
    this.#buf[this.#offset++] = statement;
    this.#ops++;
    return this;
  }

  number(value: number): this {
    this.#reserve(8);
    this.#offset = this.#buf.writeDoubleLE(value, this.#offset);
    return this;
  }

  /** A `N` parameter. */
  numberOrNull(value: number | null): this {
    this.#reserve(9);
    if (value === null) this.#buf[this.#offset++] = 0;
    else {
      this.#buf[this.#offset++] = 1;
      this.#offset = this.#buf.writeDoubleLE(value, this.#offset);
    }
    return this;
  }

  /** A `t` or `s` parameter. */
  text(value: string | null): this {
    if (value === null) return this.#length(NULL_LENGTH);
    // At most 3 UTF-8 bytes per UTF-16 unit.
    this.#reserve(4 + value.length * 3);
    const written = this.#buf.write(value, this.#offset + 4, 'utf8');
    this.#buf.writeUInt32LE(written, this.#offset);
    this.#offset += 4 + written;
    return this;
  }

  /** A `b` parameter. */
  bytes(value: Uint8Array | null): this {
    if (value === null) return this.#length(NULL_LENGTH);
    this.#reserve(4 + value.length);
    this.#buf.writeUInt32LE(value.length, this.#offset);
    this.#buf.set(value, this.#offset + 4);
    this.#offset += 4 + value.length;
    return this;
  }

  /** A `b` parameter: the message as stored PUBLISH bytes, encoded once per batch. */
  message(message: Message): this {
    const at = this.#messages.get(message);
    if (at === undefined) {
      this.#messages.set(message, this.#offset);
      this.#reserve(4 + storedMessageBound(message));
      const written = writeStoredMessage(message, this.#buf, this.#offset + 4);
      this.#buf.writeUInt32LE(written, this.#offset);
      this.#offset += 4 + written;
      return this;
    }
    const size = this.#buf.readUInt32LE(at) + 4;
    this.#reserve(size);
    this.#buf.copy(this.#buf, this.#offset, at, at + size);
    this.#offset += size;
    return this;
  }

  finish(): EncodedBatch {
    return { buffer: this.#shared, length: this.#offset, ops: this.#ops };
  }

  #length(length: number): this {
    this.#reserve(4);
    this.#offset = this.#buf.writeUInt32LE(length, this.#offset);
    return this;
  }

  #reserve(bytes: number): void {
    if (this.#offset + bytes <= this.#buf.length) return;
    const shared = this.#buffers.take(Math.max(this.#buf.length * 2, this.#offset + bytes));
    const bigger = Buffer.from(shared);
    this.#buf.copy(bigger, 0, 0, this.#offset);
    this.#buffers.give(this.#shared);
    this.#shared = shared;
    this.#buf = bigger;
  }
}

/** A write that changes nothing but proves the disk takes writes again. */
export function probeBatch(buffers: SharedBuffers): EncodedBatch {
  return new BatchEncoder(buffers).op(S.probe).number(Date.now()).finish();
}

function flags(delivery: Delivery, released: boolean): number {
  return delivery.qos | (delivery.retain ? 4 : 0) | (released ? 8 : 0);
}

function ids(delivery: Delivery): string | null {
  const list = delivery.subscriptionIds;
  return list === undefined || list.length === 0 ? null : list.join(',');
}

/**
 * Deletes of one client's rows by number, written as runs: keys given in a row, each one above the
 * last, become one range delete. Only keys this batch deletes are in a run, so the range never
 * covers a row that stays.
 */
class DeleteRuns {
  readonly #out: BatchEncoder;
  readonly #clientId: string;
  readonly #one: number;
  readonly #run: number;
  #first = -1;
  #last = -1;

  constructor(out: BatchEncoder, clientId: string, one: number, run: number) {
    this.#out = out;
    this.#clientId = clientId;
    this.#one = one;
    this.#run = run;
  }

  add(key: number): void {
    if (this.#first >= 0 && key === this.#last + 1) {
      this.#last = key;
      return;
    }
    this.end();
    this.#first = this.#last = key;
  }

  end(): void {
    if (this.#first < 0) return;
    if (this.#first === this.#last) this.#out.op(this.#one, this.#clientId).number(this.#first);
    else this.#out.op(this.#run, this.#clientId).number(this.#first).number(this.#last);
    this.#first = -1;
  }
}

/** The statements that write `batch`, in an order that respects `deleteSession` coming first. */
export function encodeBatch(batch: PendingBatch, buffers: SharedBuffers): EncodedBatch {
  const out = new BatchEncoder(buffers);
  for (const [clientId, client] of batch.clients) {
    if (client.deleted) for (const statement of S.deleteClient) out.op(statement, clientId);
    const session = client.session;
    if (session !== undefined) {
      out
        .op(S.session, clientId)
        .number(session.protocolVersion)
        .number(session.expiryInterval)
        .number(session.disconnectedAt)
        .bytes(session.will === undefined ? null : encodeStoredWill(session.will))
        .number(session.will?.properties?.willDelayInterval ?? 0)
        .bytes(session.pendingWill === undefined ? null : encodeStoredWill(session.pendingWill.will))
        .number(session.pendingWill?.will.properties?.willDelayInterval ?? 0)
        .number(session.pendingWill?.dueAt ?? 0);
    }
    for (const [topicFilter, sub] of client.subscriptions) {
      if (sub === null) out.op(S.unsubscribe, clientId).text(topicFilter);
      else {
        out
          .op(S.subscription, clientId)
          .text(topicFilter)
          .number(sub.qos)
          .number(sub.noLocal ? 1 : 0)
          .number(sub.retainAsPublished ? 1 : 0)
          .number(sub.retainHandling)
          .numberOrNull(sub.subscriptionIdentifier ?? null);
      }
    }
    const dequeued = new DeleteRuns(out, clientId, S.dequeue, S.dequeueRun);
    for (const [seq, d] of client.queue) {
      if (d === null) dequeued.add(seq);
      else {
        out
          .op(S.queue, clientId)
          .number(seq)
          .number(flags(d, false))
          .number(d.message.expiresAt)
          .text(ids(d))
          .message(d.message);
      }
    }
    dequeued.end();
    const completed = new DeleteRuns(out, clientId, S.deleteInflight, S.deleteInflightRun);
    for (const [packetId, flow] of client.inflight) {
      if (flow === null) completed.add(packetId);
      else {
        const d = flow.delivery;
        out
          .op(flow.replaces ? S.replaceInflight : S.upsertInflight, clientId)
          .number(packetId)
          .number(flow.order)
          .number(flags(d, flow.released))
          .number(d.message.expiresAt)
          .text(ids(d))
          .message(d.message);
      }
    }
    completed.end();
    for (const [packetId, present] of client.inboundQos2) {
      out.op(present ? S.saveInbound : S.deleteInbound, clientId).number(packetId);
    }
  }
  for (const [topic, message] of batch.retained) {
    if (message === null) out.op(S.unretain).text(topic);
    else out.op(S.retain).text(topic).number(message.expiresAt).message(message);
  }
  if (batch.sysInfo !== undefined) out.op(S.sysInfo).text(JSON.stringify(batch.sysInfo));
  return out.finish();
}
