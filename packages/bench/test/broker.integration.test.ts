import { type RunningBroker, startBroker } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchConnection, type DeliverySink } from '../src/connection.js';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario, type ScenarioInput } from '../src/options.js';
import { writePayloadTemplate } from '../src/payload.js';
import { BenchPublisher } from '../src/publisher.js';
import type { ScenarioName } from '../src/result.js';
import { parseBroker } from '../src/transports.js';

function run(scenario: ScenarioName, input: ScenarioInput) {
  return runScenario(resolveScenario(scenario, { globalTimeoutMs: 20_000, ...input }));
}

/** Runs `body` against a broker of its own started with `options`, closed afterwards. */
async function withBroker(
  options: Parameters<typeof startBroker>[0],
  body: (broker: RunningBroker) => Promise<void>,
): Promise<void> {
  const broker = await startBroker(options);
  try {
    await body(broker);
  } finally {
    await broker.close();
  }
}

describe('mqtt-bench against our broker (@x/broker)', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    // A queue that holds everything keeps these runs fast: behind a full queue the broker holds the
    // publishers' PUBACKs (nothing is lost, see issue 19 below), which slows a fast fan-in down.
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

  it('a resumed persistent session counts the queued messages that arrive with CONNACK (sink option)', async () => {
    const runTag = 0x1234;
    const open = (clientId: string, clean: boolean, sink?: DeliverySink) =>
      BenchConnection.open({
        address: parseBroker(broker.url),
        tls: { rejectUnauthorized: true },
        protocolVersion: 4,
        clientId,
        clean,
        runTag,
        ...(sink ? { sink } : {}),
      });
    const sequences: number[] = [];
    const sink: DeliverySink = { delivered: (_, sequence) => sequences.push(sequence), foreign: () => {} };
    const first = await open('resume-sub', false, sink);
    await first.subscribe(['resume/+'], 1);
    await first.disconnect();
    const pubConnection = await open('resume-pub', true);
    const payload = Buffer.alloc(64);
    writePayloadTemplate(payload, 0, 64, runTag);
    const publisher = new BenchPublisher(pubConnection, {
      topic: 'resume/0',
      qos: 1,
      payload,
      publisherId: 0,
    });
    const acked = new Promise<void>((resolve) => {
      publisher.onCredit = () => {
        if (publisher.acknowledged === 100) resolve();
      };
    });
    publisher.write(100, 0, 0, 0);
    await acked;
    await pubConnection.disconnect();
    // The broker writes queued messages right after CONNACK, often in the same read.
    const resumed = await open('resume-sub', false, sink);
    const deadline = Date.now() + 5_000;
    while (sequences.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await resumed.disconnect();
    expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('runs the mqtt-stresser workload', async () => {
    const r = await run('stress', { broker: broker.url, numClients: 3, numMessages: 50, qos: 1 });
    expect(r.problems).toEqual([]);
    expect(r.stresser?.completed).toBe(3);
    expect(r.messages.received).toBe(150);
  });

  it('measures latency at a fixed rate, after the warm-up', async () => {
    const r = await run('latency', { broker: broker.url, rate: 1000, durationMs: 500, warmupMs: 300 });
    expect(r.ok).toBe(true);
    expect(r.config.warmupMs).toBe(300);
    // One message per millisecond: the first 300 are scheduled during the warm-up, delivered and
    // accounted for, but not in the latency figures.
    expect(r.messages.received).toBeGreaterThan(700);
    expect(r.latencyMs?.count).toBe(r.messages.received - 300);
  });

  it('storms connections', async () => {
    const r = await run('conn', { broker: broker.url, numClients: 50 });
    expect(r.ok).toBe(true);
    expect(r.connections.connected).toBe(50);
  });

  it('holds connections with one subscription each (conn with subscribe)', async () => {
    const before = broker.broker.subscriptionCount;
    let during = 0;
    const running = run('conn', { broker: broker.url, numClients: 30, subscribe: true, holdMs: 1_500 });
    // Sampled while the connections are held: each holds a subscription of its own.
    const deadline = Date.now() + 15_000;
    while (during < before + 30 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      during = broker.broker.subscriptionCount;
    }
    const r = await running;
    expect(r.ok).toBe(true);
    expect(r.connections.connected).toBe(30);
    expect(during - before).toBe(30);
  });
});

describe('mqtt-bench latency at QoS 1 when the subscriber falls behind (issue 19)', () => {
  it('accounts for every delivery: a full subscriber queue holds PUBACKs instead of dropping', async () => {
    // The publisher's window (100) is far wider than the subscriber's (1) and queue (2), so every
    // burst of an open-loop publisher that is behind its schedule overflows the queue. Before the
    // broker held PUBACKs (issue 15), what overflowed was acknowledged and dropped: 2–4 % of a
    // 20 000 msg/s run with the default window 32 and queue 1000.
    const behind = { maxInflight: 1, maxQueuedMessages: 2, stalledConsumerTimeout: 60_000 };
    await withBroker(behind, async (broker) => {
      const r = await run('latency', { broker: broker.url, rate: 50_000, numMessages: 3_000, qos: 1 });
      expect(r.problems).toEqual([]);
      expect(r.messages).toMatchObject({
        sent: 3_000,
        received: 3_000,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
      const stats = broker.broker.stats;
      expect(stats.publishDropped).toBe(0);
      expect(stats.acksHeld).toBeGreaterThan(0); // the overflow path was taken
      expect(stats.heldBytes).toBe(0);
    });
  });
});

describe('mqtt-bench against a lossy configuration of our broker', () => {
  it('reports the dropped messages with ok false', async () => {
    // The broker holds a publisher's PUBACK while a subscriber's queue is full; a subscriber that
    // makes no progress for stalledConsumerTimeout is cut off and what it had queued is lost. The
    // stresser's subscriber reads nothing until publishing ends, so it stalls.
    const lossy = { maxQueuedMessages: 10, maxInflight: 20, stalledConsumerTimeout: 200, sweepInterval: 50 };
    await withBroker(lossy, async (broker) => {
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
    });
  });
});
