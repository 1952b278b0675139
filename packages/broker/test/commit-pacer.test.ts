import { describe, expect, it } from 'vitest';
import { sleep } from '../../test-helpers/src/wait.js';
import { CommitPacer } from '../src/index.js';

function pacer(windowMs: number): { pacer: CommitPacer; advance: (ms: number) => void } {
  let now = 1000;
  return {
    pacer: new CommitPacer(
      windowMs,
      () => {},
      () => now,
    ),
    advance: (ms) => (now += ms),
  };
}

describe('CommitPacer', () => {
  it('hands the first batch over at once', () => {
    expect(pacer(4).pacer.delay()).toBe(0);
  });

  it('waits the rest of the window after a large batch that mostly cancelled out', () => {
    const { pacer: p, advance } = pacer(4);
    p.handedOver(400, 100);
    expect(p.delay()).toBe(4);
    advance(1.5);
    expect(p.delay()).toBe(2.5);
    advance(3);
    expect(p.delay()).toBe(0);
  });

  it('does not wait after a batch that did not cancel out, or a small one', () => {
    const { pacer: p } = pacer(4);
    p.handedOver(400, 300); // queues of offline sessions: every change is a row to write
    expect(p.delay()).toBe(0);
    p.handedOver(10, 0); // a lone publisher's message, acknowledged by its subscriber in the batch
    expect(p.delay()).toBe(0);
    p.handedOver(64, 32);
    expect(p.delay()).toBe(4);
    p.handedOver(64, 33);
    expect(p.delay()).toBe(0);
  });

  it('never waits with a window of 0', () => {
    const { pacer: p } = pacer(0);
    p.handedOver(10_000, 0);
    expect(p.delay()).toBe(0);
  });

  it('mayGo holds a batch and calls retry once the window is over; an urgent commit goes at once', async () => {
    let retries = 0;
    const p = new CommitPacer(30, () => retries++);
    expect(p.mayGo()).toBe(true);
    p.handedOver(400, 0);
    expect(p.mayGo()).toBe(false);
    expect(p.mayGo()).toBe(false); // one timer, not two
    await sleep(100);
    expect(retries).toBe(1);
    expect(p.mayGo()).toBe(true);
    p.handedOver(400, 0);
    expect(p.mayGo()).toBe(false);
    p.urgent();
    expect(p.mayGo()).toBe(true);
    p.handedOver(10, 10); // clears the timer: no retry comes for the batch that went
    await sleep(100);
    expect(retries).toBe(1);
  });
});
