import {
  type Delivery,
  type Logger,
  NEVER_EXPIRES,
  type SessionSubscription,
  type StoredInflight,
  type StoredState,
  type SysInfo,
} from '@x/broker';
import type { Cluster, Redis } from 'ioredis';
import { decodeMessage, decodeSession, decodeSubscription } from './records.js';
import { type StoreKeys, SYS_COUNTERS } from './redis-keys.js';
import type { WriteBatch } from './write-batch.js';

type LoadedSession = StoredState['sessions'][number];

/** Sessions whose keys are read at once (four reads each, one pipeline per session). */
const SLICE = 256;

/**
 * Reads everything a store holds. Expired sessions without a will still owed, expired queued
 * messages and expired retained messages are left out and their deletion recorded in `purge`.
 * An entry that does not decode is logged and left out rather than failing the start.
 */
export async function loadState(
  redis: Redis | Cluster,
  keys: StoreKeys,
  purge: WriteBatch,
  log: Logger,
  /** When each in-flight delivery was first sent, to keep that order when its state changes. */
  order: WeakMap<Delivery, number>,
): Promise<StoredState> {
  const now = Date.now();
  const [clients, retained, sys] = await Promise.all([
    redis.hgetall(keys.clients),
    redis.hgetallBuffer(keys.retained),
    redis.hgetall(keys.sys),
  ]);
  const skip = skipper(log);

  const sessions: LoadedSession[] = [];
  for (const [clientId, json] of Object.entries(clients)) {
    const session = readSession(clientId, json, keys, purge, now, skip);
    if (session !== undefined) sessions.push(session);
  }
  await readSessionKeys(redis, keys, sessions, purge, now, skip, order);

  const messages = [];
  for (const [topic, record] of Object.entries(retained)) {
    try {
      const { message } = decodeMessage(record).delivery;
      if (message.expiresAt !== 0 && message.expiresAt <= now) purge.hdel('retained', keys.retained, topic);
      else messages.push({ ...message, retain: true });
    } catch (error) {
      skip('retained message', topic, error);
    }
  }

  let sysInfo: Partial<SysInfo> | undefined;
  for (const name of SYS_COUNTERS) {
    const n = Number(sys[name]);
    if (sys[name] !== undefined && Number.isFinite(n)) {
      sysInfo ??= {};
      sysInfo[name] = n;
    }
  }
  return { sessions, retained: messages, sysInfo };
}

type Skip = (what: string, name: string, error: unknown) => void;

/**
 * Reads one session (for a cluster node taking it over from another), as `loadState` reads each:
 * undefined when there is none, or it expired with no will owed (its deletion is then in `purge`).
 */
export async function loadSession(
  redis: Redis | Cluster,
  keys: StoreKeys,
  clientId: string,
  purge: WriteBatch,
  log: Logger,
  order: WeakMap<Delivery, number>,
): Promise<LoadedSession | undefined> {
  const now = Date.now();
  const json = await redis.hget(keys.clients, clientId);
  if (json === null) return undefined;
  const skip = skipper(log);
  const session = readSession(clientId, json, keys, purge, now, skip);
  if (session !== undefined) await readSessionKeys(redis, keys, [session], purge, now, skip, order);
  return session;
}

function skipper(log: Logger): Skip {
  return (what, name, error) =>
    log.warn(
      { store: 'redis', error: (error as Error).message },
      `Redis store: stored ${what} ${JSON.stringify(name)} is malformed and was skipped`,
    );
}

/** A session record, or undefined when malformed or expired with no will owed (then purged). */
function readSession(
  clientId: string,
  json: string,
  keys: StoreKeys,
  purge: WriteBatch,
  now: number,
  skip: Skip,
): LoadedSession | undefined {
  let session: ReturnType<typeof decodeSession>;
  try {
    session = decodeSession(clientId, json);
  } catch (error) {
    skip('session', clientId, error);
    return undefined;
  }
  const expired =
    session.disconnectedAt > 0 &&
    session.expiryInterval !== NEVER_EXPIRES &&
    session.disconnectedAt + session.expiryInterval * 1000 <= now;
  // An expired session that still owes its delayed will is returned: the broker publishes the
  // will as the session ends [MQTT-3.1.3-9] and then deletes it.
  if (expired && session.pendingWill === undefined) {
    for (const key of keys.sessionKeys(clientId)) purge.del(clientId, key);
    purge.hdel('clients', keys.clients, clientId);
    return undefined;
  }
  return { ...session, subscriptions: [], queue: [], inflight: [], inboundQos2: [] };
}

/** Reads the subscriptions, queue, in-flight messages and inbound QoS 2 ids of `sessions`. */
async function readSessionKeys(
  redis: Redis | Cluster,
  keys: StoreKeys,
  sessions: LoadedSession[],
  purge: WriteBatch,
  now: number,
  skip: Skip,
  order: WeakMap<Delivery, number>,
): Promise<void> {
  for (let from = 0; from < sessions.length; from += SLICE) {
    const part = sessions.slice(from, from + SLICE);
    const replies = await Promise.all(
      part.map((s) =>
        redis
          .pipeline()
          .hgetall(keys.subs(s.clientId))
          .hgetallBuffer(keys.queue(s.clientId))
          .hgetallBuffer(keys.inflight(s.clientId))
          .smembers(keys.qos2in(s.clientId))
          .exec(),
      ),
    );
    for (let i = 0; i < part.length; i++) {
      const session = part[i]!;
      const reply = replies[i] ?? [];
      for (const [error] of reply) if (error) throw error;
      const [subs, queue, inflight, qos2in] = reply.map((r) => r[1]) as [
        Record<string, string>,
        Record<string, Buffer>,
        Record<string, Buffer>,
        string[],
      ];
      readSubscriptions(session, subs, skip);
      readQueue(session, queue, keys, purge, now, skip);
      readInflight(session, inflight, order, skip);
      for (const id of qos2in) {
        const packetId = Number(id);
        if (isPacketId(packetId)) session.inboundQos2.push(packetId);
        else skip('inbound QoS 2 packet id', `${session.clientId} ${id}`, new Error('out of range'));
      }
    }
  }
}

function readSubscriptions(session: LoadedSession, subs: Record<string, string>, skip: Skip): void {
  for (const [filter, json] of Object.entries(subs)) {
    try {
      session.subscriptions.push(decodeSubscription(filter, json) satisfies SessionSubscription);
    } catch (error) {
      skip('subscription', `${session.clientId} ${filter}`, error);
    }
  }
}

function readQueue(
  session: LoadedSession,
  queue: Record<string, Buffer>,
  keys: StoreKeys,
  purge: WriteBatch,
  now: number,
  skip: Skip,
): void {
  const entries: Array<[number, Delivery]> = [];
  for (const [field, record] of Object.entries(queue)) {
    const seq = Number(field);
    try {
      if (!Number.isSafeInteger(seq)) throw new Error(`seq ${JSON.stringify(field)} is not an integer`);
      const { delivery } = decodeMessage(record);
      const expiresAt = delivery.message.expiresAt;
      if (expiresAt !== 0 && expiresAt <= now) {
        purge.hdel(session.clientId, keys.queue(session.clientId), field);
      } else entries.push([seq, delivery]);
    } catch (error) {
      skip('queued message', `${session.clientId} ${field}`, error);
    }
  }
  entries.sort((a, b) => a[0] - b[0]);
  for (const [seq, delivery] of entries) {
    // The broker numbers what it queues next after the highest seq it was given.
    delivery.seq = seq;
    session.queue.push(delivery);
  }
}

function readInflight(
  session: LoadedSession,
  inflight: Record<string, Buffer>,
  order: WeakMap<Delivery, number>,
  skip: Skip,
): void {
  const entries: Array<StoredInflight & { order: number }> = [];
  for (const [field, record] of Object.entries(inflight)) {
    const packetId = Number(field);
    try {
      if (!isPacketId(packetId)) throw new Error(`packet id ${JSON.stringify(field)} out of range`);
      const r = decodeMessage(record);
      entries.push({ packetId, delivery: r.delivery, released: r.released, order: r.order });
    } catch (error) {
      skip('in-flight message', `${session.clientId} ${field}`, error);
    }
  }
  // In the order they were first sent: a client expects re-sent messages in their original order.
  entries.sort((a, b) => a.order - b.order);
  for (const { order: first, ...entry } of entries) {
    order.set(entry.delivery, first);
    session.inflight.push(entry);
  }
}

function isPacketId(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65_535;
}
