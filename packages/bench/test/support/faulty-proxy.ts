import { connect, createServer, type Socket } from 'node:net';
import { FrameReader } from '@x/packets';

export interface Faults {
  dropped: number;
  duplicated: number;
  swapped: number;
}

/**
 * A TCP proxy in front of a real broker that misbehaves on the way to the clients: of the QoS 0
 * PUBLISH frames it forwards, every `dropEvery`-th is dropped, every `duplicateEvery`-th is sent
 * twice and every `swapEvery`-th is held back and sent after the next one. It counts what it did.
 */
export async function startFaultyProxy(
  brokerPort: number,
  pattern: { dropEvery: number; duplicateEvery: number; swapEvery: number },
): Promise<{ url: string; faults: Faults; close(): Promise<void> }> {
  const faults: Faults = { dropped: 0, duplicated: 0, swapped: 0 };
  const sockets = new Set<Socket>();
  let seen = 0;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: brokerPort });
    sockets.add(client);
    sockets.add(upstream);
    let held: Buffer | null = null;
    const reader = new FrameReader((header, buf, start, _bodyStart, end) => {
      const out = Buffer.from(buf.subarray(start, end));
      const qos0Publish = header >> 4 === 3 && ((header >> 1) & 3) === 0;
      if (!qos0Publish) {
        client.write(out);
        return;
      }
      seen++;
      if (held) {
        client.write(out);
        client.write(held);
        held = null;
        return;
      }
      if (seen % pattern.dropEvery === 0) {
        faults.dropped++;
      } else if (seen % pattern.duplicateEvery === 0) {
        faults.duplicated++;
        client.write(out);
        client.write(out);
      } else if (seen % pattern.swapEvery === 0) {
        faults.swapped++;
        held = out;
      } else {
        client.write(out);
      }
    });
    upstream.on('data', (chunk) => reader.push(chunk));
    client.on('data', (chunk) => upstream.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `tcp://127.0.0.1:${port}`,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
