import { expect, it } from 'vitest';
import { RawClient, startBroker } from '../src/index.js';

it('startBroker serves MQTT on a free 127.0.0.1 port and closes', async () => {
  const running = await startBroker();
  expect(running.url).toBe(`mqtt://127.0.0.1:${running.port}`);
  const c = await RawClient.open(running.port, 4);
  // CONNECT v3.1.1, client id "t", clean session, keep alive 10
  c.sendBytes([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 1, 0x74]);
  expect(await c.expect('connack')).toEqual({ type: 'connack', sessionPresent: false, reasonCode: 0 });
  c.close();
  await running.close();
});
