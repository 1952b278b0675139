import { AllowAllHook, Broker, silentLogger, TcpListener } from '@x/broker';
import type { Packet } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from './raw-client.js';
import type { StoreContractSubject } from './store-contract.js';
import { until } from './wait.js';

/**
 * The end-to-end half of the store contract: a broker stopped and started again on the same
 * store resumes every kind of state a client can leave behind — a persistent session with a
 * subscription identifier, a QoS 1 message in flight, a QoS 2 flow at PUBREL in both directions,
 * a queued message and a retained one. `describeStoreContract` checks the rows; this checks that
 * the broker writes and reads them so that the clients see no difference.
 *
 * ```ts
 * describeBrokerRestart('MemoryStore', () => { const m = new MemoryStore(); return { store: () => m }; });
 * ```
 */
export function describeBrokerRestart(
  name: string,
  makeSubject: () => StoreContractSubject | Promise<StoreContractSubject>,
): void {
  describe(`a broker restarted on the same ${name} resumes everything`, () => {
    const open: Array<RawClient | Broker> = [];
    let cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const x of open.splice(0)) {
        if (x instanceof Broker) await x.close();
        else x.close();
      }
      for (const cleanup of cleanups.reverse()) await cleanup();
      cleanups = [];
    });

    async function brokerOn(subject: StoreContractSubject): Promise<{ broker: Broker; port: number }> {
      const broker = new Broker({ logger: silentLogger, sysInterval: 0, store: subject.store() });
      open.push(broker);
      broker.addHook(new AllowAllHook());
      const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
      await broker.addListener(listener);
      await broker.start();
      return { broker, port: listener.port };
    }

    /** A v5 client with a one-hour session (not clean unless asked). */
    async function connect(port: number, clientId: string) {
      const c = await RawClient.open(port, 5);
      open.push(c);
      c.send({
        type: 'connect',
        protocolVersion: 5,
        clientId,
        clean: false,
        keepalive: 0,
        properties: { sessionExpiryInterval: 3600 },
      } as Packet);
      return { c, connack: await c.expect('connack') };
    }

    function publish(
      c: RawClient,
      topic: string,
      payload: string,
      qos: 0 | 1 | 2,
      packetId?: number,
      retain = false,
    ) {
      c.send({
        type: 'publish',
        topic,
        payload: Buffer.from(payload),
        qos,
        packetId,
        retain,
        dup: false,
      } as Packet);
    }

    it('sessions, subscriptions, queued, in-flight (QoS 1 and QoS 2 at PUBREL), inbound QoS 2 ids and retained messages', async () => {
      const subject = await makeSubject();
      if (subject.cleanup) cleanups.push(subject.cleanup);
      const first = await brokerOn(subject);
      // A persistent subscriber with three kinds of pending work.
      const { c: sub } = await connect(first.port, 'keeper');
      sub.send({
        type: 'subscribe',
        packetId: 1,
        subscriptions: [{ topicFilter: 'k/#', qos: 2 }],
        properties: { subscriptionIdentifier: 7 },
      });
      await sub.expect('suback');
      const { c: pub } = await connect(first.port, 'writer');
      publish(pub, 'k/inflight1', 'a', 1, 1);
      publish(pub, 'k/inflight2', 'b', 2, 2);
      await pub.expect('puback');
      await pub.expect('pubrec'); // no PUBREL: the writer's id 2 stays pending in its session
      const p1 = await sub.expect('publish');
      const p2 = await sub.expect('publish');
      sub.send({ type: 'pubrec', packetId: p2.packetId! }); // QoS 2 flow reaches PUBREL, never completes
      await sub.expect('pubrel');
      sub.close();
      await until(() => first.broker.client('keeper') === undefined);
      publish(pub, 'k/queued', 'c', 1, 3);
      publish(pub, 'r/kept', 'd', 0, undefined, true);
      await pub.expect('puback');
      // The retained QoS 0 PUBLISH has no acknowledgement to wait for: wait until it is handled.
      await until(() => first.broker.retained.get('r/kept') !== undefined);
      pub.close();
      await first.broker.close();

      const second = await brokerOn(subject);
      expect(second.broker.retained.get('r/kept')?.payload.toString()).toBe('d');
      const again = await connect(second.port, 'keeper');
      expect(again.connack.sessionPresent).toBe(true);
      // In flight first, in order: the QoS 1 PUBLISH again with DUP and the same id, then PUBREL
      // for the QoS 2 flow [MQTT-4.4.0-1]; then the queued message with the subscription identifier.
      const resent = await again.c.expect('publish');
      expect([resent.topic, resent.dup, resent.packetId]).toEqual(['k/inflight1', true, p1.packetId]);
      expect((await again.c.expect('pubrel')).packetId).toBe(p2.packetId);
      const queued = await again.c.expect('publish');
      expect(queued.topic).toBe('k/queued');
      expect(queued.properties?.subscriptionIdentifiers).toEqual([7]);
      // The writer's QoS 2 id 2 still awaits PUBREL: releasing it completes without 0x92.
      const writer = await connect(second.port, 'writer');
      expect(writer.connack.sessionPresent).toBe(true);
      writer.c.send({ type: 'pubrel', packetId: 2 });
      expect((await writer.c.expect('pubcomp')).reasonCode ?? 0).toBe(0);
    });
  });
}
