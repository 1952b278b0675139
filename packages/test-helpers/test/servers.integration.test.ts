import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient, requireServer, startMosquitto, startRedis } from '../src/index.js';

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
    it('starts on a free port, answers CONNECT with a successful CONNACK, and stops', async () => {
      const server = await startMosquitto();
      try {
        const c = await RawClient.connect(server.port, { clientId: 't', keepalive: 10 }, 4);
        c.close();
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
