import { describe, expect, it } from 'vitest';
import { account, mergeTallies, StreamTracker, SubscriberLedger } from '../src/accounting.js';

describe('StreamTracker', () => {
  it('counts duplicates and out-of-order deliveries exactly', () => {
    const t = new StreamTracker();
    for (const s of [0, 1, 2, 5, 3, 3, 4, 10_000, 6, 6]) t.record(s);
    expect(t.unique).toBe(8);
    expect(t.duplicates).toBe(2);
    // 3, 4 and 6 arrived after a higher sequence number.
    expect(t.outOfOrder).toBe(3);
  });
});

describe('account', () => {
  it('computes losses from sent × fan-out minus unique deliveries', () => {
    const a = new SubscriberLedger();
    const b = new SubscriberLedger();
    for (let s = 0; s < 10; s++) a.record(1, s);
    for (let s = 0; s < 8; s++) b.record(1, s);
    b.record(1, 0);
    for (let s = 0; s < 5; s++) a.record(2, s);
    const tallies = mergeTallies([a.tally({}), b.tally({})]);
    const result = account({ 1: 10, 2: 5, 3: 4 }, { 1: 2, 2: 1, 3: 1 }, tallies, 1);
    expect(result).toEqual({
      sent: 19,
      expected: 29,
      received: 24,
      lost: 2 + 4,
      duplicated: 1,
      outOfOrder: 0,
      unexpected: 1,
      unfinished: 0,
    });
  });

  it('counts what a cut-short run had not yet delivered as unfinished, and only gaps as lost', () => {
    const a = new SubscriberLedger();
    const b = new SubscriberLedger();
    // Subscriber a: 0–3 and 5–6 of 10 (4 missing before the last arrival), b: 0–1, c: nothing.
    for (const s of [0, 1, 2, 3, 5, 6]) a.record(1, s);
    for (const s of [0, 1]) b.record(1, s);
    const tallies = mergeTallies([a.tally({}), b.tally({})]);
    const cut = account({ 1: 10 }, { 1: 3 }, tallies, 0, true);
    expect(cut).toMatchObject({ expected: 30, received: 8, lost: 1, unfinished: 3 + 8 + 10 });
    // The same arrivals after a run that drained to the end: everything missing is lost.
    const finished = account({ 1: 10 }, { 1: 3 }, tallies, 0);
    expect(finished).toMatchObject({ lost: 22, unfinished: 0 });
  });
});
