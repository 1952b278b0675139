import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, type RunningBroker, startBroker } from '../src/index.js';

describe('RawClient against our broker', () => {
  let broker: RunningBroker;
  const open: RawClient[] = [];
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await broker.close();
  });
  const track = (c: RawClient) => {
    open.push(c);
    return c;
  };

  it('connects, subscribes, and receives its own QoS 1 PUBLISH and PUBACK, at v5 and v3.1.1', async () => {
    for (const version of [5, 4] as const) {
      const c = track(await RawClient.connect(broker.port, { clientId: `rc-${version}` }, version));
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'rc/t', qos: 1 }] });
      const suback = await c.expect('suback');
      expect(suback.packetId).toBe(1);
      expect(suback.reasonCodes).toEqual([1]);
      c.send({
        type: 'publish',
        topic: 'rc/t',
        payload: Buffer.from('hi'),
        qos: 1,
        packetId: 7,
        retain: false,
        dup: false,
      });
      // Taken by type, whatever order the PUBACK and the delivery arrive in.
      const publish = await c.expect('publish');
      expect(publish.topic).toBe('rc/t');
      expect(publish.payload.toString()).toBe('hi');
      expect((await c.expect('puback')).packetId).toBe(7);
    }
  });

  it('sends raw bytes: a reserved packet type gets the connection closed', async () => {
    const c = track(await RawClient.connect(broker.port, { clientId: 'rc-raw' }));
    c.sendBytes([0xf0, 0x00]);
    await c.waitClosed();
    expect(c.closed).toBe(true);
    await expect(c.expect('pingresp', 100)).rejects.toThrow(/closed while waiting for pingresp/);
  });

  it('bounds every wait', async () => {
    const c = track(await RawClient.connect(broker.port, { clientId: 'rc-wait' }));
    const started = Date.now();
    await expect(c.expect('suback', 150)).rejects.toThrow(/no suback within 150 ms/);
    await expect(c.waitClosed(100)).rejects.toThrow(/still open after 100 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects a refused CONNECT with its reason code', async () => {
    // An empty client id with Clean Start 0 is refused at v3.1.1 with return code 2 [MQTT-3.1.3-8].
    await expect(RawClient.connect(broker.port, { clientId: '', clean: false }, 4)).rejects.toThrow(
      /reason code 0x2/,
    );
  });
});
