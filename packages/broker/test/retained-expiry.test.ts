import { describe, expect, it } from 'vitest';
import { AllowAllHook, Broker, silentLogger } from '../src/index.js';
import type { RetainedStore } from '../src/retained.js';

describe('retained message expiry', () => {
  it('the periodic sweep removes expired retained messages and reports them, with no subscriber asking', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, sweepInterval: 50 });
    const expired: string[] = [];
    broker.addHook(new AllowAllHook());
    broker.addHook({ onRetainedExpired: (topic) => expired.push(topic) });
    await broker.start();
    try {
      broker.publish('exp/short', 'x', { retain: true, properties: { messageExpiryInterval: 1 } });
      broker.publish('exp/forever', 'y', { retain: true });
      // Replacing an expiring message with one that never expires takes it off the expiry list.
      broker.publish('exp/replaced', 'z', { retain: true, properties: { messageExpiryInterval: 1 } });
      broker.publish('exp/replaced', 'z2', { retain: true });
      expect(broker.retained.size).toBe(3);
      expect((broker.retained as RetainedStore).expiringCount).toBe(1);
      const deadline = Date.now() + 3000;
      while (broker.retained.get('exp/short') !== undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(broker.retained.get('exp/short')).toBeUndefined();
      expect(expired).toEqual(['exp/short']);
      expect(broker.retained.get('exp/forever')).toBeDefined();
      expect(broker.retained.get('exp/replaced')?.payload.toString()).toBe('z2');
      expect((broker.retained as RetainedStore).expiringCount).toBe(0);
    } finally {
      await broker.close();
    }
  });

  it('an expired retained message met by a subscription is removed and reported once', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, sweepInterval: 60_000 });
    const expired: string[] = [];
    broker.addHook(new AllowAllHook());
    broker.addHook({ onRetainedExpired: (topic) => expired.push(topic) });
    await broker.start();
    try {
      broker.publish('exp/met', 'x', { retain: true, properties: { messageExpiryInterval: 1 } });
      const got: string[] = [];
      broker.inline.subscribe('exp/#', (m) => got.push(m.topic));
      expect(got).toEqual(['exp/met']);
      await new Promise((r) => setTimeout(r, 1050));
      broker.inline.subscribe('exp/+', (m) => got.push(m.topic));
      expect(got).toEqual(['exp/met']);
      expect(expired).toEqual(['exp/met']);
      expect((broker.retained as RetainedStore).sweep(Date.now())).toBe(0);
    } finally {
      await broker.close();
    }
  });
});
