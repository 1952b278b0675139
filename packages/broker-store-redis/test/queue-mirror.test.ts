import type { Delivery, Message } from '@x/broker';
import { RingQueue } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { type QueueMirror, staleMirror, syncQueue } from '../src/queue-mirror.js';
import { decodeMessage } from '../src/records.js';
import type { RedisClient } from '../src/redis-client.js';
import type { RespArg } from '../src/resp.js';

/**
 * A stand-in for Redis' list commands, applying what `syncQueue` sends to a plain array, so that
 * many random histories run in milliseconds (the integration tests run the same code against a
 * real redis-server).
 */
class ListModel {
  list: Buffer[] = [];
  commands = 0;
  room = true;

  sendAll(commands: readonly (readonly RespArg[])[]): boolean {
    if (!this.room) return false;
    for (const c of commands) this.#apply(c);
    return true;
  }

  #apply(c: readonly RespArg[]): void {
    this.commands++;
    const [name, , ...args] = c;
    if (name === 'MULTI' || name === 'EXEC') return;
    if (name === 'DEL') this.list = [];
    else if (name === 'RPUSH') this.list.push(...(args as Buffer[]));
    else if (name === 'LTRIM') this.list = this.list.slice(Number(args[0]));
    else throw new Error(`unexpected ${String(name)}`);
  }
}

function delivery(n: number): Delivery {
  const message: Message = {
    topic: `t/${n}`,
    payload: Buffer.from(String(n)),
    qos: 1,
    retain: false,
    properties: undefined,
    expiresAt: 0,
    origin: '',
    owned: true,
  };
  return { message, qos: 1, retain: false, subscriptionIds: undefined };
}

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('queue mirroring', () => {
  it('keeps the stored list equal to the queue through random pushes, sends, re-queues, clears and syncs', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = random(seed);
      const model = new ListModel();
      const queue = new RingQueue<Delivery>();
      let mirror: QueueMirror = { items: [], head: 0 };
      let n = 0;
      let synced = 0;
      for (let step = 0; step < 200; step++) {
        const r = rand();
        if (r < 0.45) queue.push(delivery(n++));
        else if (r < 0.75) queue.shift();
        else if (r < 0.8) {
          // Packet ids exhausted: the broker puts the delivery it just took back at the tail.
          const d = queue.shift();
          if (d) {
            queue.push(d);
            mirror = staleMirror(); // what RedisStore.onPacketIdExhausted does
          }
        } else if (r < 0.83) queue.clear();
        else {
          model.room = rand() > 0.1; // sometimes the client has no room: nothing may change
          const before = model.list.slice();
          const next = syncQueue(model as unknown as RedisClient, 'q', queue, mirror);
          if (next === false) {
            expect(model.list).toEqual(before);
            continue;
          }
          mirror = next;
          const stored = model.list.map((b) => decodeMessage(b).message.topic);
          expect(stored, `seed ${seed} step ${step}`).toEqual([...queue].map((d) => d.message.topic));
          expect(mirror.items.slice(mirror.head)).toEqual([...queue]);
          synced++;
        }
      }
      expect(synced).toBeGreaterThan(10);
    }
  });

  it('sends nothing when the queue did not change, and only the difference when it did', () => {
    const model = new ListModel();
    const queue = new RingQueue<Delivery>();
    for (let i = 0; i < 100; i++) queue.push(delivery(i));
    let mirror = syncQueue(model as unknown as RedisClient, 'q', queue, {
      items: [],
      head: 0,
    }) as QueueMirror;
    const afterFirst = model.commands;
    expect(syncQueue(model as unknown as RedisClient, 'q', queue, mirror)).toBe(mirror);
    expect(model.commands).toBe(afterFirst);
    for (let i = 0; i < 10; i++) queue.shift();
    queue.push(delivery(100));
    mirror = syncQueue(model as unknown as RedisClient, 'q', queue, mirror) as QueueMirror;
    expect(model.commands - afterFirst).toBe(2); // one LTRIM, one RPUSH
    expect(model.list.length).toBe(91);
  });
});
