/**
 * Base memory of the mqtt-broker binary: the resident set (VmRSS from /proc, split into anonymous
 * memory and file pages such as the node binary's code) of a fresh process, idle, `--settle` ms
 * (default 12 000) after it started, with each listener and store on and off; beside a bare `node` and Mosquitto in the same
 * run, the order of the rounds interleaved, medians. `--before <main.js>` adds another build of the
 * binary (for example one of main) to every row.
 *
 *   npx -y pnpm@10 --filter @x/broker-app build
 *   npx -y pnpm@10 --filter @x/broker-app bench:base-memory [-- --rounds 5 --settle 2500 --before /path/to/dist/main.js]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findExecutable, freePort, sleep } from '@x/test-helpers';
import mqtt from 'mqtt';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  // 12 s: past the broker's first $SYS round (sysInterval 10 s), which once made a commit.
  options: {
    rounds: { type: 'string', default: '3' },
    before: { type: 'string' },
    settle: { type: 'string', default: '12000' },
  },
});
const ours = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const builds: [string, string][] = args.before
  ? [
      ['before', args.before],
      ['this build', ours],
    ]
  : [['', ours]];
const mosquitto = findExecutable('mosquitto');
const dir = mkdtempSync(join(tmpdir(), 'base-memory-'));

interface Ports {
  tcp: number;
  ws: number;
  http: number;
  data: string;
}
interface Start {
  command: string;
  args: (p: Ports) => string[];
  /** What to do with the running process before it is measured. */
  then?: (p: Ports) => Promise<void>;
}

/** One QoS 1 retained PUBLISH, so the store commits once (the writer and checkpoint threads start). */
async function publishOnce(p: Ports): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${p.tcp}`, { reconnectPeriod: 0 });
  await client.publishAsync('base-memory', 'x', { qos: 1, retain: true });
  await client.endAsync();
}

function broker(main: string, flags: (p: Ports) => string[], then?: Start['then']): Start {
  return {
    command: process.execPath,
    args: (p) => [main, '--port', String(p.tcp), '--log-level', 'error', ...flags(p)],
    ...(then ? { then } : {}),
  };
}

function mosquittoStart(persistence: boolean): Start {
  return {
    command: mosquitto!,
    args: (p) => {
      const conf = join(p.data, 'mosquitto.conf');
      const lines = [`listener ${p.tcp} 127.0.0.1`, 'allow_anonymous true', `persistence ${persistence}`];
      if (persistence) lines.push(`persistence_location ${p.data}/`);
      writeFileSync(conf, `${lines.join('\n')}\n`);
      return ['-c', conf];
    },
  };
}

const off = ['--ws', 'off', '--http', 'off'];
const ws = (p: Ports) => ['--ws', `127.0.0.1:${p.ws}`];
const http = (p: Ports) => ['--http', `127.0.0.1:${p.http}`];
const starts: [string, Start][] = [
  ['bare node', { command: process.execPath, args: () => ['-e', 'setTimeout(() => {}, 2e9)'] }],
  ...(mosquitto
    ? ([
        ['Mosquitto', mosquittoStart(false)],
        ['Mosquitto, persistence', mosquittoStart(true)],
      ] as [string, Start][])
    : []),
];
for (const [build, main] of builds) {
  const named = (row: string) => (build ? `${row} (${build})` : row);
  const memory = ['--storage', 'memory'];
  const embedded = (p: Ports) => ['--data-dir', p.data];
  starts.push(
    [named('memory, TCP'), broker(main, () => [...memory, ...off])],
    [named('memory, TCP + WS + HTTP'), broker(main, (p) => [...memory, ...ws(p), ...http(p)])],
    [named('embedded, TCP'), broker(main, (p) => [...embedded(p), ...off])],
    [
      named('default: embedded, TCP + WS + HTTP'),
      broker(main, (p) => [...embedded(p), ...ws(p), ...http(p)]),
    ],
    [
      named('default, 2 s after one retained PUBLISH'),
      broker(main, (p) => [...embedded(p), ...ws(p), ...http(p)], publishOnce),
    ],
  );
}

interface Sample {
  rss: number;
  anon: number;
  file: number;
  threads: number;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  const mb = (name: string) => field(name) / 1024;
  return { rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile'), threads: field('Threads') };
}

async function measure(start: Start): Promise<Sample> {
  const p: Ports = {
    tcp: await freePort(),
    ws: await freePort(),
    http: await freePort(),
    data: mkdtempSync(join(dir, 'run-')),
  };
  const child: ChildProcess = spawn(start.command, start.args(p), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  try {
    await sleep(Number(args.settle));
    if (start.then) {
      await start.then(p);
      await sleep(2000);
    }
    if (child.exitCode !== null) throw new Error(`${start.command} exited with ${child.exitCode}: ${stderr}`);
    return sample(child.pid!);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

const rounds = Number(args.rounds);
const samples = new Map<string, Sample[]>();
try {
  for (let round = 0; round < rounds; round++) {
    // Alternate the order, so no target always runs first (or right after the same neighbour).
    const order = round % 2 === 0 ? starts : [...starts].reverse();
    for (const [name, start] of order) {
      const list = samples.get(name) ?? [];
      list.push(await measure(start));
      samples.set(name, list);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const bare = median(samples.get('bare node')!.map((s) => s.rss));
console.log(`${rounds} rounds, ${args.settle} ms after start, medians, MB (2^20 bytes)\n`);
console.log('| start | RSS | over bare node | anonymous | file pages | threads |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name] of starts) {
  const list = samples.get(name)!;
  const rss = median(list.map((s) => s.rss));
  const cells = [
    rss.toFixed(1),
    name === 'bare node' || name.startsWith('Mosquitto') ? '' : (rss - bare).toFixed(1),
    median(list.map((s) => s.anon)).toFixed(1),
    median(list.map((s) => s.file)).toFixed(1),
    String(median(list.map((s) => s.threads))),
  ];
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
