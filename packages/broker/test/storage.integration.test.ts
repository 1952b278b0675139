import { describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import { startTestBroker } from './helpers.js';

describe('storage hooks restore state at start', () => {
  it('sessions, subscriptions, queued and retained messages come back from a persistence hook (async)', async () => {
    const store: Hook = {
      id: 'store',
      onStoredClients: async () => [
        { clientId: 'stored', protocolVersion: 5, sessionExpiryInterval: 3600, disconnectedAt: Date.now() },
        {
          clientId: 'long-gone',
          protocolVersion: 4,
          sessionExpiryInterval: 1,
          disconnectedAt: Date.now() - 10_000,
        },
      ],
      onStoredSubscriptions: () => [
        { clientId: 'stored', topicFilter: 'st/#', qos: 1, subscriptionIdentifier: 9 },
        { clientId: 'long-gone', topicFilter: 'x', qos: 0 },
      ],
      onStoredQueuedMessages: async () => [
        { clientId: 'stored', topic: 'st/queued', payload: Buffer.from('q'), qos: 1, retain: false },
      ],
      onStoredInflightMessages: () => [
        {
          clientId: 'stored',
          packetId: 300,
          topic: 'st/inflight',
          payload: Buffer.from('i'),
          qos: 1,
          retain: false,
        },
        {
          clientId: 'stored',
          packetId: 301,
          topic: 'st/rel',
          payload: Buffer.from('p'),
          qos: 2,
          retain: false,
          pubrel: true,
        },
      ],
      onStoredRetainedMessages: () => [
        { topic: 'st/retained', payload: Buffer.from('r'), qos: 0, retain: true },
      ],
      onStoredSysInfo: () => ({ messagesReceived: 41 }),
    };
    const b = await startTestBroker({}, [store, new AllowAllHook()]);
    try {
      expect(b.broker.sessions.has('long-gone')).toBe(false); // expired while the broker was down
      expect(b.broker.stats.messagesReceived).toBe(41);
      b.broker.publish('st/live', 'l', { qos: 1 });
      const c = await RawClient.open(b.port, 5);
      c.send({
        type: 'connect',
        protocolVersion: 5,
        clientId: 'stored',
        clean: false,
        keepalive: 0,
        properties: { sessionExpiryInterval: 60 },
      });
      expect((await c.expect('connack')).sessionPresent).toBe(true);
      // In-flight messages first, re-sent as they were (PUBLISH with DUP, PUBREL), then the queue.
      const inflight = await c.expect('publish');
      expect([inflight.topic, inflight.packetId, inflight.dup]).toEqual(['st/inflight', 300, true]);
      expect((await c.expect('pubrel')).packetId).toBe(301);
      const first = await c.expect('publish');
      const second = await c.expect('publish');
      expect([first.topic, second.topic]).toEqual(['st/queued', 'st/live']);
      expect(second.properties?.subscriptionIdentifiers).toEqual([9]);
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'st/retained', qos: 0 }] });
      await c.expect('suback');
      const retained = await c.expect('publish');
      expect([retained.topic, retained.retain, Buffer.from(retained.payload).toString()]).toEqual([
        'st/retained',
        true,
        'r',
      ]);
      c.close();
    } finally {
      await b.close();
    }
  });
});
