import { type RunningRedisCluster, requireServer, startRedisCluster, until } from '@x/test-helpers';
import { Redis } from 'ioredis';
import type { IPublishPacket } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient as client,
  moveSession,
  type Node,
  routed,
  startNodes,
  stopAll,
  takeOver,
} from './nodes.js';

const redisServer = requireServer('redis-server');
const redisCli = requireServer('redis-cli', 'apt-get install redis-tools');
const PREFIX = 'rc:';
const LEASE_MS = 1500;

describe.skipIf(redisServer.skip || redisCli.skip)(
  'a cluster of two broker processes on a Redis Cluster of three masters',
  () => {
    let redis: RunningRedisCluster;
    let a: Node;
    let b: Node;

    beforeAll(async () => {
      redis = await startRedisCluster();
      [a, b] = await startNodes(redis.url, PREFIX, ['rc-a', 'rc-b'], LEASE_MS, {
        env: { CLUSTER_TEST_REDIS_CLUSTER: '1' },
      });
    }, 60_000);

    afterAll(() => stopAll([a, b], redis));

    it('delivers QoS 0, 1 and 2 across nodes, each message exactly once and in order', async () => {
      const N = 100;
      const subs = {
        b: await client(b.url, { clientId: 'rc-sub-b' }),
        a: await client(a.url, { clientId: 'rc-sub-a' }),
      };
      const got: Record<'b' | 'a', IPublishPacket[]> = { b: [], a: [] };
      for (const k of ['b', 'a'] as const) {
        subs[k].on('message', (_t, _p, packet) => got[k].push(packet));
        await subs[k].subscribeAsync('rc/#', { qos: 2 });
      }
      const pub = await client(a.url, { clientId: 'rc-pub' });
      const isProbe = (p: { topic: string }) => p.topic === 'rc/probe';
      await routed(pub, () => got.b.some(isProbe) && got.a.some(isProbe), 'rc/probe');
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        for (const qos of [0, 1, 2] as const) sends.push(pub.publishAsync(`rc/q${qos}`, `${i}`, { qos }));
      }
      await Promise.all(sends);
      const count = (k: 'b' | 'a', q: number) => got[k].filter((p) => p.topic === `rc/q${q}`).length;
      await until(
        () => (['b', 'a'] as const).every((k) => [0, 1, 2].every((q) => count(k, q) >= N)),
        20_000,
        'every message on both nodes',
      );
      await new Promise((r) => setTimeout(r, 300)); // duplicates, if any, would arrive now
      for (const k of ['b', 'a'] as const) {
        for (const q of [0, 1, 2]) {
          const packets = got[k].filter((p) => p.topic === `rc/q${q}`);
          // Per publisher and QoS, in order [MQTT-4.6.0-5], each exactly once
          expect(
            packets.map((p) => String(p.payload)),
            `${k} q${q}`,
          ).toEqual(Array.from({ length: N }, (_, i) => `${i}`));
          expect(packets.every((p) => p.qos === q)).toBe(true);
        }
      }

      // The cluster's keys are spread over the masters (each node's keys in its own hash slot).
      const perMaster = await Promise.all(
        redis.nodes.map(async (n) => {
          const r = new Redis(n.url);
          const keys = await r.keys(`${PREFIX}cluster:*`);
          r.disconnect();
          return keys;
        }),
      );
      expect(perMaster.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
      expect(perMaster.flat()).toEqual(expect.arrayContaining([`${PREFIX}cluster:{rc-a}:lease`]));
    });

    it('resumes a session on another node with what was queued for it', async () => {
      const moved = await moveSession('rc-mover', 'rcmove', 30, { home: a, via: b, to: b });
      expect(moved.sessionPresent).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(moved.got).toEqual(Array.from({ length: 30 }, (_, i) => `rcmove/${i}`));
    });

    it('takes a session over across nodes: the older connection gets DISCONNECT 0x8E within a second', async () => {
      const takeover = await takeOver('rc-twin', 'rctwin', { older: a, newer: b, via: a });
      expect(takeover.code).toBe(0x8e); // [MQTT-3.1.4-3]
      expect(takeover.elapsedMs).toBeLessThan(1000);
      expect(takeover.sessionPresent).toBe(true);
      await takeover.delivered();
    });
  },
);
