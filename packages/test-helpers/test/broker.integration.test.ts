import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { startBroker } from '../src/index.js';

it('startBroker serves MQTT on a free 127.0.0.1 port and closes', async () => {
  const running = await startBroker();
  expect(running.url).toBe(`mqtt://127.0.0.1:${running.port}`);
  const socket = connect({ host: '127.0.0.1', port: running.port });
  // CONNECT v3.1.1, client id "t", clean session, keep alive 10
  socket.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 1, 0x74]));
  const reply = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  expect([...reply]).toEqual([0x20, 2, 0, 0]);
  socket.destroy();
  await running.close();
});
