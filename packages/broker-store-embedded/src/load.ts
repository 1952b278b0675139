import {
  type Delivery,
  decodeStoredPublish,
  decodeStoredWill,
  type Logger,
  NEVER_EXPIRES,
  type SessionSubscription,
  type StoredState,
  type SysInfo,
  storedMessage,
} from '@x/broker';
import type { ProtocolVersion, QoS } from '@x/packets';
import type Database from 'better-sqlite3';

type StoredSessionState = StoredState['sessions'][number];

interface SessionRow {
  client_id: string;
  protocol_version: number;
  expiry_interval: number;
  disconnected_at: number;
  will: Buffer | null;
  will_delay: number;
  pending_will: Buffer | null;
  pending_will_delay: number;
  pending_will_due: number;
}

interface DeliveryRow {
  client_id: string;
  key: number;
  flags: number;
  expires_at: number;
  subscription_ids: string | null;
  publish: Buffer;
}

/** A delivery from its columns. */
export function rowDelivery(flags: number, expiresAt: number, ids: string | null, publish: Buffer): Delivery {
  const packet = decodeStoredPublish(publish);
  return {
    message: storedMessage(
      packet.topic,
      packet.payload,
      packet.qos,
      packet.retain,
      packet.properties,
      expiresAt,
    ),
    qos: (flags & 3) as QoS,
    retain: (flags & 4) !== 0,
    subscriptionIds: ids === null ? undefined : ids.split(',').map(Number),
  };
}

/**
 * Reads the whole state, deleting (in the caller's transaction) what expired while the broker was
 * down: sessions past their expiry that owe no will, queued and retained messages past their
 * Message Expiry Interval [MQTT-3.3.2-5], and rows of sessions that are gone. In-flight messages
 * stay: their delivery has started. A row that does not decode is logged and left in place.
 */
export function loadState(db: Database.Database, now: number, logger: Logger): StoredState {
  const sessions = new Map<string, StoredSessionState>();
  const deleteClient = clientDeleter(db);

  for (const row of db.prepare('SELECT * FROM sessions').all() as SessionRow[]) {
    let pendingWill: StoredSessionState['pendingWill'];
    let will: StoredSessionState['will'];
    try {
      if (row.pending_will !== null) {
        pendingWill = {
          will: decodeStoredWill(row.pending_will, row.pending_will_delay || undefined),
          dueAt: row.pending_will_due,
        };
      }
      if (row.will !== null) will = decodeStoredWill(row.will, row.will_delay || undefined);
    } catch (error) {
      logger.error(
        { clientId: row.client_id, err: error },
        'stored will does not decode; session loaded without it',
      );
    }
    const expired =
      row.disconnected_at !== 0 &&
      row.expiry_interval !== NEVER_EXPIRES &&
      row.disconnected_at + row.expiry_interval * 1000 < now;
    // An expired session that still owes its delayed will is kept so the broker publishes it.
    if (expired && pendingWill === undefined) {
      deleteClient(row.client_id);
      continue;
    }
    sessions.set(row.client_id, {
      clientId: row.client_id,
      protocolVersion: row.protocol_version as ProtocolVersion,
      expiryInterval: row.expiry_interval,
      disconnectedAt: row.disconnected_at,
      will,
      pendingWill,
      subscriptions: [],
      queue: [],
      inflight: [],
      inboundQos2: [],
    });
  }

  const orphans = new Set<string>();
  const owner = (clientId: string): StoredSessionState | undefined => {
    const session = sessions.get(clientId);
    if (session === undefined) orphans.add(clientId);
    return session;
  };

  const subscriptions = db.prepare('SELECT * FROM subscriptions').all() as Array<{
    client_id: string;
    topic_filter: string;
    qos: number;
    no_local: number;
    retain_as_published: number;
    retain_handling: number;
    subscription_identifier: number | null;
  }>;
  for (const row of subscriptions) {
    const subscription: SessionSubscription = {
      topicFilter: row.topic_filter,
      qos: row.qos as QoS,
      noLocal: row.no_local === 1,
      retainAsPublished: row.retain_as_published === 1,
      retainHandling: row.retain_handling as 0 | 1 | 2,
      subscriptionIdentifier: row.subscription_identifier ?? undefined,
    };
    owner(row.client_id)?.subscriptions.push(subscription);
  }

  const dequeue = db.prepare('DELETE FROM queue WHERE client_id = ? AND seq = ?');
  const queued = db
    .prepare(
      'SELECT client_id, seq AS key, flags, expires_at, subscription_ids, publish FROM queue ORDER BY client_id, seq',
    )
    .all() as Array<DeliveryRow>;
  for (const row of queued) {
    const session = owner(row.client_id);
    if (session === undefined) continue;
    if (row.expires_at !== 0 && row.expires_at <= now) {
      dequeue.run(row.client_id, row.key); // [MQTT-3.3.2-5]
      continue;
    }
    const delivery = decodeRow(row, logger, 'queued');
    // The broker numbers what it queues next from the highest seq it finds.
    if (delivery !== undefined) session.queue.push(Object.assign(delivery, { seq: row.key }));
  }

  const inflight = db
    .prepare(
      `SELECT client_id, packet_id AS key, flags, expires_at, subscription_ids, publish
       FROM inflight ORDER BY client_id, sent_order`,
    )
    .all() as Array<DeliveryRow>;
  for (const row of inflight) {
    const session = owner(row.client_id);
    if (session === undefined) continue;
    const delivery = decodeRow(row, logger, 'in-flight');
    if (delivery !== undefined) {
      session.inflight.push({ packetId: row.key, delivery, released: (row.flags & 8) !== 0 });
    }
  }

  const inbound = db.prepare('SELECT client_id, packet_id FROM inbound_qos2 ORDER BY client_id, packet_id');
  for (const row of inbound.all() as Array<{ client_id: string; packet_id: number }>) {
    owner(row.client_id)?.inboundQos2.push(row.packet_id);
  }

  for (const clientId of orphans) deleteClient(clientId);

  const retained: StoredState['retained'] = [];
  const unretain = db.prepare('DELETE FROM retained WHERE topic = ?');
  const retainedRows = db.prepare('SELECT topic, expires_at, publish FROM retained').all() as Array<{
    topic: string;
    expires_at: number;
    publish: Buffer;
  }>;
  for (const row of retainedRows) {
    if (row.expires_at !== 0 && row.expires_at <= now) {
      unretain.run(row.topic); // [MQTT-3.3.2-5]
      continue;
    }
    try {
      const packet = decodeStoredPublish(row.publish);
      retained.push(
        storedMessage(packet.topic, packet.payload, packet.qos, true, packet.properties, row.expires_at),
      );
    } catch (error) {
      logger.error({ topic: row.topic, err: error }, 'stored retained message does not decode; skipped');
    }
  }

  const sys = db.prepare("SELECT value FROM meta WHERE key = 'sys_info'").get() as
    | { value: string }
    | undefined;
  let sysInfo: Partial<SysInfo> | undefined;
  if (sys !== undefined) {
    try {
      sysInfo = JSON.parse(sys.value) as Partial<SysInfo>;
    } catch (error) {
      logger.error({ err: error }, 'stored $SYS counters do not decode; starting from zero');
    }
  }

  return { sessions: [...sessions.values()], retained, sysInfo };
}

function decodeRow(row: DeliveryRow, logger: Logger, what: string): Delivery | undefined {
  try {
    return rowDelivery(row.flags, row.expires_at, row.subscription_ids, row.publish);
  } catch (error) {
    logger.error(
      { clientId: row.client_id, key: row.key, err: error },
      `stored ${what} message does not decode; skipped`,
    );
    return undefined;
  }
}

/** Deletes a client's session and every row that belongs to it. */
export function clientDeleter(db: Database.Database): (clientId: string) => void {
  const statements = ['sessions', 'subscriptions', 'queue', 'inflight', 'inbound_qos2'].map((table) =>
    db.prepare(`DELETE FROM ${table} WHERE client_id = ?`),
  );
  return (clientId) => {
    for (const statement of statements) statement.run(clientId);
  };
}
