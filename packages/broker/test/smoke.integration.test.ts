import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './helpers.js';

describe('smoke', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker();
  });
  afterAll(() => b.close());

  for (const protocolVersion of [4, 5] as const) {
    it(`v${protocolVersion}: connect, subscribe, publish QoS 0/1/2`, async () => {
      const c = await mqtt.connectAsync(b.url, { protocolVersion, clientId: `smoke-${protocolVersion}` });
      await c.subscribeAsync('a/#', { qos: 2 });
      const got: string[] = [];
      c.on('message', (topic, payload) => got.push(`${topic}:${payload}`));
      await c.publishAsync('a/0', 'zero', { qos: 0 });
      await c.publishAsync('a/1', 'one', { qos: 1 });
      await c.publishAsync('a/2', 'two', { qos: 2 });
      await new Promise((r) => setTimeout(r, 100));
      expect(got.sort()).toEqual(['a/0:zero', 'a/1:one', 'a/2:two']);
      await c.endAsync();
    });
  }
});

describe('$SYS', () => {
  it('publishes the broker figures as retained $SYS/broker/... topics on an interval', async () => {
    const b = await startTestBroker({ sysInterval: 100 });
    try {
      const c = await mqtt.connectAsync(b.url, { clientId: 'sys-all', reconnectPeriod: 0 });
      const seen = new Map<string, string>();
      c.on('message', (topic, payload) => seen.set(topic, payload.toString()));
      await c.subscribeAsync('$SYS/#');
      await c.publishAsync('sys/x', 'x', { qos: 1 });
      const deadline = Date.now() + 3000;
      while (seen.size < 14 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const suffix of [
        'version',
        'uptime',
        'clients/connected',
        'clients/total',
        'clients/maximum',
        'messages/received',
        'messages/sent',
        'bytes/received',
        'bytes/sent',
        'subscriptions/count',
        'retained messages/count',
        'messages/inflight',
        'messages/dropped',
      ]) {
        expect(seen.has(`$SYS/broker/${suffix}`), suffix).toBe(true);
      }
      expect(seen.get('$SYS/broker/version')).toMatch(/^@x\/broker /);
      expect(Number(seen.get('$SYS/broker/clients/connected'))).toBe(1);
      expect(Number(seen.get('$SYS/broker/subscriptions/count'))).toBe(1);
      await c.endAsync();
    } finally {
      await b.close();
    }
  });
});
