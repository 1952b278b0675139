import { existsSync } from 'node:fs';
import { hashPassword, Ledger, LedgerHook } from '@x/broker-auth';
import {
  connectOutcome,
  type RunningBroker,
  type RunningPostgres,
  recordingLogger,
  startBroker,
  startPostgres,
} from '@x/test-helpers';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresAuthHook } from '../src/index.js';

const installed = existsSync('/usr/lib/postgresql/15/bin/initdb');
const skip = !installed && process.env.CI !== 'true';

const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 5000 };

const SCHEMA = `
CREATE TABLE mqtt_users (username text PRIMARY KEY, password text NOT NULL, superuser boolean NOT NULL DEFAULT false);
CREATE TABLE mqtt_acl (username text, topic text NOT NULL, access text NOT NULL);
CREATE TABLE devices (client_id text PRIMARY KEY, owner text NOT NULL, secret text NOT NULL, level int NOT NULL);
`;

describe.skipIf(skip)(
  '@x/broker-auth-postgres against a real PostgreSQL 15 (apt-get install -y postgresql)',
  () => {
    let postgres: RunningPostgres;
    let admin: pg.Client;
    let broker: RunningBroker | undefined;

    beforeAll(async () => {
      postgres = await startPostgres();
      admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      await admin.query(SCHEMA);
      const users: [string, string, boolean][] = [
        ['alice', await hashPassword('wonderland', { algorithm: 'pbkdf2-sha256', iterations: 1000 }), false],
        ['bob', await hashPassword('builder', { algorithm: 'mosquitto-pbkdf2' }), false],
        ['root', await hashPassword('r00t', { algorithm: 'sha512' }), true],
        ["o'brien", 'plain; DROP TABLE mqtt_users; --', false],
      ];
      for (const user of users) await admin.query('INSERT INTO mqtt_users VALUES ($1, $2, $3)', user);
      const acl = [
        ['alice', 'users/%u/#', 'readwrite'],
        ['alice', 'public/#', 'read'],
        ['alice', 'public/secret/#', 'deny'],
        [null, 'devices/%c/#', 'readwrite'],
      ];
      for (const row of acl) await admin.query('INSERT INTO mqtt_acl VALUES ($1, $2, $3)', row);
    }, 60_000);
    afterAll(async () => {
      await admin?.end();
      await postgres?.stop();
    });
    afterEach(async () => {
      await broker?.close();
      broker = undefined;
    });

    it('checks hashes from the default tables, enforces user and shared ACL rows, chains with the ledger', async () => {
      const ledger = new LedgerHook({
        ledger: new Ledger({ auth: [{ username: 'guest', password: 'guest' }] }),
      });
      broker = await startBroker({ hooks: [postgresAuthHook({ pool: postgres.url }), ledger] });
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe(
        'connected',
      );
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonder' })).toBe(0x86);
      expect(await connectOutcome(broker.url, { username: 'bob', password: 'builder' })).toBe('connected');
      expect(
        await connectOutcome(broker.url, {
          username: "o'brien",
          password: 'plain; DROP TABLE mqtt_users; --',
        }),
      ).toBe('connected');
      expect(await connectOutcome(broker.url, { username: "x' OR '1'='1", password: "x' OR '1'='1" })).toBe(
        0x86,
      );
      expect(await connectOutcome(broker.url, { username: 'guest', password: 'guest' })).toBe('connected');

      const alice = await mqtt.connectAsync(broker.url, {
        ...v5,
        clientId: 'a1',
        username: 'alice',
        password: 'wonderland',
      });
      const got: string[] = [];
      alice.on('message', (topic) => got.push(topic));
      await alice.subscribeAsync('public/#');
      await expect(alice.subscribeAsync('users/bob/#')).rejects.toThrow(/Not authorized/);
      await alice.publishAsync('devices/a1/state', 'x', { qos: 1 });
      await expect(alice.publishAsync('public/x', 'x', { qos: 1 })).rejects.toThrow();
      const root = await mqtt.connectAsync(broker.url, { ...v5, username: 'root', password: 'r00t' });
      await root.publishAsync('public/secret/x', 'x', { qos: 1 });
      await root.publishAsync('public/news', 'x', { qos: 1 });
      await expect.poll(() => got).toEqual(['public/news']);
      await Promise.all([alice.endAsync(), root.endAsync()]);
    });

    it('runs custom SQL with the client id and numeric access levels', async () => {
      const secret = await hashPassword('dev-secret', { algorithm: 'pbkdf2-sha512', iterations: 1000 });
      await admin.query("INSERT INTO devices VALUES ('dev-1', 'carol', $1, 2), ('dev-2', 'carol', $1, 1)", [
        secret,
      ]);
      broker = await startBroker({
        hooks: [
          postgresAuthHook({
            pool: { connectionString: postgres.url, max: 2 },
            userQuery: 'SELECT secret AS password FROM devices WHERE owner = $1 AND client_id = $2',
            aclQuery:
              "SELECT 'telemetry/' || client_id AS topic, level AS access FROM devices WHERE client_id = $2;",
          }),
        ],
      });
      const writer = await mqtt.connectAsync(broker.url, {
        ...v5,
        clientId: 'dev-1',
        username: 'carol',
        password: 'dev-secret',
      });
      await writer.publishAsync('telemetry/dev-1', 'x', { qos: 1 });
      await expect(writer.subscribeAsync('telemetry/dev-1')).rejects.toThrow(/Not authorized/);
      const reader = await mqtt.connectAsync(broker.url, {
        ...v5,
        clientId: 'dev-2',
        username: 'carol',
        password: 'dev-secret',
      });
      await reader.subscribeAsync('telemetry/dev-2');
      await expect(reader.publishAsync('telemetry/dev-2', 'x', { qos: 1 })).rejects.toThrow();
      // Unknown device for that owner: no row, no verdict, refused.
      expect(
        await connectOutcome(broker.url, { clientId: 'dev-3', username: 'carol', password: 'dev-secret' }),
      ).toBe(0x87);
      await Promise.all([writer.endAsync(), reader.endAsync()]);
    });

    it('counts broken SQL, bad rows and oversized ACLs as failures', async () => {
      const logger = recordingLogger();
      broker = await startBroker({
        hooks: [
          postgresAuthHook({
            pool: postgres.url,
            userQuery: 'SELECT nope FROM mqtt_users WHERE username = $1',
            logger,
          }),
        ],
      });
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe(0x88);
      expect(logger.lines[0]?.fields).toMatchObject({
        error: expect.stringMatching(/column "nope" does not exist/),
      });
      await broker.close();
      broker = await startBroker({ hooks: [postgresAuthHook({ pool: postgres.url, maxAclEntries: 1 })] });
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe(0x88);
    });

    it('fails closed while PostgreSQL is down (one log line, no password), or to the next hook', async () => {
      const own = await startPostgres();
      const setup = new pg.Client({ connectionString: own.url });
      await setup.connect();
      await setup.query(SCHEMA);
      await setup.query("INSERT INTO mqtt_users VALUES ('alice', 'pw-secret', false)");
      await setup.end();
      const logger = recordingLogger();
      broker = await startBroker({
        hooks: [postgresAuthHook({ pool: own.url, logger, logIntervalMs: 60_000, timeoutMs: 3000 })],
      });
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'pw-secret' })).toBe(
        'connected',
      );
      await own.stop();
      for (let i = 0; i < 3; i++) {
        expect(await connectOutcome(broker.url, { username: 'alice', password: 'pw-secret' })).toBe(0x88);
      }
      expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
      expect(JSON.stringify(logger.lines)).not.toContain('pw-secret');
      await broker.close();
      broker = await startBroker({
        hooks: [
          postgresAuthHook({ pool: own.url, failMode: 'next', timeoutMs: 3000 }),
          new LedgerHook({ ledger: new Ledger({ auth: [{ username: 'alice' }] }) }),
        ],
      });
      expect(await connectOutcome(broker.url, { username: 'alice', password: 'anything' })).toBe('connected');
    }, 60_000);
  },
);
