import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowAllHook, Broker, silentLogger, TcpListener } from '@x/broker';
import { RedisStore } from '@x/broker-store-redis';
import { freePort, type RunningRedis, requireServer, startMosquitto, startRedis } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, connect } from '../src/index.js';

const mosquitto = requireServer('mosquitto');
const redis = requireServer('redis-server');

interface Server {
  url: string;
  stop(): Promise<void>;
}
const COUNT = 400;

/**
 * The broker is restarted (same port, persistent store) while a QoS 1 or QoS 2 stream is flowing
 * through it. Publisher and subscriber reconnect on their own, resume their sessions and re-send
 * what was unacknowledged: every message arrives, and at QoS 2 exactly once.
 */
describe.skipIf(mosquitto.skip)(`session resume across a Mosquitto restart ${mosquitto.reason}`, () => {
  let dir: string;
  let port: number;
  const start = () =>
    startMosquitto({
      port,
      config: [
        'persistence true',
        `persistence_location ${dir}/`,
        'autosave_interval 1',
        'max_inflight_messages 0',
      ],
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-resume-'));
    // Mosquitto started as root drops to its own user, which must be able to write the store.
    chmodSync(dir, 0o777);
    port = await freePort();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  // Mosquitto 2.0 restored from its store re-sends, with DUP, QoS 2 flows that had completed before
  // the restart; without the guard the subscriber would (per MQTT-4.3.3-12) take them as new
  // messages and QoS 2 would not be exactly once across the restart.
  restarts(() => start(), undefined, { qos2ReplayGuard: 256 });
});

/** Our broker keeps sessions in Redis (RedisStore); a new broker process-equivalent takes over. */
describe.skipIf(redis.skip)(
  `session resume across a restart of our broker with RedisStore ${redis.reason}`,
  () => {
    let store: RunningRedis;
    let port: number;
    let generation = 0;
    beforeAll(async () => {
      store = await startRedis();
      port = await freePort();
    });
    afterAll(async () => {
      await store?.stop();
    });
    restarts(
      async () => {
        const redisStore = new RedisStore({ url: store.url, prefix: `resume-${generation}:` });
        const broker = new Broker({ logger: silentLogger, sysInterval: 0, store: redisStore });
        broker.addHook(new AllowAllHook());
        await broker.addListener(new TcpListener({ host: '127.0.0.1', port }));
        await broker.start();
        return {
          url: `mqtt://127.0.0.1:${port}`,
          // Commits what is left and closes the store.
          stop: () => broker.close(),
        };
      },
      () => generation++,
    );
  },
);

function restarts(
  start: () => Promise<Server>,
  nextTest: () => void = () => undefined,
  subscriberOptions: { qos2ReplayGuard?: number } = {},
): void {
  let broker: Server | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  for (const protocolVersion of [5, 4] as const) {
    for (const qos of [1, 2] as const) {
      it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}, QoS ${qos}: every message delivered${qos === 2 ? ' exactly once' : ''}`, async () => {
        nextTest();
        await broker?.stop(); // left over by a failed test
        broker = await start();
        const tag = `${protocolVersion}-${qos}-${Math.random().toString(16).slice(2, 8)}`;
        const topic = `stream/${tag}`;
        const common = {
          protocolVersion,
          clean: false,
          sessionExpiryInterval: 600,
          reconnect: { initialDelay: 50, maxDelay: 400 },
          connectTimeout: 5_000,
        } as const;
        const sub: Client = await connect(broker.url, {
          ...common,
          ...subscriberOptions,
          clientId: `sub-${tag}`,
        });
        const counts = new Map<number, number>();
        let received = 0;
        let restarted: Promise<void> | undefined;
        const allIn = new Promise<void>((resolve) => {
          sub.on('message', (m) => {
            const i = Number(m.text());
            counts.set(i, (counts.get(i) ?? 0) + 1);
            received++;
            if (received === 120 && !restarted) {
              restarted = (async () => {
                await broker?.stop();
                broker = await start();
              })();
            }
            if (counts.size === COUNT) resolve();
          });
        });
        await sub.subscribe(topic, { qos });
        const pub: Client = await connect(broker.url, { ...common, clientId: `pub-${tag}` });
        const offline: string[] = [];
        pub.on('offline', () => offline.push('pub'));
        sub.on('offline', () => offline.push('sub'));
        // Ten at a time, so that the stream is still flowing when the broker goes down; publishes
        // made while offline are queued and sent after the reconnect.
        const results: unknown[] = [];
        for (let i = 0; i < COUNT; i += 10) {
          const batch = Array.from({ length: 10 }, (_, k) => pub.publish(topic, String(i + k), { qos }));
          results.push(...(await Promise.all(batch)));
        }
        await allIn;
        await restarted;
        expect(results).toHaveLength(COUNT);
        expect(offline).toContain('pub');
        expect(offline).toContain('sub');
        const missing = Array.from({ length: COUNT }, (_, i) => i).filter((i) => !counts.has(i));
        expect(missing).toEqual([]);
        if (qos === 2) {
          const dups = [...counts].filter(([, n]) => n > 1);
          expect(dups).toEqual([]);
        }
        await pub.end();
        await sub.end();
        await broker.stop();
        broker = undefined;
      });
    }
  }
}
