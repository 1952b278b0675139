/**
 * Issue 15's hardening probes, each against the mqtt-broker binary and against Mosquitto in the
 * same run: the broker's resident memory (VmRSS from /proc) before, at the peak and settled after
 * the probe's clients left, and the loss of a well-behaved QoS 1 publisher/subscriber pair running
 * beside the probe (messages the publisher had acknowledged that the subscriber never got).
 *
 * Probes (bench/probe-kit.ts): alias flood, WebSocket frame flood, offline queue of large
 * messages, auth flood, slow consumer, connection churn, malformed storm.
 *
 * Targets, a fresh process per probe, the order alternating from one probe to the next:
 *   ours       the binary on its defaults with --storage memory, two users with scrypt passwords
 *              (the `passwd` default), anonymous clients allowed
 *   mosquitto  /usr/sbin/mosquitto with persistence off and our defaults as its limits:
 *              max_packet_size 1 MiB, max_queued_messages 1000, max_queued_bytes 16 MiB,
 *              max_inflight_messages 32, max_topic_alias 10 (its default), a password_file with
 *              the same two users hashed as `mosquitto_passwd` does (PBKDF2-SHA512, 101 rounds:
 *              a cheap hash, so its auth flood costs it less than scrypt costs us)
 *
 *   npx -y pnpm@10 --filter @x/broker-app build
 *   npx -y pnpm@10 --filter @x/broker-app bench:probes [-- --probes alias,ws,... --targets ours,mosquitto]
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hashPassword } from '@x/broker-auth';
import { findExecutable, freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import {
  aliasFlood,
  authFlood,
  connectionChurn,
  GoodTraffic,
  malformedStorm,
  offlineQueueFlood,
  type ProbeTarget,
  RssSampler,
  settledRss,
  slowConsumer,
  wsFrameFlood,
} from './probe-kit.js';

const PROBES: Record<string, (t: ProbeTarget) => Promise<unknown>> = {
  alias: (t) => aliasFlood(t, { connections: 2, aliases: 10_000, topicBytes: 60_000 }),
  ws: (t) => wsFrameFlood(t, { connections: 10, sendBytes: 32 * 1024 * 1024 }),
  offline: (t) => offlineQueueFlood(t, { messages: 400, payloadBytes: 256 * 1024 }),
  auth: async (t) => (await authFlood(t, { tries: 200 })).summary,
  slow: (t) => slowConsumer(t, { messages: 4000, payloadBytes: 16 * 1024 }),
  churn: (t) => connectionChurn(t, { cycles: 3000, parallel: 20 }),
  malformed: (t) => malformedStorm(t, { connections: 50, rounds: 20 }),
};
const TARGETS = ['ours', 'mosquitto'] as const;
type TargetName = (typeof TARGETS)[number];

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    probes: { type: 'string', default: Object.keys(PROBES).join(',') },
    targets: { type: 'string', default: TARGETS.join(',') },
  },
});
const probes = args.probes.split(',');
const targets = args.targets.split(',') as TargetName[];
for (const p of probes) {
  if (!(p in PROBES)) {
    process.stderr.write(`probes bench: unknown probe '${p}' (one of ${Object.keys(PROBES).join(', ')})\n`);
    process.exit(2);
  }
}
for (const t of targets) {
  if (!TARGETS.includes(t)) {
    process.stderr.write(`probes bench: unknown target '${t}' (ours, mosquitto)\n`);
    process.exit(2);
  }
}
const mosquitto = findExecutable('mosquitto');
if (targets.includes('mosquitto') && !mosquitto) {
  process.stderr.write('probes bench: mosquitto not found (apt-get install mosquitto)\n');
  process.exit(2);
}

const MB = 1024 * 1024;
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'probes-bench-'));
// Mosquitto started as root drops to its own user, which must be able to read the password file.
chmodSync(dir, 0o755);
const users = { alice: 'alice-password', admin: 'admin-password' };

async function writeConfigs(): Promise<{ ours: string; passwordFile: string }> {
  const ours = join(dir, 'broker.yaml');
  const rules: string[] = [];
  for (const [name, password] of Object.entries(users)) {
    rules.push(`    - { username: ${name}, password: "${await hashPassword(password)}" }`);
  }
  writeFileSync(ours, ['auth:', '  allowAnonymous: true', '  rules:', ...rules].join('\n'));
  const passwordFile = join(dir, 'passwd');
  const lines: string[] = [];
  for (const [name, password] of Object.entries(users)) {
    lines.push(`${name}:${await hashPassword(password, { algorithm: 'mosquitto-pbkdf2' })}`);
  }
  writeFileSync(passwordFile, `${lines.join('\n')}\n`, { mode: 0o644 });
  return { ours, passwordFile };
}

async function start(
  target: TargetName,
  files: { ours: string; passwordFile: string },
): Promise<{ server: SpawnedServer; t: ProbeTarget }> {
  const port = await freePort();
  const wsPort = await freePort();
  if (target === 'ours') {
    const server = await spawnServer({
      command: process.execPath,
      args: [
        ...[main, '--config', files.ours],
        ...['--tcp', `127.0.0.1:${port}`, '--ws', `127.0.0.1:${wsPort}`, '--http', 'off'],
        ...['--storage', 'memory', '--log-level', 'error'],
      ],
      port,
      readyTimeout: 60_000,
    });
    return { server, t: { port, wsPort } };
  }
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets',
      'allow_anonymous true',
      `password_file ${files.passwordFile}`,
      'persistence false',
      'max_packet_size 1048576',
      'max_queued_messages 1000',
      'max_queued_bytes 16777216',
      'max_inflight_messages 32',
      'log_type error',
    ].join('\n'),
  );
  const server = await spawnServer({ command: mosquitto!, args: ['-c', conf], port, readyTimeout: 60_000 });
  return { server, t: { port, wsPort } };
}

interface Row {
  probe: string;
  target: TargetName;
  before: number;
  peak: number;
  after: number;
  acked: number;
  lost: number;
  goodDisconnected: boolean;
  result: string;
}

async function cell(
  probe: string,
  target: TargetName,
  files: { ours: string; passwordFile: string },
): Promise<Row> {
  const { server, t } = await start(target, files);
  const pid = server.process.pid!;
  try {
    const good = await GoodTraffic.start(t.port, `${probe}-${target}`);
    const before = await settledRss(pid, 1000);
    const sampler = new RssSampler(pid);
    let result: string;
    try {
      result = String(await PROBES[probe]!(t));
    } catch (error) {
      result = `probe failed: ${(error as Error).message}`;
    }
    const peak = sampler.stop();
    // Up to 10 s for the last deliveries: a loaded machine can lag by seconds without losing anything.
    const counts = await good.stop(10_000);
    const after = await settledRss(pid, 2000);
    return {
      probe,
      target,
      before,
      peak,
      after,
      acked: counts.acked,
      lost: counts.lost,
      goodDisconnected: counts.disconnected,
      result,
    };
  } finally {
    await server.stop();
  }
}

const mb = (n: number) => `${Math.round(n / MB)}`;

async function run(): Promise<void> {
  const files = await writeConfigs();
  const load = loadavg()[0]!.toFixed(1);
  process.stdout.write(
    `probes bench: ${cpus().length} CPUs, load ${load} at start, node ${process.version}\n`,
  );
  const rows: Row[] = [];
  for (const [i, probe] of probes.entries()) {
    const order = i % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const row = await cell(probe, target, files);
      rows.push(row);
      process.stderr.write(`${probe} ${target}: ${row.result}\n`);
    }
  }
  const header =
    '| probe | broker | RSS before MB | peak MB | after MB | good acked | good lost | probe outcome |';
  const lines = [header, '|---|---|--:|--:|--:|--:|--:|---|'];
  for (const r of rows) {
    const lost = `${r.lost}${r.goodDisconnected ? ' (disconnected)' : ''}`;
    lines.push(
      `| ${r.probe} | ${r.target} | ${mb(r.before)} | ${mb(r.peak)} | ${mb(r.after)} | ${r.acked} | ${lost} | ${r.result} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\nload ${loadavg()[0]!.toFixed(1)} at end\n`);
}

try {
  await run();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
