import { type RunningBroker, startBroker } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario, type ScenarioInput } from '../src/options.js';
import type { ScenarioName } from '../src/result.js';

function run(scenario: ScenarioName, input: ScenarioInput) {
  return runScenario(resolveScenario(scenario, { globalTimeoutMs: 20_000, ...input }));
}

describe('mqtt-bench against our broker (@x/broker)', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    // Like Mosquitto, our broker drops QoS 1 messages beyond its per-session queue (default 1000):
    // a fast fan-in outruns a subscriber, so exact accounting needs a queue that holds everything.
    broker = await startBroker({ maxQueuedMessages: 1_000_000 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('accounts for every message of a QoS 1 fan-in exactly', async () => {
    const r = await run('pub', {
      broker: broker.url,
      publishers: 4,
      subscribers: 2,
      numMessages: 300,
      qos: 1,
    });
    expect(r.problems).toEqual([]);
    expect(r.messages).toEqual({
      sent: 1200,
      expected: 2400,
      received: 2400,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      unexpected: 0,
      unfinished: 0,
    });
  });

  it('fans out at QoS 2 over MQTT 5 with persistent sessions', async () => {
    const r = await run('sub', {
      broker: broker.url,
      publishers: 1,
      subscribers: 4,
      numMessages: 200,
      qos: 2,
      protocolVersion: 5,
      clean: false,
    });
    expect(r.problems).toEqual([]);
    expect(r.messages.received).toBe(800);
  });

  it('runs the mqtt-stresser workload', async () => {
    const r = await run('stress', { broker: broker.url, numClients: 3, numMessages: 50, qos: 1 });
    expect(r.problems).toEqual([]);
    expect(r.stresser?.completed).toBe(3);
    expect(r.messages.received).toBe(150);
  });

  it('measures latency at a fixed rate', async () => {
    const r = await run('latency', { broker: broker.url, rate: 1000, durationMs: 500 });
    expect(r.ok).toBe(true);
    expect(r.latencyMs?.count).toBe(r.messages.received);
  });

  it('storms connections', async () => {
    const r = await run('conn', { broker: broker.url, numClients: 50 });
    expect(r.ok).toBe(true);
    expect(r.connections.connected).toBe(50);
  });
});

describe('mqtt-bench against a lossy configuration of our broker', () => {
  it('reports the dropped messages with ok false', async () => {
    const broker = await startBroker({ maxQueuedMessages: 10, maxInflight: 20 });
    try {
      const r = await run('stress', {
        broker: broker.url,
        numClients: 2,
        numMessages: 300,
        qos: 1,
        globalTimeoutMs: 3000,
      });
      expect(r.ok).toBe(false);
      expect(r.messages.sent).toBe(600);
      expect(r.messages.lost).toBeGreaterThan(0);
      expect(r.messages.received + r.messages.lost).toBe(600);
    } finally {
      await broker.close();
    }
  });
});
