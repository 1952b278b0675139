import { createServer } from 'node:net';

/**
 * The fastest possible "broker": answers CONNECT with a CONNACK and then only reads the socket,
 * counting bytes. It shows the rate mqtt-bench can generate when the receiver costs nothing.
 * Usage: node --import tsx bench/sink.ts <port>; prints "ready" and, on SIGTERM, the byte count.
 */
const port = Number(process.argv[2] ?? 0);
let bytes = 0;
const server = createServer((socket) => {
  let greeted = false;
  socket.on('data', (chunk) => {
    bytes += chunk.length;
    if (!greeted) {
      greeted = true;
      // CONNACK, session present 0, return code 0 (the v5 form with empty properties is one byte longer).
      const v5 = chunk.length > 8 && chunk[8] === 5;
      socket.write(Buffer.from(v5 ? [0x20, 0x03, 0, 0, 0] : [0x20, 0x02, 0, 0]));
    }
  });
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  process.stdout.write(`${bytes}\n`);
  process.exit(0);
});
