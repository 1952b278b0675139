import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requireServer, startMosquitto, startRedis } from '../src/index.js';

const mosquitto = requireServer('mosquitto');
const redis = requireServer('redis-server');

function roundTrip(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data);
    });
    socket.once('error', reject);
  });
}

describe.skipIf(mosquitto.skip)(
  `real Mosquitto${mosquitto.reason ? ` (skipped: ${mosquitto.reason})` : ''}`,
  () => {
    it('starts on a free port, answers CONNECT with CONNACK, and stops', async () => {
      const server = await startMosquitto();
      try {
        // CONNECT v3.1.1, clean session, keep-alive 10, client id "t"
        const connect311 = Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 1, 0x74]);
        const reply = await roundTrip(server.port, connect311);
        expect([...reply]).toEqual([0x20, 2, 0, 0]);
      } finally {
        await server.stop();
      }
      expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
    });
  },
);

describe.skipIf(redis.skip)(`real Redis${redis.reason ? ` (skipped: ${redis.reason})` : ''}`, () => {
  it('starts on a free port and answers PING', async () => {
    const server = await startRedis();
    try {
      const reply = await roundTrip(server.port, Buffer.from('PING\r\n'));
      expect(reply.toString()).toBe('+PONG\r\n');
    } finally {
      await server.stop();
    }
  });
});
