import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startBroker, startMosquitto } from '@x/test-helpers';
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
  const resolved = resolveScenario('sub', { broker: ':1', subscribers: 1, publishers: 0, payloadSize });
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

const brokers = rows.filter((r) => r.target.startsWith('mosquitto') || r.target.startsWith('@x/broker'));
const sinkBest = Math.max(...rows.filter((r) => r.target.startsWith('sink')).map((r) => r.publishRate));
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
console.log(`\nsink / fastest broker ingest: ${(sinkBest / brokerBest).toFixed(1)}×`);
console.log(`bench subscriber / fastest broker delivery: ${(receiverRate / deliveredBest).toFixed(1)}×`);
