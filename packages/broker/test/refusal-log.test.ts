import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefusalLog } from '../src/refusal-log.js';
import { warnLog } from './helpers.js';

const info = { remoteAddress: '127.0.0.1:5000', listener: 'tcp' };

describe('RefusalLog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first refusal at once, one summary per window while they continue, and at once again after a quiet window', () => {
    const log = warnLog();
    const messages = () => log.lines.map((l) => l.message);
    const refusals = new RefusalLog(log, 40);
    refusals.note(info, 'full');
    refusals.note(info, 'full');
    refusals.note(info, 'too fast');
    expect(messages()).toEqual(['connection refused: full']);
    vi.advanceTimersByTime(70);
    expect(messages()).toEqual(['connection refused: full', '2 more connections refused in the last 0.04 s']);
    // The window after a summary is still counting: a refusal in it waits for the next summary.
    refusals.note(info, 'full');
    expect(messages()).toHaveLength(2);
    vi.advanceTimersByTime(70);
    expect(messages()[2]).toBe('1 more connection refused in the last 0.04 s');
    // A whole window without refusals: the next one is logged at once.
    vi.advanceTimersByTime(70);
    expect(messages()).toHaveLength(3);
    refusals.note(info, 'full');
    expect(messages()[3]).toBe('connection refused: full');
    refusals.close();
    expect(messages()).toHaveLength(4);
  });
});
