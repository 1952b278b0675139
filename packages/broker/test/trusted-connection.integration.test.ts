import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { duplexPair, type Hook } from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

/** Lets everyone connect, then refuses every publish, subscription and delivery. */
const denyAll: Hook = {
  onConnectAuthenticate: () => true,
  onAclCheck: () => false,
  onAclCheckDelivery: () => false,
};

describe('ConnectionInfo.trusted: a connection the host opens to its own broker', () => {
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await tb?.close();
    tb = undefined;
  });

  const open = (trusted: boolean, clientId: string) => {
    const broker = tb!.broker;
    return new Promise<mqtt.MqttClient>((resolve, reject) => {
      const client = new mqtt.MqttClient(
        () => {
          const [mine, theirs] = duplexPair();
          broker.accept(theirs, { remoteAddress: 'host', listener: 'host', trusted });
          return mine;
        },
        { clientId, protocolVersion: 5, reconnectPeriod: 0 },
      );
      client.once('connect', () => resolve(client));
      client.once('error', reject);
    });
  };

  it('is not subject to ACL or delivery gates; other connections are', async () => {
    tb = await startTestBroker({}, [denyAll]);
    const trusted = await open(true, 'host-link');
    const untrusted = await open(false, 'stranger');
    expect(tb.broker.client('host-link')?.trusted).toBe(true);
    expect(tb.broker.client('stranger')?.trusted).toBe(false);
    const got: string[] = [];
    trusted.on('message', (topic) => got.push(topic));
    const granted = await trusted.subscribeAsync('a/#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const refused = await untrusted.subscribeAsync('a/#', { qos: 1 }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error); // SUBACK 0x87
    await trusted.publishAsync('a/1', 'x', { qos: 1 });
    tb.broker.publish('a/2', 'y', { qos: 1 });
    await until(() => got.length === 2, 3000, 'both deliveries to the trusted connection');
    expect(got.sort()).toEqual(['a/1', 'a/2']);
    await Promise.all([trusted.endAsync(), untrusted.endAsync()]);
  });
});
