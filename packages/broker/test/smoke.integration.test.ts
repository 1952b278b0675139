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
