import type { StoredClient, StoredMessage, StoredSubscription, SysInfo } from '@x/broker';
import { decodeClient, decodeMessage, decodeSubscription, type MessageRecord } from './records.js';
import type { RedisClient } from './redis-client.js';
import { pairs, type StoreKeys, SYS_COUNTERS } from './redis-keys.js';
import type { RespValue } from './resp.js';

/** What a store holds, as the broker's `onStored*` loaders return it. */
export interface LoadedState {
  clients: StoredClient[];
  subscriptions: StoredSubscription[];
  /** Per session, oldest first. */
  queued: Array<StoredMessage & { clientId: string }>;
  /** Per session in the order first sent: outbound QoS 1/2 flows awaiting acknowledgement. */
  inflight: Array<StoredMessage & { clientId: string; packetId: number; pubrel: boolean }>;
  /** Unexpired retained messages. */
  retained: StoredMessage[];
  sys: Partial<SysInfo> | undefined;
  /** Every stored client id and retained topic, including those skipped or expired. */
  storedIds: string[];
  storedTopics: string[];
}

/** Called for a stored entry that cannot be decoded; loading goes on without it. */
export type SkipEntry = (what: string, name: string, error: unknown) => void;

/**
 * Reads a store's whole state: three reads, then three per stored session, all pipelined. An entry
 * that does not decode is reported to `skip` and left out rather than failing the start.
 */
export async function loadState(
  redis: RedisClient,
  keys: StoreKeys,
  skip: SkipEntry,
  /** Sessions read at once (three reads each): keep it within the client's `maxPending`. */
  slice = 1000,
): Promise<LoadedState> {
  const now = Date.now();
  const [clientsReply, retainedReply, sysReply] = await Promise.all([
    redis.command(['HGETALL', keys.clients]),
    redis.command(['HGETALL', keys.retained]),
    redis.command(['HGETALL', keys.sys]),
  ]);
  const state: LoadedState = {
    clients: [],
    subscriptions: [],
    queued: [],
    inflight: [],
    retained: [],
    sys: undefined,
    storedIds: [],
    storedTopics: [],
  };

  for (const [id, value] of pairs(clientsReply)) {
    state.storedIds.push(id);
    try {
      state.clients.push(decodeClient(id, value.toString(), now));
    } catch (error) {
      skip('session', id, error);
    }
  }
  // In slices, so that a large store never has more reads outstanding than the client allows.
  const perClient: Array<[RespValue, RespValue, RespValue]> = [];
  for (let from = 0; from < state.clients.length; from += slice) {
    const part = state.clients.slice(from, from + slice);
    const replies = await Promise.all(
      part.map((c) =>
        Promise.all([
          redis.command(['HGETALL', keys.subs(c.clientId)]),
          redis.command(['HGETALL', keys.inflight(c.clientId)]),
          redis.command(['LRANGE', keys.queue(c.clientId), 0, -1]),
        ]),
      ),
    );
    for (const r of replies) perClient.push(r);
  }
  for (let i = 0; i < perClient.length; i++) {
    const clientId = state.clients[i]!.clientId;
    const [subs, inflight, queue] = perClient[i]!;
    for (const [filter, value] of pairs(subs)) {
      try {
        state.subscriptions.push(decodeSubscription(clientId, filter, value.toString()));
      } catch (error) {
        skip('subscription', `${clientId} ${filter}`, error);
      }
    }
    const unacknowledged: Array<MessageRecord & { packetId: number }> = [];
    for (const [field, value] of pairs(inflight)) {
      const packetId = Number(field);
      try {
        if (!Number.isInteger(packetId) || packetId < 1 || packetId > 65_535) {
          throw new Error(`packet id ${JSON.stringify(field)} out of range`);
        }
        unacknowledged.push({ ...decodeMessage(value), packetId });
      } catch (error) {
        skip('in-flight message', `${clientId} ${field}`, error);
      }
    }
    unacknowledged.sort((a, b) => a.order - b.order);
    for (const r of unacknowledged) {
      state.inflight.push({ ...r.message, clientId, packetId: r.packetId, pubrel: r.released });
    }
    for (const value of Array.isArray(queue) ? queue : []) {
      if (!Buffer.isBuffer(value)) continue;
      try {
        state.queued.push({ ...decodeMessage(value).message, clientId });
      } catch (error) {
        skip('queued message', clientId, error);
      }
    }
  }
  for (const [topic, value] of pairs(retainedReply)) {
    state.storedTopics.push(topic);
    try {
      const { message } = decodeMessage(value);
      const expiresAt = message.expiresAt ?? 0;
      if (expiresAt === 0 || expiresAt > now) state.retained.push({ ...message, retain: true });
    } catch (error) {
      skip('retained message', topic, error);
    }
  }
  const sys: Record<string, number> = {};
  let any = false;
  for (const [name, value] of pairs(sysReply)) {
    const n = Number(value.toString());
    if ((SYS_COUNTERS as readonly string[]).includes(name) && Number.isFinite(n)) {
      sys[name] = n;
      any = true;
    }
  }
  if (any) state.sys = sys as Partial<SysInfo>;
  return state;
}
