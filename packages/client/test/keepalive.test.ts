import { afterEach, describe, expect, it, vi } from 'vitest';
import { Keepalive } from '../src/keepalive.js';

describe('Keepalive', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(interval = 1000, timeout = 500) {
    let now = 0;
    const events: string[] = [];
    const ka = new Keepalive(
      interval,
      timeout,
      { ping: () => events.push(`ping@${now}`), dead: () => events.push(`dead@${now}`) },
      () => now,
    );
    return { ka, events, at: (t: number) => (now = t) };
  }

  it('pings after an idle interval and declares dead after an unanswered ping', () => {
    vi.useFakeTimers();
    const { ka, events, at } = setup();
    at(1000);
    ka.check();
    expect(events).toEqual(['ping@1000']);
    at(1500);
    ka.check();
    expect(events).toEqual(['ping@1000', 'dead@1500']);
    ka.stop();
  });

  it('any packet received after the ping counts as the answer', () => {
    vi.useFakeTimers();
    const { ka, events, at } = setup();
    at(1000);
    ka.check();
    at(1100);
    ka.received();
    at(1600);
    ka.check();
    expect(events).toEqual(['ping@1000']);
    ka.stop();
  });

  it('a timer throttled for minutes does not declare a live connection dead', () => {
    vi.useFakeTimers();
    const { ka, events, at } = setup(1000, 500);
    // The tab was in the background: the first check runs 60 s late. Decisions use timestamps,
    // so it simply pings now instead of counting 60 missed ticks as missed pongs.
    at(60_000);
    ka.check();
    expect(events).toEqual(['ping@60000']);
    at(60_050);
    ka.received();
    at(120_000); // again throttled, but the answer had arrived
    ka.check();
    expect(events).toEqual(['ping@60000', 'ping@120000']);
    ka.stop();
  });

  it('does not ping while traffic flows both ways', () => {
    vi.useFakeTimers();
    const { ka, events, at } = setup();
    for (let t = 100; t <= 5000; t += 100) {
      at(t);
      ka.sent();
      ka.received();
      ka.check();
    }
    expect(events).toEqual([]);
    ka.stop();
  });

  it('pings a connection that only sends (finds half-open sockets)', () => {
    vi.useFakeTimers();
    const { ka, events, at } = setup();
    at(600);
    ka.sent();
    at(1000);
    ka.check();
    expect(events).toEqual(['ping@1000']);
    ka.stop();
  });

  it('runs on one real timer', () => {
    vi.useFakeTimers();
    let pings = 0;
    const ka = new Keepalive(1000, 500, { ping: () => pings++, dead: () => undefined });
    ka.start();
    expect(vi.getTimerCount()).toBe(1);
    ka.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(pings).toBe(0);
  });
});
