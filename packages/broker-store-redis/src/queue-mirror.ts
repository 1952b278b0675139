import type { Delivery, RingQueue } from '@x/broker';
import { encodeMessage } from './records.js';
import type { RedisClient } from './redis-client.js';
import { batched } from './redis-keys.js';
import type { RespArg } from './resp.js';

/**
 * What a session's stored queue holds, as the deliveries it was written from (oldest first from
 * `head`). Comparing by identity with the live queue tells what changed without a read from Redis.
 */
export interface QueueMirror {
  items: Delivery[];
  head: number;
}

/** A delivery no queue holds: a mirror made of it matches nothing, so the next sync rewrites. */
const UNKNOWN: Delivery = {
  message: {
    topic: '',
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    origin: '',
    owned: true,
  },
  qos: 0,
  retain: false,
  subscriptionIds: undefined,
};

/**
 * A mirror whose next sync rewrites the whole list: for a queue changed in a way the comparison
 * cannot see (a delivery taken from its head and put back at its tail when packet ids ran out).
 */
export function staleMirror(): QueueMirror {
  return { items: [UNKNOWN], head: 0 };
}

/**
 * Brings the stored list `key` in line with `queue`. A session's queue only gains at its tail and
 * loses at its head (or is cleared), so the position of its first delivery in the mirror tells how
 * many were sent (LTRIM) and its length how many were added (RPUSH); anything else rewrites the
 * list in one transaction. (A delivery put back at the tail would fool the comparison: the caller
 * replaces the mirror with `staleMirror()` when that happens.) Returns the mirror of what is now stored, or false, sending nothing,
 * when the client has no room for the commands.
 */
export function syncQueue(
  redis: RedisClient,
  key: string,
  queue: RingQueue<Delivery>,
  mirror: QueueMirror,
): QueueMirror | false {
  const stored = mirror.items.length - mirror.head;
  const first = queue.peek();
  if (queue.length === stored && (stored === 0 || first === mirror.items[mirror.head])) return mirror;
  let gone = stored;
  if (first !== undefined) {
    const at = mirror.items.indexOf(first, mirror.head);
    gone = at === -1 ? -1 : at - mirror.head;
  }
  const kept = stored - gone;
  if (gone === -1 || queue.length < kept) {
    const items = [...queue];
    const tx: RespArg[][] = [['MULTI'], ['DEL', key]];
    batched(tx, 'RPUSH', key, items.map(encodeDelivery));
    tx.push(['EXEC']);
    return redis.sendAll(tx) ? { items, head: 0 } : false;
  }
  // Trim and append go together, so the mirror never runs ahead of Redis.
  const commands: RespArg[][] = [];
  if (gone > 0) commands.push(kept === 0 ? ['DEL', key] : ['LTRIM', key, gone, -1]);
  const added: Delivery[] = [];
  let i = 0;
  for (const d of queue) if (i++ >= kept) added.push(d);
  batched(commands, 'RPUSH', key, added.map(encodeDelivery));
  if (!redis.sendAll(commands)) return false;
  if (kept === 0) return { items: added, head: 0 };
  mirror.head += gone;
  for (const d of added) mirror.items.push(d);
  if (mirror.head > 64 && mirror.head * 2 > mirror.items.length) {
    return { items: mirror.items.slice(mirror.head), head: 0 };
  }
  return mirror;
}

/** A queued delivery as stored: the message with the delivery's QoS and retain flag. */
export function encodeDelivery(d: Delivery): Buffer {
  return encodeMessage(d.message, d.qos, d.retain, 0, false, d.subscriptionIds);
}
