/**
 * `pnpm --filter @x/packets bench`: @x/packets against mqtt-packet, side by side in one run.
 * Each task runs a batch of operations so the timer's resolution does not dominate; the table shows
 * operations (packets) per second and the ratio ours / mqtt-packet.
 */
import * as mqttPacket from 'mqtt-packet';
import { Bench } from 'tinybench';
import { Decoder, encode, type Packet, type ProtocolVersion } from '../src/index.js';
import { toTheirs } from '../test/mqtt-packet-interop.js';
import { connectV5, publishQos0, publishQos1Props, subscribe10 } from './fixtures.js';

const BATCH = 200;
const STREAM = 100;
let sink = 0;

interface Row {
  name: string;
  ours: () => void;
  theirs: () => void;
  /** Packets handled per call of `ours`/`theirs`. */
  ops: number;
}

function encodeRow(name: string, packet: Packet, v: ProtocolVersion): Row {
  const theirPacket = toTheirs(packet, v) as unknown as mqttPacket.Packet;
  const opts = { protocolVersion: v };
  return {
    name: `${name}: encode`,
    ops: BATCH,
    ours: () => {
      for (let i = 0; i < BATCH; i++) sink += encode(packet, v).length;
    },
    theirs: () => {
      for (let i = 0; i < BATCH; i++) sink += mqttPacket.generate(theirPacket, opts).length;
    },
  };
}

function theirParser(v: ProtocolVersion) {
  const parser = mqttPacket.parser({ protocolVersion: v });
  parser.on('packet', () => {
    sink++;
  });
  parser.on('error', (e: Error) => {
    throw e;
  });
  return parser;
}

function decodeRow(name: string, packet: Packet, v: ProtocolVersion): Row {
  const bytes = encode(packet, v);
  const decoder = new Decoder({ protocolVersion: v });
  const parser = theirParser(v);
  return {
    name: `${name}: decode one chunk`,
    ops: BATCH,
    ours: () => {
      for (let i = 0; i < BATCH; i++) sink += decoder.push(bytes).length;
    },
    theirs: () => {
      for (let i = 0; i < BATCH; i++) parser.parse(bytes);
    },
  };
}

function streamRow(name: string, packet: Packet, v: ProtocolVersion): Row {
  const one = encode(packet, v);
  const bytes = Buffer.concat(Array.from({ length: STREAM }, () => one));
  // Socket-sized chunks that cut packets at arbitrary points.
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1500) chunks.push(bytes.subarray(i, i + 1500));
  const decoder = new Decoder({ protocolVersion: v });
  const parser = theirParser(v);
  return {
    name: `${name}: decode stream of ${STREAM}`,
    ops: STREAM,
    ours: () => {
      for (const c of chunks) sink += decoder.push(c).length;
    },
    theirs: () => {
      for (const c of chunks) parser.parse(c);
    },
  };
}

const rows: Row[] = [
  encodeRow('PUBLISH QoS0 64 B v4', publishQos0, 4),
  decodeRow('PUBLISH QoS0 64 B v4', publishQos0, 4),
  streamRow('PUBLISH QoS0 64 B v4', publishQos0, 4),
  encodeRow('PUBLISH QoS0 64 B v5', publishQos0, 5),
  decodeRow('PUBLISH QoS0 64 B v5', publishQos0, 5),
  streamRow('PUBLISH QoS0 64 B v5', publishQos0, 5),
  encodeRow('PUBLISH QoS1 v5 + properties', publishQos1Props, 5),
  decodeRow('PUBLISH QoS1 v5 + properties', publishQos1Props, 5),
  encodeRow('CONNECT v5', connectV5, 5),
  decodeRow('CONNECT v5', connectV5, 5),
  encodeRow('SUBSCRIBE 10 filters v5', subscribe10(true), 5),
  decodeRow('SUBSCRIBE 10 filters v5', subscribe10(true), 5),
];

const only = process.argv[2];
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const time = Number(process.env.BENCH_TIME ?? 250);

/**
 * The machine is shared, so each row runs several short rounds, ours and mqtt-packet back to back in
 * each, and keeps each side's best round (by its median batch): interference only ever slows a round
 * down.
 */
async function measure(row: Row): Promise<{ ours: number; theirs: number }> {
  let ours = 0;
  let theirs = 0;
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time, warmupTime: 50 });
    bench.add('ours', row.ours);
    bench.add('theirs', row.theirs);
    await bench.run();
    ours = Math.max(ours, opsPerSecond(bench, 'ours', row.ops));
    theirs = Math.max(theirs, opsPerSecond(bench, 'theirs', row.ops));
  }
  return { ours, theirs };
}

function opsPerSecond(bench: Bench, taskName: string, ops: number): number {
  const result = bench.getTask(taskName)?.result;
  if (result === undefined || result.state !== 'completed') throw new Error(`${taskName} did not complete`);
  // The median batch, not the mean: a batch that another process interrupted is an outlier.
  return (ops * 1000) / result.latency.p50;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const table = [];
for (const row of rows) {
  if (only !== undefined && !row.name.includes(only)) continue;
  const { ours, theirs } = await measure(row);
  table.push({
    scenario: row.name,
    '@x/packets ops/s': fmt(ours),
    'mqtt-packet ops/s': fmt(theirs),
    ratio: `${(ours / theirs).toFixed(2)}×`,
  });
}
if (table.length > 0) console.table(table);

/*
 * The fast paths against the general code in the same package: the same PUBLISH with a topic of the
 * same length whose last character is not ASCII goes through the measured, validated UTF-8 path.
 */
if (only === undefined || only === 'fast') {
  const ascii = publishQos0 as Extract<Packet, { type: 'publish' }>;
  const accented: Packet = { ...ascii, topic: `${ascii.topic.slice(0, -1)}é` };
  const pairs: [string, Row][] = [
    ['encode', { ...encodeRow('', ascii, 4), theirs: encodeRow('', accented, 4).ours }],
    ['decode', { ...decodeRow('', ascii, 4), theirs: decodeRow('', accented, 4).ours }],
  ];
  const fast = [];
  for (const [name, row] of pairs) {
    const { ours, theirs } = await measure(row);
    fast.push({
      'PUBLISH v4 topic': name,
      'ASCII fast path ops/s': fmt(ours),
      'UTF-8 general path ops/s': fmt(theirs),
      gain: `${(ours / theirs).toFixed(2)}×`,
    });
  }
  console.table(fast);
}
console.log(
  `median batch, best of ${rounds} rounds of ${time} ms per side; node ${process.version}, ${process.arch} (sink ${sink % 10})`,
);
