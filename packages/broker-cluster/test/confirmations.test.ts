import { silentLogger } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { NoticeConfirmations } from '../src/confirmations.js';
import type { ClusterContext } from '../src/context.js';
import { ClusterKeys } from '../src/keys.js';

/** Node `a`'s view of the whole: what it publishes is recorded, nothing else is reached. */
function context(published: Array<[string, string]> = []): ClusterContext {
  return {
    nodeId: 'a',
    keys: new ClusterKeys('t:'),
    log: silentLogger,
    closing: false,
    redis: () =>
      ({
        publish: async (channel: string, data: string) => {
          published.push([channel, data]);
          return 1;
        },
      }) as never,
  } as unknown as ClusterContext;
}

/** Whether a promise has settled once the pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('NoticeConfirmations', () => {
  it('waits for every other listed node to confirm the notice or a later one, from this process only', async () => {
    const c = new NoticeConfirmations(context(), 60_000);
    const one = c.next();
    const two = c.next();
    const waitOne = c.wait(['a', 'b', 'c'], one);
    const waitTwo = c.wait(['a', 'b', 'c'], two);
    c.confirmed('b', c.token, two);
    c.confirmed('c', 'an earlier process', two);
    expect(await settled(waitOne)).toBe(false);
    c.confirmed('c', c.token, one);
    expect(await settled(waitOne)).toBe(true);
    expect(await settled(waitTwo)).toBe(false);
    c.forget('c');
    expect(await settled(waitTwo)).toBe(true);
    // Confirmed already: nothing to wait for.
    expect(await settled(c.wait(['b'], two))).toBe(true);
    c.close();
  });

  it('stops waiting for a node that lets a wait run out, until it confirms again', async () => {
    const c = new NoticeConfirmations(context(), 10);
    await c.wait(['b'], c.next());
    const later = c.next();
    expect(await settled(c.wait(['b'], later))).toBe(true);
    c.confirmed('b', c.token, later);
    const after = c.wait(['b'], c.next());
    expect(await settled(after)).toBe(false);
    c.close();
    expect(await settled(after)).toBe(true);
  });

  it('confirms the highest notice applied per origin once per event-loop turn', async () => {
    const published: Array<[string, string]> = [];
    const c = new NoticeConfirmations(context(published), 60_000);
    c.applied('b', 'tb', 1);
    c.applied('b', 'tb', 3);
    c.applied('b', 'tb', 2);
    c.applied('c', 'tc', 7);
    expect(published).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(published).toEqual([
      ['t:cluster:ok:b', JSON.stringify({ n: 'a', t: 'tb', s: 3 })],
      ['t:cluster:ok:c', JSON.stringify({ n: 'a', t: 'tc', s: 7 })],
    ]);
  });
});
