/**
 * Client-side cost of receiving QoS 0 messages without a network: an in-process transport feeds
 * 64 kB chunks of PUBLISH packets. For profiling the receive path alone:
 *   node --conditions=@x/source --import tsx bench/inproc-sub.ts [count]
 */
import { encode } from '@x/packets';
import { connect, type OpenTransport, type TransportHandlers } from '../src/index.js';

const count = Number(process.argv[2] ?? 500_000);
let handlers: TransportHandlers | undefined;
const fake: OpenTransport = async (_endpoint, _options, h) => {
  handlers = h;
  setImmediate(() => h.data(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, 5)));
  return { write: () => true, end: () => h.close(), destroy: () => h.close() };
};
const one = encode(
  { type: 'publish', topic: 'bench/topic', payload: Buffer.alloc(64), qos: 0, retain: false, dup: false },
  5,
);
const perChunk = Math.floor(65_536 / one.length);
const chunk = Buffer.concat(Array.from({ length: perChunk }, () => one));

const client = await connect('mqtt://in-process', { transport: fake, keepalive: 0 });
let received = 0;
client.on('message', () => {
  received++;
});
const feed = (n: number) =>
  new Promise<void>((resolve) => {
    const step = () => {
      for (let i = 0; i < 8 && received < n; i++) handlers?.data(Buffer.from(chunk));
      if (received < n) setImmediate(step);
      else resolve();
    };
    step();
  });
await feed(100_000);
received = 0;
const cpu = process.cpuUsage();
await feed(count);
const used = process.cpuUsage(cpu);
console.log(`QoS 0 receive: ${((used.user + used.system) / received).toFixed(3)} µs/msg`);
await client.end();
