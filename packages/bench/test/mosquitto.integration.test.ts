import { freePort, type RunningMosquitto, requireServer, startMosquitto } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario, type ScenarioInput } from '../src/options.js';
import type { ScenarioName } from '../src/result.js';
import { startFaultyProxy } from './support/faulty-proxy.js';
import { makePki, type TestPki } from './support/tls.js';
import { startWsBridge } from './support/ws-bridge.js';

const mosquitto = requireServer('mosquitto');

function run(scenario: ScenarioName, input: ScenarioInput) {
  return runScenario(resolveScenario(scenario, { globalTimeoutMs: 20_000, ...input }));
}

describe.skipIf(mosquitto.skip)(`mqtt-bench against Mosquitto ${mosquitto.reason}`, () => {
  let broker: RunningMosquitto;
  beforeAll(async () => {
    // Unlimited queues: with the default 1000-message queue Mosquitto itself drops under a fast fan-in.
    broker = await startMosquitto({ config: ['max_queued_messages 0'] });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('accounts for every message of a QoS 1 fan-in exactly', async () => {
    const r = await run('pub', {
      broker: broker.url,
      publishers: 4,
      subscribers: 2,
      numMessages: 500,
      qos: 1,
    });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.messages).toEqual({
      sent: 2000,
      expected: 4000,
      received: 4000,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      unexpected: 0,
      unfinished: 0,
    });
    expect(r.latencyMs?.count).toBe(4000);
    expect(r.connections.connected).toBe(6);
  });

  it('fans out at QoS 2 over MQTT 5 with persistent sessions', async () => {
    const r = await run('sub', {
      broker: broker.url,
      publishers: 1,
      subscribers: 5,
      numMessages: 300,
      qos: 2,
      protocolVersion: 5,
      clean: false,
    });
    expect(r.problems).toEqual([]);
    expect(r.messages.received).toBe(1500);
    expect(r.messages.lost).toBe(0);
  });

  it('runs many-to-many over topics with a wildcard, spread over two worker threads', async () => {
    const r = await run('pub', {
      broker: broker.url,
      publishers: 4,
      subscribers: 2,
      topics: 4,
      wildcard: true,
      numMessages: 2000,
      workers: 2,
    });
    expect(r.problems).toEqual([]);
    expect(r.messages.sent).toBe(8000);
    expect(r.messages.expected).toBe(16_000);
    expect(r.messages.received).toBe(16_000);
    // Histograms from both threads are merged, not averaged.
    expect(r.histograms.latencyUs?.count).toBe(16_000);
    expect(r.config.workers).toBe(2);
  });

  it('measures latency at a fixed rate and reports percentiles', async () => {
    const r = await run('latency', { broker: broker.url, rate: 2000, durationMs: 600 });
    expect(r.ok).toBe(true);
    const l = r.latencyMs;
    expect(l).not.toBeNull();
    if (!l) return;
    // The default 1 s warm-up: the first 2 000 messages (one per 0.5 ms) are delivered, not measured.
    expect(r.config.warmupMs).toBe(1000);
    expect(l.count).toBe(r.messages.received - 2000);
    expect(r.messages.sent).toBeGreaterThan(3000);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.p999);
    expect(l.p999).toBeLessThanOrEqual(l.max);
    expect(r.config.rate).toBe(2000);
  });

  it('runs the mqtt-stresser workload and its summary', async () => {
    const r = await run('stress', { broker: broker.url, numClients: 4, numMessages: 50, qos: 1 });
    expect(r.problems).toEqual([]);
    expect(r.stresser?.published).toBe(200);
    expect(r.stresser?.received).toBe(200);
    expect(r.stresser?.completed).toBe(4);
    expect(r.stresser?.publish.histogram.at(-1)?.percent).toBe(100);
    expect(r.messages.lost).toBe(0);
  });

  it('storms connections and counts them', async () => {
    const r = await run('conn', { broker: broker.url, numClients: 60, connectRate: 600 });
    expect(r.ok).toBe(true);
    expect(r.connections.connected).toBe(60);
    expect(r.connections.failed).toBe(0);
    expect(r.connections.timeToAllMs).toBeGreaterThan(0);
  });

  it('reports connection failures when nothing listens', async () => {
    const port = await freePort();
    const r = await run('conn', { broker: `tcp://127.0.0.1:${port}`, numClients: 3, timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.connections.failed).toBe(3);
    expect(r.errors.length).toBeGreaterThan(0);
  });

  it('counts exactly the losses, duplicates and reorderings a faulty path introduces', async () => {
    const proxy = await startFaultyProxy(broker.port, { dropEvery: 50, duplicateEvery: 37, swapEvery: 41 });
    try {
      // One publisher, one subscriber through the proxy: every delivery crosses it once.
      const r = await run('pub', {
        broker: proxy.url,
        publishers: 1,
        subscribers: 1,
        numMessages: 2000,
        drainTimeoutMs: 500,
      });
      const f = proxy.faults;
      expect(f.dropped).toBeGreaterThan(0);
      expect(f.duplicated).toBeGreaterThan(0);
      expect(f.swapped).toBeGreaterThan(0);
      expect(r.messages.lost).toBe(f.dropped);
      expect(r.messages.duplicated).toBe(f.duplicated);
      // A swapped pair arrives as (n+1, n): n is the one below the highest seen.
      expect(r.messages.outOfOrder).toBe(f.swapped);
      expect(r.messages.received).toBe(2000 - f.dropped + f.duplicated);
      expect(r.ok).toBe(false);
      expect(r.problems.join(' ')).toMatch(/lost.*duplicate.*out of order/);
    } finally {
      await proxy.close();
    }
  });

  it('speaks MQTT over WebSocket', async () => {
    const bridge = await startWsBridge(broker.port);
    try {
      const r = await run('pub', {
        broker: bridge.url,
        publishers: 2,
        subscribers: 1,
        numMessages: 200,
        qos: 1,
      });
      expect(r.problems).toEqual([]);
      expect(r.messages.received).toBe(400);
    } finally {
      await bridge.close();
    }
  });

  it('stops by itself at the global timeout and reports what it saw', async () => {
    const r = await run('pub', {
      broker: broker.url,
      publishers: 1,
      subscribers: 1,
      // Far more than fits in the timeout, one QoS 1 message in flight at a time. (A planned run
      // longer than an explicit global timeout, such as --duration 60s, is refused up front.)
      numMessages: 10_000_000,
      qos: 1,
      maxInflight: 1,
      globalTimeoutMs: 1500,
    });
    expect(r.stopReason).toBe('timeout');
    expect(r.messages.sent).toBeGreaterThan(0);
    // What was on its way at the cut is unfinished or arrived during the settle, never lost.
    expect(r.messages.lost).toBe(0);
    expect(r.durationMs).toBeLessThan(5_000);
  });
});

describe.skipIf(mosquitto.skip)(`mqtt-bench against a lossy Mosquitto ${mosquitto.reason}`, () => {
  it('reports a broker that drops messages as lossy', async () => {
    // The stress subscriber withholds its acks while its worker publishes, as mqtt-stresser's does:
    // Mosquitto keeps 20 in flight and 10 queued, and drops the rest.
    const broker = await startMosquitto({ config: ['max_queued_messages 10', 'max_inflight_messages 20'] });
    try {
      const r = await run('stress', {
        broker: broker.url,
        numClients: 2,
        numMessages: 300,
        qos: 1,
        globalTimeoutMs: 3000,
      });
      expect(r.ok).toBe(false);
      expect(r.messages.lost).toBeGreaterThan(0);
      expect(r.messages.sent).toBe(600);
      expect(r.messages.received + r.messages.lost).toBe(600);
      expect(r.problems.join(' ')).toMatch(/lost/);
    } finally {
      await broker.stop();
    }
  });
});

describe.skipIf(mosquitto.skip || requireServer('openssl').skip)(
  `mqtt-bench over TLS ${mosquitto.reason}`,
  () => {
    let pki: TestPki;
    let broker: RunningMosquitto;
    let tlsPort: number;
    beforeAll(async () => {
      pki = makePki();
      tlsPort = await freePort();
      broker = await startMosquitto({
        config: [
          `listener ${tlsPort} 127.0.0.1`,
          `cafile ${pki.caFile}`,
          `certfile ${pki.serverCert}`,
          `keyfile ${pki.serverKey}`,
          'require_certificate true',
        ],
      });
    });
    afterAll(async () => {
      await broker?.stop();
      pki?.cleanup();
    });

    it('connects with a CA and a client certificate', async () => {
      const r = await run('pub', {
        broker: `mqtts://127.0.0.1:${tlsPort}`,
        tls: { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey },
        publishers: 1,
        subscribers: 1,
        numMessages: 200,
        qos: 1,
      });
      expect(r.problems).toEqual([]);
      expect(r.messages.received).toBe(200);
    });

    it('speaks MQTT over secure WebSocket', async () => {
      // The WebSocket front terminates TLS and forwards to the plain TCP listener of the same broker.
      const plain = await startMosquitto({ config: ['max_queued_messages 0'] });
      const bridge = await startWsBridge(plain.port, { certFile: pki.serverCert, keyFile: pki.serverKey });
      try {
        const r = await run('pub', {
          broker: bridge.url,
          tls: { caFile: pki.caFile },
          publishers: 2,
          subscribers: 1,
          numMessages: 100,
          qos: 1,
          protocolVersion: 5,
        });
        expect(bridge.url.startsWith('wss://')).toBe(true);
        expect(r.problems).toEqual([]);
        expect(r.messages.received).toBe(200);
      } finally {
        await bridge.close();
        await plain.stop();
      }
    });

    it('fails verification without the CA, and passes with --insecure', async () => {
      const refused = await run('conn', {
        broker: `ssl://127.0.0.1:${tlsPort}`,
        tls: { certFile: pki.clientCert, keyFile: pki.clientKey },
        numClients: 1,
      });
      expect(refused.connections.failed).toBe(1);
      const insecure = await run('conn', {
        broker: `tls://127.0.0.1:${tlsPort}`,
        tls: { certFile: pki.clientCert, keyFile: pki.clientKey, insecure: true },
        numClients: 2,
      });
      expect(insecure.connections.connected).toBe(2);
    });
  },
);
