import type { Delivery } from '@x/broker';
import type { PendingBatch } from './pending.js';
import { encodeMessage, encodeWill } from './publish-bytes.js';

const DELIVERY = 'flags, expires_at, subscription_ids, publish';

/**
 * Every statement a batch is written with, by index: a batch travels to the writer thread as
 * `[statement index, ...arguments]` rows (plain values and bytes, which structured clone copies).
 */
export const SQL = [
  'DELETE FROM sessions WHERE client_id = ?',
  'DELETE FROM subscriptions WHERE client_id = ?',
  'DELETE FROM queue WHERE client_id = ?',
  'DELETE FROM inflight WHERE client_id = ?',
  'DELETE FROM inbound_qos2 WHERE client_id = ?',
  `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at,
     will, will_delay, pending_will, pending_will_delay, pending_will_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  'INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)',
  'DELETE FROM subscriptions WHERE client_id = ? AND topic_filter = ?',
  `INSERT OR REPLACE INTO queue (client_id, seq, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?)`,
  'DELETE FROM queue WHERE client_id = ? AND seq = ?',
  `INSERT OR REPLACE INTO inflight (client_id, packet_id, sent_order, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  // An update of a live flow (PUBREL) keeps its place in the sending order.
  `INSERT INTO inflight (client_id, packet_id, sent_order, ${DELIVERY}) VALUES (?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (client_id, packet_id) DO UPDATE SET flags = excluded.flags, expires_at = excluded.expires_at,
     subscription_ids = excluded.subscription_ids, publish = excluded.publish`,
  'DELETE FROM inflight WHERE client_id = ? AND packet_id = ?',
  'INSERT OR IGNORE INTO inbound_qos2 VALUES (?, ?)',
  'DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?',
  'INSERT OR REPLACE INTO retained VALUES (?, ?, ?)',
  'DELETE FROM retained WHERE topic = ?',
  "INSERT OR REPLACE INTO meta VALUES ('sys_info', ?)",
  "INSERT OR REPLACE INTO meta VALUES ('probed_at', ?)",
] as const;

const S = {
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
} as const;

export type WriteOp = [statement: number, ...args: Array<string | number | Uint8Array | null>];

/** A write that changes nothing but proves the disk takes writes again. */
export function probeOp(): WriteOp {
  return [S.probe, Date.now()];
}

function flags(delivery: Delivery, released: boolean): number {
  return delivery.qos | (delivery.retain ? 4 : 0) | (released ? 8 : 0);
}

function ids(delivery: Delivery): string | null {
  const list = delivery.subscriptionIds;
  return list === undefined || list.length === 0 ? null : list.join(',');
}

/** The rows that write `batch`, in an order that respects `deleteSession` coming first. */
export function batchOps(batch: PendingBatch): WriteOp[] {
  const ops: WriteOp[] = [];
  for (const [clientId, client] of batch.clients) {
    if (client.deleted) for (const statement of S.deleteClient) ops.push([statement, clientId]);
    const session = client.session;
    if (session !== undefined) {
      ops.push([
        S.session,
        clientId,
        session.protocolVersion,
        session.expiryInterval,
        session.disconnectedAt,
        session.will === undefined ? null : encodeWill(session.will),
        session.will?.properties?.willDelayInterval ?? 0,
        session.pendingWill === undefined ? null : encodeWill(session.pendingWill.will),
        session.pendingWill?.will.properties?.willDelayInterval ?? 0,
        session.pendingWill?.dueAt ?? 0,
      ]);
    }
    for (const [topicFilter, sub] of client.subscriptions) {
      if (sub === null) ops.push([S.unsubscribe, clientId, topicFilter]);
      else {
        ops.push([
          S.subscription,
          clientId,
          topicFilter,
          sub.qos,
          sub.noLocal ? 1 : 0,
          sub.retainAsPublished ? 1 : 0,
          sub.retainHandling,
          sub.subscriptionIdentifier ?? null,
        ]);
      }
    }
    for (const [seq, d] of client.queue) {
      if (d === null) ops.push([S.dequeue, clientId, seq]);
      else {
        ops.push([
          S.queue,
          clientId,
          seq,
          flags(d, false),
          d.message.expiresAt,
          ids(d),
          encodeMessage(d.message),
        ]);
      }
    }
    for (const [packetId, flow] of client.inflight) {
      if (flow === null) ops.push([S.deleteInflight, clientId, packetId]);
      else {
        const d = flow.delivery;
        ops.push([
          flow.replaces ? S.replaceInflight : S.upsertInflight,
          clientId,
          packetId,
          flow.order,
          flags(d, flow.released),
          d.message.expiresAt,
          ids(d),
          encodeMessage(d.message),
        ]);
      }
    }
    for (const [packetId, present] of client.inboundQos2) {
      ops.push([present ? S.saveInbound : S.deleteInbound, clientId, packetId]);
    }
  }
  for (const [topic, message] of batch.retained) {
    if (message === null) ops.push([S.unretain, topic]);
    else ops.push([S.retain, topic, message.expiresAt, encodeMessage(message)]);
  }
  if (batch.sysInfo !== undefined) ops.push([S.sysInfo, JSON.stringify(batch.sysInfo)]);
  return ops;
}
