import { until } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Imported by path: @x/test-helpers depends on @x/broker, so it cannot be a dependency of it.
import { freePort } from '../../test-helpers/src/ports.js';
import { type SpawnedServer, spawnServer } from '../../test-helpers/src/process.js';
import { type RunningRedis, startRedis } from '../../test-helpers/src/redis.js';
import { requireServer } from '../../test-helpers/src/servers.js';
import { RedisClient } from '../src/redis-client.js';
import { RedisError } from '../src/resp.js';

const redisServer = requireServer('redis-server');

describe.skipIf(redisServer.skip)(
  `RedisClient against a real redis-server${redisServer.reason ? ` (skipped: ${redisServer.reason})` : ''}`,
  () => {
    let redis: RunningRedis;
    let secured: SpawnedServer;
    let securedPort: number;

    beforeAll(async () => {
      redis = await startRedis();
      securedPort = await freePort();
      secured = await spawnServer({
        command: redisServer.path!,
        args: ['--port', String(securedPort), '--bind', '127.0.0.1', '--save', '', '--requirepass', 's3cret'],
        port: securedPort,
      });
    });

    afterAll(async () => {
      await redis?.stop();
      await secured?.stop();
    });

    it('pipelines thousands of commands and matches every reply to its command, in order', async () => {
      const client = new RedisClient({ url: redis.url });
      await client.connect();
      try {
        await client.command(['DEL', 'counter']);
        const replies = await Promise.all(
          Array.from({ length: 5000 }, () => client.command(['INCR', 'counter'])),
        );
        expect(replies).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
        const binary = Buffer.from([0, 13, 10, 255, 36, 42]);
        await client.command(['SET', 'bin', binary]);
        expect(await client.command(['GET', 'bin'])).toEqual(binary);
        expect(await client.command(['GET', 'missing'])).toBeNull();
      } finally {
        await client.close();
      }
    });

    it('an error reply rejects its command (typed, with the server code) and leaves the others alone', async () => {
      const errors: RedisError[] = [];
      const client = new RedisClient({ url: redis.url, onError: (e) => errors.push(e) });
      await client.connect();
      try {
        await client.command(['SET', 'str', 'x']);
        const [bad, good] = await Promise.allSettled([
          client.command(['LPUSH', 'str', 'y']),
          client.command(['GET', 'str']),
        ]);
        expect(bad.status).toBe('rejected');
        const error = (bad as PromiseRejectedResult).reason as RedisError;
        expect(error).toBeInstanceOf(RedisError);
        expect([error.code, error.replyCode]).toEqual(['REPLY', 'WRONGTYPE']);
        expect((good as PromiseFulfilledResult<Buffer>).value.toString()).toBe('x');
        // Fire-and-forget: no promise, the error goes to onError.
        expect(client.send(['LPUSH', 'str', 'z'])).toBe(true);
        await client.idle();
        expect(errors.map((e) => e.replyCode)).toEqual(['WRONGTYPE']);
        // Inside a transaction the failure is an element of EXEC's answer: reported all the same.
        expect(client.sendAll([['MULTI'], ['SET', 'ok', '1'], ['LPUSH', 'str', 'w'], ['EXEC']])).toBe(true);
        await client.idle();
        expect(errors.map((e) => e.replyCode)).toEqual(['WRONGTYPE', 'WRONGTYPE']);
      } finally {
        await client.close();
      }
    });

    it('bounds the commands awaiting replies', async () => {
      const client = new RedisClient({ url: redis.url, maxPending: 3 });
      await client.connect();
      try {
        expect([1, 2, 3].map(() => client.send(['PING']))).toEqual([true, true, true]);
        expect(client.send(['PING'])).toBe(false);
        await expect(client.command(['PING'])).rejects.toMatchObject({ code: 'QUEUE_FULL' });
        expect(client.sendAll([['MULTI'], ['EXEC']])).toBe(false); // all or none
        await client.idle();
        expect(client.pending).toBe(0);
        expect(client.send(['PING'])).toBe(true);
      } finally {
        await client.close();
      }
    });

    it('authenticates and selects the database from the URL; a wrong password is a clear connect error', async () => {
      const client = new RedisClient({ url: `redis://:s3cret@127.0.0.1:${securedPort}/3` });
      await client.connect();
      try {
        await client.command(['SET', 'where', 'db3']);
        const info = (await client.command(['CLIENT', 'INFO'])) as Buffer;
        expect(info.toString()).toMatch(/ db=3 /);
      } finally {
        await client.close();
      }
      const wrong = new RedisClient({ url: `redis://:nope@127.0.0.1:${securedPort}`, connectTimeout: 500 });
      await expect(wrong.connect()).rejects.toMatchObject({
        code: 'CONNECT_TIMEOUT',
        message: expect.stringMatching(/WRONGPASS|invalid password/),
      });
      await wrong.close();
    });

    it('reconnects after the server closes the connection, failing only the commands in flight', async () => {
      const lost: number[] = [];
      let ready = 0;
      const client = new RedisClient({
        url: redis.url,
        reconnectMin: 10,
        onReady: () => ready++,
        onLost: (n) => lost.push(n),
      });
      await client.connect();
      const admin = new RedisClient({ url: redis.url });
      await admin.connect();
      try {
        await client.command(['CLIENT', 'SETNAME', 'victim']);
        // Waits until the kill; its failure is expected before the kill is even answered.
        const blocked = expect(client.command(['BLPOP', 'never', '0'])).rejects.toMatchObject({
          code: 'CONNECTION_LOST',
        });
        await until(() => client.pending === 1, 2000, 'BLPOP sent');
        await admin.command(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
        await blocked;
        expect(lost).toEqual([1]);
        await expect(client.command(['PING'])).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
        await until(() => client.ready, 3000, 'reconnection');
        expect(ready).toBe(2);
        expect(await client.command(['PING'])).toBe('PONG');
      } finally {
        await client.close();
        await admin.close();
      }
    });

    it('close waits for the replies still due, then refuses commands', async () => {
      const client = new RedisClient({ url: redis.url });
      await client.connect();
      for (let i = 0; i < 1000; i++) client.send(['SET', `k${i}`, i]);
      await client.close();
      expect(client.pending).toBe(0);
      const check = new RedisClient({ url: redis.url });
      await check.connect();
      expect((await check.command(['GET', 'k999'])) as Buffer).toEqual(Buffer.from('999'));
      await check.close();
      await expect(client.connect()).rejects.toMatchObject({ code: 'CLOSED' });
    });
  },
);
