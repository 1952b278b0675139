import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '@x/broker-auth';
import {
  connectOutcome,
  freePort,
  type RunningPostgres,
  type RunningRedis,
  type SpawnedServer,
  startPostgres,
  startRedis,
} from '@x/test-helpers';
import { Redis } from 'ioredis';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printed, runBinary, startBinary } from './binary.js';

const postgresInstalled = existsSync('/usr/lib/postgresql/15/bin/initdb');
const skip = !postgresInstalled && process.env.CI !== 'true';

/** Passwords every source gets; none may appear in the broker's output. */
const SECRETS = ['http-pass', 'redis-pass', 'pg-pass', 'ledger-pass', 'wrong-pass'];

describe.skipIf(skip)('mqtt-broker with auth.http, auth.redis, auth.postgres and auth.jwt chained', () => {
  let dir: string;
  let redis: RunningRedis;
  let postgres: RunningPostgres;
  let service: Server;
  let broker: SpawnedServer;
  let url: string;
  let sign: (claims: Record<string, unknown>, expiresIn?: string) => Promise<string>;
  const asked: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'broker-auth-backends-'));
    [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);

    const admin = new Redis(redis.url);
    await admin.hset('mqtt:user:rita', {
      password: await hashPassword('redis-pass', { algorithm: 'mosquitto-pbkdf2' }),
    });
    await admin.hset('mqtt:acl:rita', 'rita/#', 'readwrite');
    await admin.quit();

    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    await db.query(
      'CREATE TABLE mqtt_users (username text PRIMARY KEY, password text NOT NULL, superuser boolean NOT NULL DEFAULT false);' +
        'CREATE TABLE mqtt_acl (username text, topic text NOT NULL, access text NOT NULL);',
    );
    await db.query('INSERT INTO mqtt_users VALUES ($1, $2, false)', [
      'paula',
      await hashPassword('pg-pass', { algorithm: 'pbkdf2-sha512', iterations: 1000 }),
    ]);
    await db.query("INSERT INTO mqtt_acl VALUES ('paula', 'paula/#', 'readwrite')");
    await db.end();

    // The web service knows hana (allowed) and mallory (denied) and leaves everyone else to the
    // next source.
    service = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const { username, password } = JSON.parse(body) as { username: string | null; password: string };
        asked.push(username ?? '');
        const result =
          username === 'hana' && password === 'http-pass'
            ? { result: 'allow', acl: [{ topic: 'hana/#', access: 'readwrite' }] }
            : username === 'hana' || username === 'mallory'
              ? { result: 'deny' }
              : { result: 'ignore' };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(result));
      });
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const httpPort = (service.address() as AddressInfo).port;

    const { publicKey, privateKey } = await generateKeyPair('RS256');
    writeFileSync(join(dir, 'jwt.pem'), await exportSPKI(publicKey));
    sign = (claims, expiresIn = '5m') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey);

    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'broker.yaml'),
      [
        'listeners:',
        `  - { type: tcp, port: ${port} }`,
        'http: off',
        'storage: { type: memory }',
        'auth:',
        '  allowAnonymous: false',
        '  rules:',
        '    - { username: lena, password: ledger-pass }',
        '  jwt:',
        '    publicKeyFile: jwt.pem',
        '    algorithms: [RS256]',
        '  http:',
        `    url: http://127.0.0.1:${httpPort}/auth`,
        '    timeoutMs: 5000',
        '    cache: { maxEntries: 100, ttlMs: 1000 }',
        '    failMode: closed',
        '  redis:',
        `    url: ${redis.url}`,
        '  postgres:',
        `    url: ${postgres.url}`,
        '    failMode: next',
        '',
      ].join('\n'),
    );
    broker = await startBinary(['--config', join(dir, 'broker.yaml')], port);
  }, 90_000);

  afterAll(async () => {
    await broker?.stop(2000);
    if (service?.listening) {
      service.closeAllConnections();
      await new Promise((resolve) => service.close(resolve));
    }
    await Promise.all([redis?.stop(), postgres?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says at start-up which sources are on, in the order they are asked', async () => {
    // Logged right after the listeners open: wait for it rather than race it.
    await printed(
      broker,
      'auth: jwt (fail closed), http (fail closed), redis (fail closed), postgres (fail next), ledger (1 auth rule)',
    );
  });

  it('HTTP: the service accepts hana with her password and refuses a wrong one (0x86)', async () => {
    expect(await connectOutcome(url, { username: 'hana', password: 'http-pass' })).toBe('connected');
    expect(await connectOutcome(url, { username: 'hana', password: 'wrong-pass' })).toBe(0x86);
    expect(await connectOutcome(url, { username: 'mallory', password: 'http-pass' })).toBe(0x86);
    expect(asked).toContain('hana');
  });

  it('Redis: a mosquitto_passwd-style hash in mqtt:user:rita, and its ACL', async () => {
    expect(await connectOutcome(url, { username: 'rita', password: 'wrong-pass' })).toBe(0x86);
    const rita = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: 'rita',
      password: 'redis-pass',
    });
    try {
      await rita.publishAsync('rita/x', 'ok', { qos: 1 });
      // Outside her ACL: PUBACK 0x87 Not authorized.
      await expect(rita.publishAsync('hana/x', 'no', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    } finally {
      await rita.endAsync();
    }
  });

  it('PostgreSQL: a user row from mqtt_users, refused with a wrong password', async () => {
    expect(await connectOutcome(url, { username: 'paula', password: 'pg-pass' })).toBe('connected');
    expect(await connectOutcome(url, { username: 'paula', password: 'wrong-pass' })).toBe(0x86);
  });

  it('JWT: a token signed with the key in publicKeyFile; a forged, expired or mismatched one is refused', async () => {
    expect(await connectOutcome(url, { username: 'jo', password: await sign({ sub: 'jo' }) })).toBe(
      'connected',
    );
    expect(await connectOutcome(url, { username: 'jo', password: await sign({ sub: 'kim' }) })).toBe(0x86);
    expect(await connectOutcome(url, { username: 'jo', password: await sign({ sub: 'jo' }, '-1m') })).toBe(
      0x86,
    );
    const { privateKey: other } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: 'jo' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(other);
    expect(await connectOutcome(url, { username: 'jo', password: forged })).toBe(0x86);
  });

  it('the ledger comes last: its rules still work; unknown users and anonymous clients are refused', async () => {
    expect(await connectOutcome(url, { username: 'lena', password: 'ledger-pass' })).toBe('connected');
    expect(await connectOutcome(url, { username: 'lena', password: 'wrong-pass' })).toBe(0x86);
    expect(await connectOutcome(url, { username: 'nobody', password: 'wrong-pass' })).toBe(0x86);
    expect(await connectOutcome(url, {})).toBe(0x87);
  });

  it('an unreachable service: one warning line and its fail mode (closed: 0x88), never a crash', async () => {
    service.closeAllConnections();
    await new Promise((resolve) => service.close(resolve));
    // Not in the answer cache (another password): the service must be asked, and is gone.
    expect(await connectOutcome(url, { username: 'hana', password: 'wrong-pass-2' })).toBe(0x88);
    await printed(broker, 'auth backend http failed; failing closed');
    // The sources after it are not asked for this client, the broker goes on for the others.
    expect(await connectOutcome(url, { username: 'rita', password: 'redis-pass' })).toBe(0x88);
    expect(await connectOutcome(url, { username: 'jo', password: await sign({ sub: 'jo' }) })).toBe(
      'connected',
    );
  });

  it('never logs a credential', () => {
    const output = broker.output();
    expect(output).toContain('CONNECT refused');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });
});

describe('mqtt-broker auth backend settings', () => {
  it('stops the start with one line when a key file is no key (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-auth-config-'));
    try {
      writeFileSync(join(dir, 'bad.pem'), 'not a key\n');
      writeFileSync(join(dir, 'broker.yaml'), 'auth:\n  jwt: { publicKeyFile: bad.pem }\n');
      const args = ['--config', join(dir, 'broker.yaml'), '--tcp', '127.0.0.1:0', '--ws', 'off'];
      const ran = await runBinary([...args, '--http', 'off']);
      expect(ran.code).toBe(2);
      expect(ran.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(ran.stderr).toMatch(/^mqtt-broker: auth\.jwt: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
