import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startBroker, startMosquitto } from '@x/test-helpers';
import mqtt from 'mqtt';
import { Agent, AgentSink } from '../src/agent.js';
import { BenchConnection } from '../src/connection.js';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario, type ScenarioInput } from '../src/options.js';
import { parseBroker } from '../src/transports.js';

/**
 * mqtt-bench's own ceiling against what brokers absorb: QoS 0 publishing, closed loop, for a fixed
 * time, into (1) a sink that only reads the socket, (2) Mosquitto, (3) our broker. Brokers get no
 * subscriber (ingest) and then one subscriber (ingest + delivery).
 * Run: pnpm --filter @x/bench bench   (BENCH_SECONDS=5 BENCH_PUBLISHERS=4 to change the defaults)
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const publishers = Number(process.env.BENCH_PUBLISHERS ?? 4);
const payloadSize = Number(process.env.BENCH_PAYLOAD ?? 64);

async function measure(broker: string, subscribers: number, workers: number) {
  const input: ScenarioInput = {
    broker,
    publishers,
    subscribers,
    numMessages: 0,
    durationMs: seconds * 1000,
    payloadSize,
    workers,
    drainTimeoutMs: 2000,
    globalTimeoutMs: seconds * 1000 + 20_000,
  };
  const r = await runScenario(resolveScenario('pub', input));
  return r;
}

async function startSink(
  script = 'sink.ts',
  extra: string[] = [],
): Promise<{ url: string; stop(): Promise<number> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--conditions=@x/source',
      '--import',
      'tsx',
      fileURLToPath(new URL(`./${script}`, import.meta.url)),
      String(port),
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // Never leave the helper behind, even when this script fails.
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  return {
    url: `tcp://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return Number(out.split('\n')[1] ?? 0);
    },
  };
}

const rows: Array<{
  target: string;
  workers: number;
  publishRate: number;
  receiveRate: number;
  note: string;
}> = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

for (const workers of [1, 2]) {
  const sink = await startSink();
  const r = await measure(sink.url, 0, workers);
  const bytes = await sink.stop();
  const frame = 2 + 2 + `${r.config.topic}/0`.length + payloadSize;
  rows.push({
    target: 'sink (reads only)',
    workers,
    publishRate: r.throughput.publishRate,
    receiveRate: 0,
    note: `sink read ${fmt(bytes / frame)} messages`,
  });
}
// The competitor: the same load from a general client (MQTT.js), QoS 0, as fast as it completes
// its writes, at most 900 messages outstanding per client (MQTT.js waits on drain once per message, and warns past 1000 waiters).
async function mqttJs(url: string): Promise<number> {
  const payload = Buffer.alloc(payloadSize, 0x2e);
  const clients = await Promise.all(
    Array.from({ length: publishers }, (_, i) =>
      mqtt.connectAsync(url, { clientId: `mqttjs-${i}`, reconnectPeriod: 0 }),
    ),
  );
  let done = 0;
  let stop = false;
  const runners = clients.map(
    (client) =>
      new Promise<void>((resolve) => {
        let outstanding = 0;
        const completed = () => {
          outstanding--;
          done++;
          if (!stop && outstanding === 400) setImmediate(fill);
          if (stop && outstanding === 0) resolve();
        };
        const fill = () => {
          while (!stop && outstanding < 900) {
            outstanding++;
            client.publish('mqtt-bench/mqttjs/0', payload, { qos: 0 }, completed);
          }
        };
        fill();
      }),
  );
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const rate = (done / (performance.now() - started)) * 1000;
  await Promise.race([Promise.all(runners), new Promise((r) => setTimeout(r, 2000))]);
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return rate;
}
{
  const sink = await startSink();
  const rate = await mqttJs(sink.url);
  await sink.stop();
  rows.push({
    target: 'sink, MQTT.js v5 instead of mqtt-bench (competitor)',
    workers: 1,
    publishRate: rate,
    receiveRate: 0,
    note: '',
  });
}

const mosquitto = await startMosquitto({ config: ['max_queued_messages 0'] });
for (const subscribers of [0, 1]) {
  const r = await measure(mosquitto.url, subscribers, 2);
  rows.push({
    target: `mosquitto, ${subscribers} subscriber(s)`,
    workers: 2,
    publishRate: r.throughput.publishRate,
    receiveRate: r.throughput.receiveRate,
    note: subscribers ? `lost ${fmt(r.messages.lost)}` : '',
  });
}
await mosquitto.stop();
// Our broker runs in this process: the bench clients go to two worker threads so that the broker
// has the main thread to itself.
const ours = await startBroker({ maxQueuedMessages: 10_000_000 });
for (const subscribers of [0, 1]) {
  const r = await measure(ours.url, subscribers, 2);
  rows.push({
    target: `@x/broker (in-process), ${subscribers} subscriber(s)`,
    workers: 2,
    publishRate: r.throughput.publishRate,
    receiveRate: r.throughput.receiveRate,
    note: subscribers ? `lost ${fmt(r.messages.lost)}` : '',
  });
}
await ours.close();

// Receive side: one bench subscriber (frame reader, accounting bitset, two latency histograms per
// message) fed by a source that streams PUBLISH frames as fast as the socket takes them.
{
  const resolved = resolveScenario('pub', { broker: ':1', subscribers: 1, publishers: 0, payloadSize });
  const agent = new Agent({ ...resolved, agentIndex: 0, agentCount: 1, hostname: 'bench' });
  const source = await startSink('source.ts', [String(resolved.common.runTag), String(payloadSize)]);
  const connection = await BenchConnection.open({
    address: parseBroker(source.url),
    tls: { rejectUnauthorized: true },
    protocolVersion: 4,
    clientId: 'bench-receiver',
    clean: true,
    runTag: resolved.common.runTag,
  });
  const sink = new AgentSink(agent);
  connection.sink = sink;
  await connection.subscribe(['bench/source'], 0);
  const startCount = agent.delivered;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = ((agent.delivered - startCount) / (performance.now() - started)) * 1000;
  connection.destroy();
  await source.stop();
  rows.push({
    target: 'source (writes only) → 1 bench subscriber',
    workers: 1,
    publishRate: 0,
    receiveRate: rate,
    note: `${fmt(sink.ledger.received)} accounted, ${sink.ledger.streams.get(1)?.duplicates ?? 0} duplicates`,
  });
}

const mqttJsRate = rows.find((r) => r.target.includes('MQTT.js'))?.publishRate ?? 0;
const oneThread = rows.find((r) => r.target.startsWith('sink') && r.workers === 1)?.publishRate ?? 0;
const brokers = rows.filter((r) => r.target.startsWith('mosquitto') || r.target.startsWith('@x/broker'));
const sinkBest = Math.max(...rows.filter((r) => r.target.startsWith('sink (')).map((r) => r.publishRate));
const brokerBest = Math.max(...brokers.map((r) => r.publishRate));
const receiverRate = rows.find((r) => r.target.startsWith('source'))?.receiveRate ?? 0;
const deliveredBest = Math.max(...brokers.map((r) => r.receiveRate));
console.log(
  `QoS 0, ${publishers} publishers, ${payloadSize} B payload, ${seconds} s closed loop, node ${process.version}\n`,
);
console.log('| target | threads | publish msg/s | delivered msg/s | note |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const r of rows) {
  console.log(
    `| ${r.target} | ${r.workers} | ${r.publishRate ? fmt(r.publishRate) : '–'} | ${r.receiveRate ? fmt(r.receiveRate) : '–'} | ${r.note} |`,
  );
}
console.log(`\nmqtt-bench / MQTT.js into the sink, one thread each: ${(oneThread / mqttJsRate).toFixed(1)}×`);
console.log(`sink / fastest broker ingest: ${(sinkBest / brokerBest).toFixed(1)}×`);
console.log(`bench subscriber / fastest broker delivery: ${(receiverRate / deliveredBest).toFixed(1)}×`);
