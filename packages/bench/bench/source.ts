import { createServer } from 'node:net';
import { encode } from '@x/packets';
import { PAYLOAD_HEADER_SIZE, PayloadOffset, writePayloadTemplate } from '../src/payload.js';

/**
 * The fastest possible "broker" for a subscriber: answers CONNECT and SUBSCRIBE, then streams QoS 0
 * PUBLISH frames with bench headers (publisher 1, sequence 0, 1, 2 …) as fast as the socket takes them.
 * Usage: node --conditions=@x/source --import tsx bench/source.ts <port> <runTag> <payloadSize>
 */
const port = Number(process.argv[2] ?? 0);
const runTag = Number(process.argv[3] ?? 0);
const payloadSize = Math.max(PAYLOAD_HEADER_SIZE, Number(process.argv[4] ?? 64));
const payload = Buffer.alloc(payloadSize);
writePayloadTemplate(payload, 0, payloadSize, runTag);
const frame = encode(
  { type: 'publish', topic: 'bench/source', payload, qos: 0, retain: false, dup: false },
  4,
);
const payloadAt = frame.length - payloadSize;
const perBlock = Math.max(1, Math.floor(65_536 / frame.length));

const server = createServer((socket) => {
  let sequence = 0;
  let streaming = false;
  const pump = () => {
    for (;;) {
      const block = Buffer.allocUnsafe(frame.length * perBlock);
      for (let i = 0; i < perBlock; i++) {
        frame.copy(block, i * frame.length);
        block.writeUInt32BE(1, i * frame.length + payloadAt + PayloadOffset.publisherId);
        block.writeUInt32BE(sequence++, i * frame.length + payloadAt + PayloadOffset.sequence);
      }
      if (socket.destroyed) return;
      if (!socket.write(block)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  socket.on('data', (chunk) => {
    const type = (chunk[0] ?? 0) >> 4;
    if (type === 1) socket.write(Buffer.from([0x20, 0x02, 0, 0]));
    if (type === 8 && !streaming) {
      streaming = true;
      socket.write(Buffer.from([0x90, 0x03, chunk[2] ?? 0, chunk[3] ?? 0, 0]));
      setImmediate(pump);
    }
  });
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
