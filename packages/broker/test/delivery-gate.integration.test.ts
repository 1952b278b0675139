import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '../src/client.js';
import { AllowAllHook, type Hook } from '../src/index.js';
import type { Message } from '../src/message.js';
import { sleep, startTestBroker, type TestBroker, until } from './helpers.js';

/** Refuses `private/…` to every client but `owner`, and records what it was asked. */
class PrivateTopics implements Hook {
  readonly asked: Array<{ clientId: string; online: boolean; topic: string }> = [];
  onAclCheckDelivery(clientId: string, client: Client | undefined, message: Message): boolean {
    this.asked.push({ clientId, online: client !== undefined, topic: message.topic });
    return !message.topic.startsWith('private/') || clientId === 'owner';
  }
}

describe('onAclCheckDelivery: the per-delivery read gate', () => {
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await tb?.close();
    tb = undefined;
  });

  it('skips live deliveries and retained messages at subscribe time that the gate refuses', async () => {
    const gate = new PrivateTopics();
    tb = await startTestBroker({}, [new AllowAllHook(), gate]);
    tb.broker.publish('private/retained', 'r', { retain: true });
    tb.broker.publish('public/retained', 'r', { retain: true });
    const owner = await mqtt.connectAsync(tb.url, { clientId: 'owner', protocolVersion: 5 });
    const other = await mqtt.connectAsync(tb.url, { clientId: 'other', protocolVersion: 4 });
    const got: Record<string, string[]> = { owner: [], other: [] };
    owner.on('message', (topic) => got.owner!.push(topic));
    other.on('message', (topic) => got.other!.push(topic));
    await owner.subscribeAsync('#');
    await other.subscribeAsync('#');
    await owner.publishAsync('private/live', 'x', { qos: 1 });
    await owner.publishAsync('public/live', 'y', { qos: 1 });
    await until(() => got.owner!.length === 4 && got.other!.length === 2, 3000, 'deliveries');
    await sleep(50);
    expect(got.owner!.sort()).toEqual(['private/live', 'private/retained', 'public/live', 'public/retained']);
    expect(got.other!.sort()).toEqual(['public/live', 'public/retained']);
    expect(
      gate.asked
        .filter((a) => a.topic === 'private/live')
        .map((a) => a.clientId)
        .sort(),
    ).toEqual(['other', 'owner']);
    await owner.endAsync();
    await other.endAsync();
  });

  it('is asked for offline sessions too: a refused message is not queued for them', async () => {
    const gate = new PrivateTopics();
    tb = await startTestBroker({}, [new AllowAllHook(), gate]);
    const opts = {
      clientId: 'sleeper',
      protocolVersion: 5 as const,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    };
    const sleeper = await mqtt.connectAsync(tb.url, opts);
    await sleeper.subscribeAsync('#', { qos: 1 });
    await sleeper.endAsync();
    tb.broker.publish('private/queued', 'x', { qos: 1 });
    tb.broker.publish('public/queued', 'y', { qos: 1 });
    expect(gate.asked).toContainEqual({ clientId: 'sleeper', online: false, topic: 'private/queued' });
    // The listener is attached before CONNACK: queued messages follow it at once.
    const back = mqtt.connect(tb.url, opts);
    const got: string[] = [];
    back.on('message', (topic) => got.push(topic));
    await until(() => got.length >= 1, 3000, 'queued delivery');
    await sleep(100);
    expect(got).toEqual(['public/queued']);
    await back.endAsync();
  });

  it('a shared subscription group skips the members the gate refuses', async () => {
    const gate = new PrivateTopics();
    tb = await startTestBroker({}, [new AllowAllHook(), gate]);
    const owner = await mqtt.connectAsync(tb.url, { clientId: 'owner', protocolVersion: 5 });
    const other = await mqtt.connectAsync(tb.url, { clientId: 'other', protocolVersion: 5 });
    const got: Record<string, number> = { owner: 0, other: 0 };
    owner.on('message', () => got.owner!++);
    other.on('message', () => got.other!++);
    await owner.subscribeAsync('$share/g/private/#');
    await other.subscribeAsync('$share/g/private/#');
    for (let i = 0; i < 6; i++) tb.broker.publish('private/x', String(i));
    await until(() => got.owner === 6, 3000, 'shared deliveries');
    await sleep(50);
    expect(got).toEqual({ owner: 6, other: 0 });
    await owner.endAsync();
    await other.endAsync();
  });

  it('costs nothing when no hook implements it: the hook list is empty', async () => {
    tb = await startTestBroker();
    expect(tb.broker.hasHook('onAclCheckDelivery')).toBe(false);
  });
});
