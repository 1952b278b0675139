import { Broker, silentLogger, TcpListener } from '@x/broker';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, Ledger, LedgerHook } from '../src/index.js';

const RULES = (hash: string) => `
auth:
  - username: mallory
    allow: false
  - username: alice
    password: "${hash}"
  - username: bob
    password: builder
  - clientId: "sensor-*"
    remote: 127.0.0.0/8
acl:
  - username: alice
    filters:
      "#": readwrite
  - filters:
      "users/%u/#": readwrite
      "sensors/%c/out": write
      "public/#": read
`;

describe('ledger hook over real sockets (rules from YAML)', () => {
  let broker: Broker;
  let url: string;
  let hook: LedgerHook;

  beforeAll(async () => {
    const ledger = Ledger.fromText(RULES(await hashPassword('wonderland', { N: 1024 })), 'rules.yaml');
    hook = new LedgerHook({ ledger, logger: silentLogger });
    broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    broker.addHook(hook);
    const listener = new TcpListener({ port: 0 });
    await broker.addListener(listener);
    await broker.start();
    url = `mqtt://127.0.0.1:${listener.port}`;
  });
  afterAll(() => broker.close());

  const refusal = async (options: mqtt.IClientOptions): Promise<number | string> => {
    try {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
      await client.endAsync();
      return 'connected';
    } catch (error) {
      return (error as { code?: number }).code ?? (error as Error).message;
    }
  };

  it('authenticates by scrypt hash and plain password, first match wins, deny by default', async () => {
    expect(await refusal({ username: 'alice', password: 'wonderland', protocolVersion: 5 })).toBe(
      'connected',
    );
    expect(await refusal({ username: 'bob', password: 'builder' })).toBe('connected');
    expect(await refusal({ username: 'alice', password: 'wrong', protocolVersion: 5 })).toBe(0x86);
    expect(await refusal({ username: 'mallory', password: 'x', protocolVersion: 5 })).toBe(0x87);
    expect(await refusal({ clientId: 'sensor-1' })).toBe('connected');
    expect(await refusal({ clientId: 'other', protocolVersion: 5 })).toBe(0x87);
    // v3.1.1 refusal: CONNACK return code 5 (not authorized) or 4 (bad user name or password)
    expect(await refusal({ username: 'bob', password: 'nope', protocolVersion: 4 })).toBe(4);
  });

  it('enforces the ACL with %u and %c placeholders', async () => {
    const bob = await mqtt.connectAsync(url, { username: 'bob', password: 'builder', protocolVersion: 5 });
    await bob.subscribeAsync('users/bob/#');
    await expect(bob.subscribeAsync('users/alice/#')).rejects.toThrow(/Not authorized/);
    await expect(bob.subscribeAsync('#')).rejects.toThrow(/Not authorized/);
    await bob.subscribeAsync('public/+');
    const got: string[] = [];
    bob.on('message', (topic) => got.push(topic));
    await bob.publishAsync('users/bob/a', 'x', { qos: 1 });
    // v5 PUBACK 0x87 for a refused publish
    await expect(bob.publishAsync('public/news', 'x', { qos: 1 })).rejects.toThrow();
    const sensor = await mqtt.connectAsync(url, { clientId: 'sensor-9', protocolVersion: 5 });
    await sensor.publishAsync('sensors/sensor-9/out', '1', { qos: 1 });
    await expect(sensor.publishAsync('sensors/sensor-8/out', '1', { qos: 1 })).rejects.toThrow();
    const alice = await mqtt.connectAsync(url, {
      username: 'alice',
      password: 'wonderland',
      protocolVersion: 5,
    });
    await alice.publishAsync('public/news', 'hello', { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(got.sort()).toEqual(['public/news', 'users/bob/a']);
    await Promise.all([bob.endAsync(), sensor.endAsync(), alice.endAsync()]);
  });

  it('reloads rules without dropping connected clients', async () => {
    const bob = await mqtt.connectAsync(url, { username: 'bob', password: 'builder', protocolVersion: 5 });
    let closed = false;
    bob.on('close', () => {
      closed = true;
    });
    const before = hook.ledger.rules;
    try {
      hook.ledger.update(
        Ledger.fromText(
          'auth:\n  - username: bob\n    password: builder\nacl:\n  - filters:\n      "everything/#": readwrite\n',
        ).rules,
      );
      await expect(bob.subscribeAsync('users/bob/#')).rejects.toThrow(/Not authorized/);
      await bob.subscribeAsync('everything/x');
      expect(await refusal({ username: 'alice', password: 'wonderland', protocolVersion: 5 })).toBe(0x86);
      expect(closed).toBe(false);
      expect(bob.connected).toBe(true);
    } finally {
      hook.ledger.update(before);
      await bob.endAsync();
    }
  });

  it('lets anonymous clients in only when told to', async () => {
    expect(await refusal({ protocolVersion: 5 })).toBe(0x87);
    hook.allowAnonymous = true;
    try {
      expect(await refusal({ protocolVersion: 5 })).toBe('connected');
      // a user name that matches no rule is still refused
      expect(await refusal({ username: 'eve', password: 'x', protocolVersion: 5 })).toBe(0x86);
    } finally {
      hook.allowAnonymous = false;
    }
  });
});

describe('ledger hook with delivery checks', () => {
  it('checks deliveries by default', () => {
    const hook = new LedgerHook({ ledger: Ledger.fromText('auth:\n  - {}\n') });
    expect(typeof hook.onAclCheckDelivery).toBe('function');
  });

  it('enforces a deny inside a granted subscription (live and retained) unless checkDelivery is turned off', async () => {
    const rules = 'acl:\n  - filters:\n      "secret/#": deny\n      "#": read\n      "pub/#": write\n';
    const outcomes: Record<string, string[]> = {};
    for (const checkDelivery of [false, true]) {
      const ledger = Ledger.fromText(`auth:\n  - {}\n${rules}`);
      const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
      broker.addHook(new LedgerHook({ ledger, checkDelivery }));
      // The delivery gate, not a subscriber selection hook: the router keeps its fast path.
      expect(broker.hasHook('onSelectSubscribers')).toBe(false);
      expect(broker.hasHook('onAclCheckDelivery')).toBe(checkDelivery);
      const listener = new TcpListener({ port: 0 });
      await broker.addListener(listener);
      await broker.start();
      try {
        const url = `mqtt://127.0.0.1:${listener.port}`;
        broker.publish('secret/old', 'r', { retain: true });
        broker.publish('news/old', 'r', { retain: true });
        const reader = await mqtt.connectAsync(url, { clientId: 'reader', protocolVersion: 5 });
        const got: string[] = [];
        reader.on('message', (topic) => got.push(topic));
        await reader.subscribeAsync('#');
        // The host application publishes (no ACL on the publisher side).
        broker.publish('secret/plans', 'x');
        broker.publish('news/today', 'y');
        await new Promise((r) => setTimeout(r, 150));
        outcomes[String(checkDelivery)] = got.sort();
        await reader.endAsync();
      } finally {
        await broker.close();
      }
    }
    expect(outcomes).toEqual({
      false: ['news/old', 'news/today', 'secret/old', 'secret/plans'],
      true: ['news/old', 'news/today'],
    });
  });
});
