import { startBroker } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Message } from '../src/index.js';

/** MQTT.js as an independent peer: what one library sends, the other reads the same. */
describe('interoperability with MQTT.js (through our broker)', () => {
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const broker = await startBroker();
    url = broker.url;
    close = () => broker.close();
  });
  afterAll(async () => {
    await close?.();
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: QoS 0/1/2 and v5 properties both ways`, async () => {
      const ours = await connect(url, { protocolVersion });
      const theirs = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0 });
      try {
        const fromThem: Message[] = [];
        const gotThree = new Promise<void>((resolve) =>
          ours.on('message', (m) => {
            fromThem.push(m);
            if (fromThem.length === 3) resolve();
          }),
        );
        await ours.subscribe('interop/to-ours/#', { qos: 2 });
        const fromUs: { topic: string; payload: string; qos: number; props: unknown }[] = [];
        const gotOurs = new Promise<void>((resolve) =>
          theirs.on('message', (topic, payload, packet) => {
            fromUs.push({
              topic,
              payload: payload.toString(),
              qos: packet.qos,
              props: packet.properties?.userProperties,
            });
            if (fromUs.length === 3) resolve();
          }),
        );
        await theirs.subscribeAsync('interop/to-theirs/#', { qos: 2 });
        const v5 = protocolVersion === 5;
        for (const qos of [0, 1, 2] as const) {
          await theirs.publishAsync(`interop/to-ours/${qos}`, `theirs ${qos}`, {
            qos,
            ...(v5 ? { properties: { userProperties: { from: 'mqtt.js' }, contentType: 'text/plain' } } : {}),
          });
          await ours.publish(`interop/to-theirs/${qos}`, `ours ${qos}`, {
            qos,
            ...(v5 ? { properties: { userProperties: [['from', '@x/client']] } } : {}),
          });
        }
        await Promise.all([gotThree, gotOurs]);
        fromThem.sort((a, b) => a.topic.localeCompare(b.topic));
        fromUs.sort((a, b) => a.topic.localeCompare(b.topic));
        expect(fromThem.map((m) => [m.topic, m.text(), m.qos])).toEqual([
          ['interop/to-ours/0', 'theirs 0', 0],
          ['interop/to-ours/1', 'theirs 1', 1],
          ['interop/to-ours/2', 'theirs 2', 2],
        ]);
        expect(fromUs.map((m) => [m.topic, m.payload, m.qos])).toEqual([
          ['interop/to-theirs/0', 'ours 0', 0],
          ['interop/to-theirs/1', 'ours 1', 1],
          ['interop/to-theirs/2', 'ours 2', 2],
        ]);
        if (v5) {
          expect(fromThem[2]?.properties?.userProperties).toEqual([['from', 'mqtt.js']]);
          expect(fromThem[2]?.properties?.contentType).toBe('text/plain');
          expect(fromUs[2]?.props).toEqual({ from: '@x/client' });
        }
      } finally {
        await ours.end();
        await theirs.endAsync();
      }
    });
  }
});
