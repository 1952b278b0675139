import { hashPassword, Ledger, LedgerHook } from '@x/broker-auth';
import {
  connectOutcome,
  type RunningBroker,
  type RunningRedis,
  recordingLogger,
  requireServer,
  startBroker,
  startRedis,
} from '@x/test-helpers';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisAuthHook } from '../src/index.js';

const server = requireServer('redis-server');

const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 5000 };

describe.skipIf(server.skip)(`@x/broker-auth-redis against a real redis-server ${server.reason}`, () => {
  let redis: RunningRedis;
  let admin: Redis;
  let broker: RunningBroker | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    await admin.hset(
      'mqtt:user:alice',
      'password',
      await hashPassword('wonderland', { algorithm: 'mosquitto-pbkdf2' }),
    );
    await admin.hset('mqtt:acl:alice', {
      'users/%u/#': 'readwrite',
      'public/#': 'read',
      'public/secret/#': 'deny',
    });
    await admin.hset(
      'mqtt:user:bob',
      'password',
      await hashPassword('builder', { algorithm: 'bcrypt', rounds: 4 }),
    );
    await admin.hset('mqtt:user:root', { password: 'r00t', superuser: '1' });
    await admin.hset('mqtt:acl:%all', 'devices/%c/#', 'readwrite');
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  it('checks hashed passwords, enforces the per-user ACL and the patterns, chains with the ledger', async () => {
    const ledger = new LedgerHook({
      ledger: new Ledger({ auth: [{ username: 'guest', password: 'guest' }] }),
    });
    broker = await startBroker({ hooks: [redisAuthHook({ redis: redis.url }), ledger] });
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe('connected');
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderlan' })).toBe(0x86);
    expect(await connectOutcome(broker.url, { username: 'bob', password: 'builder' })).toBe('connected');
    // Unknown to Redis: the ledger decides.
    expect(await connectOutcome(broker.url, { username: 'guest', password: 'guest' })).toBe('connected');
    expect(await connectOutcome(broker.url, { username: 'nobody', password: 'x' })).toBe(0x86);

    const alice = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'd1',
      username: 'alice',
      password: 'wonderland',
    });
    const got: string[] = [];
    alice.on('message', (topic) => got.push(topic));
    await alice.subscribeAsync('public/#');
    await expect(alice.subscribeAsync('users/bob/#')).rejects.toThrow(/Not authorized/);
    await expect(alice.publishAsync('public/x', 'x', { qos: 1 })).rejects.toThrow();
    await alice.publishAsync('devices/d1/state', 'on', { qos: 1 });
    await expect(alice.publishAsync('devices/d2/state', 'on', { qos: 1 })).rejects.toThrow();
    const root = await mqtt.connectAsync(broker.url, { ...v5, username: 'root', password: 'r00t' });
    await root.publishAsync('public/secret/x', 'x', { qos: 1 });
    await root.publishAsync('public/news', 'x', { qos: 1 });
    await expect.poll(() => got).toEqual(['public/news']);
    // bob has no ACL hash: only the patterns.
    const bob = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'b1',
      username: 'bob',
      password: 'builder',
    });
    await bob.publishAsync('devices/b1/x', 'x', { qos: 1 });
    await expect(bob.publishAsync('public/x', 'x', { qos: 1 })).rejects.toThrow();
    await Promise.all([alice.endAsync(), root.endAsync(), bob.endAsync()]);
  });

  it('uses custom key templates', async () => {
    await admin.hset('app:{u:carol}:auth', 'password', 'c');
    await admin.hset('app:{u:carol}:acl', 'carol/%c', 'write');
    broker = await startBroker({
      hooks: [
        redisAuthHook({
          redis: redis.url,
          userKey: 'app:{u:%u}:auth',
          aclKey: 'app:{u:%u}:acl',
          patternsKey: 'none',
        }),
      ],
    });
    const carol = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'c9',
      username: 'carol',
      password: 'c',
    });
    await carol.publishAsync('carol/c9', 'x', { qos: 1 });
    await expect(carol.publishAsync('carol/c8', 'x', { qos: 1 })).rejects.toThrow();
    await carol.endAsync();
  });

  it('refuses an ACL over maxAclEntries without reading it, and a malformed entry, as failures', async () => {
    await admin.hset('mqtt:user:big', 'password', 'b');
    await admin.hset(
      'mqtt:acl:big',
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`t/${i}`, 'read'])),
    );
    await admin.hset('mqtt:user:odd', 'password', 'o');
    await admin.hset('mqtt:acl:odd', 'a/#', 'sometimes');
    const logger = recordingLogger();
    broker = await startBroker({
      hooks: [redisAuthHook({ redis: redis.url, maxAclEntries: 10, logger, logIntervalMs: 0 })],
    });
    expect(await connectOutcome(broker.url, { username: 'big', password: 'b' })).toBe(0x88);
    expect(await connectOutcome(broker.url, { username: 'odd', password: 'o' })).toBe(0x88);
    expect(logger.lines.map((l) => (l.fields as { error: string }).error)).toEqual([
      expect.stringMatching(/21 entries over maxAclEntries/),
      expect.stringMatching(/"a\/#" → "sometimes"/),
    ]);
  });

  it('fails closed while Redis is down (fast, one log line, no password), or passes to the next hook', async () => {
    const own = await startRedis();
    const client = new Redis(own.url);
    await client.hset('mqtt:user:alice', 'password', 'pw-secret');
    const logger = recordingLogger();
    const closed = redisAuthHook({ redis: own.url, logger, logIntervalMs: 60_000, timeoutMs: 1000 });
    broker = await startBroker({ hooks: [closed] });
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'pw-secret' })).toBe('connected');
    client.disconnect();
    await own.stop();
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'pw-secret' })).toBe(0x88);
      expect(Date.now() - started).toBeLessThan(1500);
    }
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(logger.lines)).not.toContain('pw-secret');
    await broker.close();
    broker = await startBroker({
      hooks: [
        redisAuthHook({ redis: own.url, failMode: 'next', timeoutMs: 1000 }),
        new LedgerHook({ ledger: new Ledger({ auth: [{}] }) }),
      ],
    });
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'whatever' })).toBe('connected');
  });
});
