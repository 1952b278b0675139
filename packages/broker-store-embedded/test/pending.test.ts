import { type Delivery, storedMessage } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { PendingBatch } from '../src/pending.js';

function delivery(topic: string, size = 10): Delivery {
  return {
    message: storedMessage(topic, Buffer.alloc(size), 1, false, undefined, 0),
    qos: 1,
    retain: false,
    subscriptionIds: undefined,
  };
}

describe('PendingBatch', () => {
  it('folds changes to one row into one entry, and its bytes follow the live entries', () => {
    const batch = new PendingBatch();
    const d = delivery('t', 10_000);
    batch.queueMessage('a', 1, d);
    const queued = batch.bytes;
    expect(queued).toBeGreaterThan(10_000);
    batch.dequeueMessage('a', 1);
    expect(batch.bytes).toBeLessThan(1000);
    for (let i = 0; i < 1000; i++) {
      batch.saveInflight('a', 7, d, false, i);
      batch.deleteInflight('a', 7);
    }
    expect(batch.bytes).toBeLessThan(1000);
    expect(batch.changes).toBe(2002);
  });

  it('a row saved and deleted in a fresh batch cancels out; one from a failed write keeps its delete', () => {
    const batch = new PendingBatch();
    const d = delivery('t');
    batch.queueMessage('a', 1, d);
    batch.dequeueMessage('a', 1);
    batch.saveInflight('a', 7, d, false, 1);
    batch.deleteInflight('a', 7);
    const a = batch.clients.get('a')!;
    expect(a.queue.size).toBe(0);
    expect(a.inflight.size).toBe(0);
    // A PUBREL update with no entry in this batch changes a row an earlier write saved: the delete
    // that ends the flow must reach the disk.
    batch.saveInflight('a', 9, d, true, 5);
    batch.deleteInflight('a', 9);
    expect(a.inflight.get(9)).toBeNull();
    batch.saveInflight('a', 10, d, false, 6);
    batch.saveInflight('a', 10, d, true, 7);
    batch.deleteInflight('a', 10);
    expect(a.inflight.has(10)).toBe(false);
    // A delete of a flow that replaced a row deleted in this batch must still reach the disk.
    batch.deleteInflight('a', 8);
    batch.saveInflight('a', 8, d, false, 2);
    batch.deleteInflight('a', 8);
    expect(a.inflight.get(8)).toBeNull();

    batch.saveInboundQos2('a', 3);
    batch.deleteInboundQos2('a', 3);
    expect(a.inboundQos2.has(3)).toBe(false);
    batch.deleteInboundQos2('a', 4);
    batch.saveInboundQos2('a', 4);
    batch.deleteInboundQos2('a', 4);
    expect(a.inboundQos2.get(4)).toBe(false);

    const failed = new PendingBatch();
    failed.queueMessage('b', 1, d);
    failed.saveInflight('b', 1, d, false, 3);
    failed.absorb(new PendingBatch());
    failed.dequeueMessage('b', 1);
    failed.deleteInflight('b', 1);
    const b = failed.clients.get('b')!;
    expect(b.queue.get(1)).toBeNull();
    expect(b.inflight.get(1)).toBeNull();
  });

  it('keeps the sending order of a live flow when it is saved again (PUBREL)', () => {
    const batch = new PendingBatch();
    const d = delivery('t');
    batch.saveInflight('a', 7, d, false, 1);
    batch.saveInflight('a', 7, d, true, 2);
    expect(batch.clients.get('a')!.inflight.get(7)).toMatchObject({
      order: 1,
      released: true,
      replaces: false,
    });
    // A flow whose row is on disk (deleted in this batch) replaced under the same id: sent last.
    batch.deleteInflight('a', 8);
    batch.saveInflight('a', 8, d, false, 3);
    expect(batch.clients.get('a')!.inflight.get(8)).toMatchObject({
      order: 3,
      released: false,
      replaces: true,
    });
  });

  it('deleteSession drops the earlier entries of the client and marks the delete', () => {
    const batch = new PendingBatch();
    batch.queueMessage('a', 1, delivery('t', 5000));
    batch.saveInboundQos2('a', 3);
    batch.deleteSession('a');
    batch.saveInboundQos2('a', 4);
    const a = batch.clients.get('a')!;
    expect(a.deleted).toBe(true);
    expect([...a.queue.keys()]).toEqual([]);
    expect([...a.inboundQos2.keys()]).toEqual([4]);
    expect(batch.bytes).toBeLessThan(1000);
  });

  it('absorb: a failed batch takes what came after it, later changes winning', () => {
    const failed = new PendingBatch();
    const d = delivery('t');
    failed.saveInflight('a', 1, d, false, 1);
    failed.saveInflight('a', 2, d, false, 2);
    failed.queueMessage('a', 1, d);
    failed.queueMessage('gone', 1, d);
    failed.saveRetained(storedMessage('r', Buffer.from('x'), 0, true, undefined, 0));

    const later = new PendingBatch();
    later.saveInflight('a', 1, d, true, 10); // PUBREL of flow 1: keeps order 1
    later.deleteInflight('a', 2);
    later.saveInflight('a', 2, d, false, 11); // id 2 used again: a new flow, sent last
    later.dequeueMessage('a', 1);
    later.deleteSession('gone');
    later.deleteRetained('r');

    failed.absorb(later);
    const a = failed.clients.get('a')!;
    expect(a.inflight.get(1)).toMatchObject({ order: 1, released: true, replaces: false });
    expect(a.inflight.get(2)).toMatchObject({ order: 11, replaces: true });
    expect(a.queue.get(1)).toBeNull();
    const gone = failed.clients.get('gone')!;
    expect(gone.deleted).toBe(true);
    expect(gone.queue.size).toBe(0);
    expect(failed.retained.get('r')).toBeNull();
    expect(failed.changes).toBe(11);
  });
});
