/**
 * @x/client against MQTT.js on the same local Mosquitto, in one run. Each measured client runs in
 * its own process; the figure that counts is the client's CPU time per message (process.cpuUsage),
 * because on a small machine the end-to-end rate is bounded by the broker. Also compares the
 * minified+gzipped browser bundles.
 *
 *   pnpm --filter @x/client bench            (COUNT=… to change the message count)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startMosquitto } from '@x/test-helpers';
import { bundleSizes } from './bundle-size.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const COUNT = Number(process.env.COUNT ?? 50_000);
const VERSION = Number(process.env.PROTOCOL ?? 5);
/** Runs per row and library, alternating; the best one counts (other processes share the machine). */
const REPEAT = Number(process.env.REPEAT ?? 5);
/** `ROWS=pub` or `ROWS=sub` runs only those rows (for profiling one path). */
const ROWS = process.env.ROWS ?? 'all';

interface Result {
  cpuMicros: number;
  elapsedMs: number;
  count: number;
}

function worker(args: string[]): Promise<Result | undefined> {
  if (process.env.DEBUG) console.error('worker', args.join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@x/source', '--import', 'tsx', `${here}worker.ts`, ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let result: Result | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) result = JSON.parse(line) as Result;
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(result) : reject(new Error(`worker ${args.join(' ')} exited ${code}`)),
    );
  });
}

// No in-flight window and no queue limit: the broker holds a whole run for a subscriber that is
// away, QoS 0 included, and Mosquitto 2.0.11's 3.1.1 QoS 2 window stall cannot occur.
/** Alternates the two libraries REPEAT times; keeps each one's lowest CPU per message. */
async function best(run: (lib: string) => Promise<Result | undefined>) {
  let ours: Result | undefined;
  let theirs: Result | undefined;
  const better = (a: Result | undefined, b: Result | undefined) =>
    !a || (b && b.cpuMicros / b.count < a.cpuMicros / a.count) ? b : a;
  for (let i = 0; i < REPEAT; i++) {
    theirs = better(theirs, await run('mqttjs'));
    ours = better(ours, await run('ours'));
  }
  return { ours, theirs };
}

const broker = await startMosquitto({
  config: ['max_inflight_messages 0', 'max_queued_messages 0', 'queue_qos0_messages true'],
});
const rows: { name: string; ours: Result | undefined; theirs: Result | undefined }[] = [];
try {
  for (const qos of ROWS === 'sub' ? [] : ([0, 1, 2] as const)) {
    const count = qos === 0 ? COUNT * 2 : COUNT;
    const run = (lib: string) =>
      worker([
        'pub',
        lib,
        String(qos),
        String(count),
        broker.url,
        `bench/pub/${qos}/${lib}`,
        String(VERSION),
      ]);
    rows.push({ name: `publish QoS ${qos}`, ...(await best(run)) });
  }
  for (const qos of ROWS === 'pub' ? [] : ([0, 1, 2] as const)) {
    const count = qos === 0 ? COUNT * 2 : COUNT;
    const run = async (lib: string) => {
      const topic = `bench/sub/${qos}/${lib}`;
      const args = (role: string, who: string) => [
        role,
        who,
        String(qos),
        String(count),
        broker.url,
        topic,
        String(VERSION),
      ];
      await worker(args('prepare', lib));
      await worker(args('feed', 'ours'));
      return worker(args('sub', lib));
    };
    rows.push({ name: `subscribe QoS ${qos}`, ...(await best(run)) });
  }
} finally {
  await broker.stop();
}

const perMsg = (r: Result) => r.cpuMicros / r.count;
const rate = (r: Result) => (r.count / r.elapsedMs) * 1000;
const fmt = (n: number, digits = 2) => n.toFixed(digits).padStart(9);
console.log(
  `\n@x/client vs MQTT.js — MQTT ${VERSION === 5 ? '5' : '3.1.1'}, Mosquitto, 64-byte payloads, ${COUNT} messages (QoS 0: ${COUNT * 2}), best of ${REPEAT}`,
);
console.log('row                 | CPU µs/msg ours | MQTT.js | ratio | msg/s ours | MQTT.js | ratio');
for (const { name, ours, theirs } of rows) {
  if (!ours || !theirs) throw new Error(`${name}: a worker reported nothing`);
  console.log(
    `${name.padEnd(19)} | ${fmt(perMsg(ours))}       | ${fmt(perMsg(theirs))} | ${fmt(perMsg(theirs) / perMsg(ours))}× | ${fmt(rate(ours), 0)} | ${fmt(rate(theirs), 0)} | ${fmt(rate(ours) / rate(theirs))}×`,
  );
}

const sizes = await bundleSizes();
console.log('\nbrowser bundle (esbuild, minified, gzip -9)');
console.log(
  `@x/client ${sizes.ours} bytes, MQTT.js ${sizes.theirs} bytes: ${(sizes.theirs / sizes.ours).toFixed(2)}× smaller`,
);
