/**
 * Client-side cost of the QoS 1/2 publish path without a network or broker: an in-process transport
 * answers each PUBLISH at once (CONNACK, PUBACK, PUBREC/PUBCOMP). For profiling the client alone:
 *   node --conditions=@x/source --import tsx bench/inproc.ts [qos] [count]
 */
import { Decoder, encode } from '@x/packets';
import { connect, type OpenTransport } from '../src/index.js';

const qos = Number(process.argv[2] ?? 1) as 1 | 2;
const count = Number(process.argv[3] ?? 200_000);

const fake: OpenTransport = async (_endpoint, _options, handlers) => {
  const decoder = new Decoder({ protocolVersion: 5 });
  let pending: Buffer[] = [];
  let scheduled = false;
  const reply = (bytes: Buffer) => {
    pending.push(bytes);
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        const out = Buffer.concat(pending);
        pending = [];
        handlers.data(out);
      });
    }
  };
  return {
    write(chunk) {
      for (const packet of decoder.push(Buffer.from(chunk))) {
        if (packet.type === 'connect')
          reply(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, 5));
        else if (packet.type === 'publish') {
          const id = packet.packetId as number;
          reply(Buffer.from([packet.qos === 1 ? 0x40 : 0x50, 2, id >> 8, id & 0xff]));
        } else if (packet.type === 'pubrel')
          reply(Buffer.from([0x70, 2, packet.packetId >> 8, packet.packetId & 0xff]));
      }
      return true;
    },
    end: () => handlers.close(),
    destroy: () => handlers.close(),
  };
};

const client = await connect('mqtt://in-process', { transport: fake, keepalive: 0 });
const payload = Buffer.alloc(64);
const run = (n: number) =>
  new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    const next = () => {
      if (++done === n) resolve();
      else if (sent < n) {
        sent++;
        client.publish('bench/topic', payload, { qos }).then(next);
      }
    };
    for (; sent < Math.min(256, n); sent++) client.publish('bench/topic', payload, { qos }).then(next);
  });
await run(20_000);
const cpu = process.cpuUsage();
const start = performance.now();
await run(count);
const used = process.cpuUsage(cpu);
console.log(
  `QoS ${qos}: ${((used.user + used.system) / count).toFixed(2)} µs/msg (client and fake server), ${Math.round((count / (performance.now() - start)) * 1000)} msg/s`,
);
await client.end();
