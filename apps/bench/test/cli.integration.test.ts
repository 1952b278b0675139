import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningMosquitto, requireServer, startMosquitto } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function bench(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Every key path of a JSON value; array elements are described by their first element as `[]`. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length > 0 ? keyPaths(value[0], `${prefix}[]`) : [];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      `${prefix}${prefix ? '.' : ''}${k}`,
      ...keyPaths(v, `${prefix}${prefix ? '.' : ''}${k}`),
    ]);
  }
  return [];
}

// The documented JSON schema (apps/bench/README.md). Changing it is a breaking change.
const TOP_LEVEL = [
  'schema',
  'scenario',
  'startedAt',
  'durationMs',
  'stopReason',
  'ok',
  'problems',
  'config',
  'messages',
  'throughput',
  'latencyMs',
  'uncorrectedLatencyMs',
  'connections',
  'timeline',
  'stresser',
  'histograms',
  'errors',
  'tool',
  'host',
];
const NESTED = [
  'config.broker',
  'config.transport',
  'config.protocolVersion',
  'config.publisherQos',
  'config.subscriberQos',
  'config.payloadSize',
  'config.publishers',
  'config.subscribers',
  'config.messagesPerPublisher',
  'config.durationMs',
  'config.rate',
  'config.clean',
  'config.workers',
  'config.globalTimeoutMs',
  'config.topic',
  'messages.sent',
  'messages.expected',
  'messages.received',
  'messages.lost',
  'messages.duplicated',
  'messages.outOfOrder',
  'messages.unexpected',
  'messages.unfinished',
  'throughput.publishRate',
  'throughput.receiveRate',
  'throughput.receiveMBps',
  'throughput.publishWindowMs',
  'throughput.receiveWindowMs',
  'throughput.overruns',
  'latencyMs.count',
  'latencyMs.min',
  'latencyMs.mean',
  'latencyMs.p50',
  'latencyMs.p90',
  'latencyMs.p99',
  'latencyMs.p999',
  'latencyMs.max',
  'connections.attempted',
  'connections.connected',
  'connections.failed',
  'connections.connectRate',
  'connections.timeToAllMs',
  'connections.latencyMs',
  'timeline[].tMs',
  'timeline[].sent',
  'timeline[].received',
  'timeline[].connected',
  'histograms.latencyUs',
  'histograms.connectUs',
  'tool.name',
  'tool.version',
  'host.cpus',
  'host.cpuModel',
  'host.memoryBytes',
  'host.node',
  'host.os',
  'host.platform',
  'host.arch',
];

/** A usage error: exit 2 and one line on stderr that says what was wrong, no stack trace. */
function expectUsageError(ran: Ran, says: RegExp) {
  expect(ran.code).toBe(2);
  expect(ran.stdout).toBe('');
  const lines = ran.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(says);
  expect(ran.stderr).not.toMatch(/^\s+at /m);
}

describe('mqtt-bench binary', () => {
  it('prints help with ready-to-run examples for the program and each command', async () => {
    const top = await bench(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('mqtt-bench stress  --broker');
    for (const command of ['stress', 'pub', 'sub', 'latency', 'conn', 'report']) {
      const help = await bench([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Examples:');
      expect(help.stdout).toContain(command === 'report' ? 'mqtt-bench report ' : `mqtt-bench ${command} -b`);
    }
  });

  it('answers every user error with one line naming the input, exit 2 and no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['stress', '-b', 'notaurl://x'], /^mqtt-bench stress: unsupported broker scheme "notaurl".*tcp:\/\//],
      [['pub', '-b', 'http://127.0.0.1:1883'], /^mqtt-bench pub: unsupported broker scheme "http"/],
      [
        ['conn', '-b', '127.0.0.1:99999'],
        /^mqtt-bench conn: broker address "127.0.0.1:99999": the port must be 1–65535/,
      ],
      [
        ['stress', '-b', ':1883', '--cert', '/nonexistent/c.pem', '--key', '/nonexistent/k.pem'],
        /^mqtt-bench stress: cannot read the client certificate \(--cert\) "\/nonexistent\/c.pem": no such file$/,
      ],
      [
        ['conn', '-b', 'mqtts://127.0.0.1:1', '--cafile', '/nonexistent/ca.pem'],
        /^mqtt-bench conn: cannot read the CA certificate \(--cafile\) "\/nonexistent\/ca.pem"/,
      ],
      [
        ['stress', '--bogus'],
        /^mqtt-bench stress: unknown option '--bogus' \(see mqtt-bench stress --help\)$/,
      ],
      [['--bogus'], /^mqtt-bench: unknown option '--bogus' \(see mqtt-bench --help\)$/],
      [['bogus'], /^mqtt-bench: unknown command 'bogus'/],
      [['pub', '-b', ':1', '--qos', '3'], /QoS must be 0, 1 or 2/],
      [
        ['pub', '-b', ':1', '--duration', '480s', '--global-timeout', '60s'],
        /^mqtt-bench pub: --duration 480 s does not fit in --global-timeout 60 s/,
      ],
      [
        ['report', '/nonexistent/a.json'],
        /^mqtt-bench report: cannot read \/nonexistent\/a.json: no such file$/,
      ],
    ];
    for (const [args, says] of cases) expectUsageError(await bench(args), says);
  });

  it('exits with 2 on bad usage', async () => {
    const badQos = await bench(['pub', '--broker', ':1', '--qos', '3']);
    expect(badQos.code).toBe(2);
    expect(badQos.stderr).toContain('QoS must be 0, 1 or 2');
    const noBroker = await bench(['conn']);
    expect(noBroker.code).toBe(2);
    expect(noBroker.stderr).toContain('broker address is required');
  });
});

const mosquitto = requireServer('mosquitto');

describe.skipIf(mosquitto.skip)(`mqtt-bench binary against Mosquitto ${mosquitto.reason}`, () => {
  let broker: RunningMosquitto;
  let dir: string;
  beforeAll(async () => {
    broker = await startMosquitto({ config: ['max_queued_messages 0'] });
    dir = mkdtempSync(join(tmpdir(), 'mqtt-bench-cli-'));
  });
  afterAll(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--json puts only the documented JSON on stdout and exits 0 when all is accounted for', async () => {
    const ran = await bench([
      'pub',
      '--broker',
      broker.url,
      '-p',
      '3',
      '-S',
      '2',
      '-n',
      '200',
      '--qos',
      '1',
      '--json',
    ]);
    expect(ran.code).toBe(0);
    const result = JSON.parse(ran.stdout);
    expect(Object.keys(result)).toEqual(TOP_LEVEL);
    const paths = keyPaths(result);
    for (const path of NESTED) expect(paths).toContain(path);
    expect(result.schema).toBe('mqtt-bench/result@1');
    expect(result.messages).toMatchObject({
      sent: 600,
      expected: 1200,
      received: 1200,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    });
    expect(result.ok).toBe(true);
  });

  it('without a terminal prints a progress line every second, and a --duration longer than 60 s is not cut', async () => {
    const ran = await bench(['latency', '-b', broker.url, '--rate', '200', '--duration', '2500ms', '--json']);
    expect(ran.code).toBe(0);
    const progress = ran.stderr.split('\n').filter((line) => /^mqtt-bench latency: +\d+\.\ds /.test(line));
    // Seconds 1 and 2, and the closing sample.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toMatch(
      /sent [\d,]+ \([\d,]+\/s\) {2}received [\d,]+ \([\d,]+\/s\) {2}connections 2/,
    );
    const result = JSON.parse(ran.stdout);
    // The default global timeout grows by the planned duration and the default 1 s warm-up.
    expect(result.config.globalTimeoutMs).toBe(63_500);
    expect(result.config.warmupMs).toBe(1000);
    expect(result.tool).toEqual({ name: 'mqtt-bench', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(result.host.cpus).toBeGreaterThan(0);
    expect(result.host.node).toBe(process.version);
    expect(result.config.transport).toBe('tcp');
  });

  it('a run cut short by the global timeout reports what was still on its way as unfinished, never as lost', async () => {
    // Four closed-loop publishers into one subscriber: more than it reads in 1 s, so the cut finds
    // messages in flight; the broker's queue is unbounded, so none is dropped.
    const ran = await bench([
      'pub',
      '-b',
      broker.url,
      '-p',
      '4',
      '-S',
      '1',
      '-n',
      '10000000',
      '--qos',
      '1',
      '--global-timeout',
      '1s',
      '--json',
    ]);
    const result = JSON.parse(ran.stdout);
    expect(result.stopReason).toBe('timeout');
    expect(result.messages.lost).toBe(0);
    expect(result.messages.received - result.messages.duplicated + result.messages.unfinished).toBe(
      result.messages.expected,
    );
    expect(ran.stderr).not.toMatch(/lost/);
    if (result.messages.unfinished > 0) {
      expect(ran.code).toBe(1);
      expect(result.problems.join(' ')).toMatch(/still unfinished when the global timeout cut the run short/);
    }
  });

  it('stress --json carries the mqtt-stresser summary', async () => {
    const ran = await bench([
      'stress',
      '--broker',
      broker.url,
      '--num-clients',
      '3',
      '--num-messages',
      '20',
      '--json',
    ]);
    expect(ran.code).toBe(0);
    const result = JSON.parse(ran.stdout);
    expect(Object.keys(result.stresser).sort()).toEqual(
      [
        'aborted',
        'clients',
        'completed',
        'connectFailed',
        'errors',
        'inProgress',
        'messagesPerClient',
        'publish',
        'published',
        'receive',
        'received',
        'subscribeFailed',
        'timeoutExceeded',
      ].sort(),
    );
    expect(Object.keys(result.stresser.publish).sort()).toEqual([
      'fastest',
      'histogram',
      'median',
      'slowest',
    ]);
    expect(result.stresser.published).toBe(60);
  });

  it('prints the mqtt-stresser report and the accounting table by default, taking its single-dash flags', async () => {
    const ran = await bench([
      'stress',
      '-broker',
      broker.url,
      '-num-clients',
      '2',
      '-num-messages=10',
      '-publisher-qos',
      '1',
    ]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('# Publishing Throughput');
    expect(ran.stdout).toContain('Messages / Client:  20');
    expect(ran.stdout).toMatch(/result\s+OK/);
  });

  it('--csv prints a header and one row; the broker may come from the environment', async () => {
    const ran = await bench(['conn', '-c', '5', '--csv'], { MQTT_BENCH_BROKER: broker.url });
    expect(ran.code).toBe(0);
    const [header, row, ...rest] = ran.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    expect(header?.split(',').slice(0, 5)).toEqual([
      'scenario',
      'startedAt',
      'durationMs',
      'stopReason',
      'ok',
    ]);
    expect(row?.split(',')[0]).toBe('conn');
    expect(header?.split(',').length).toBe(row?.split(',').length);
  });

  it('--html writes a self-contained report', async () => {
    const file = join(dir, 'report.html');
    const ran = await bench([
      'latency',
      '--broker',
      broker.url,
      '--rate',
      '1000',
      '--duration',
      '500ms',
      '--html',
      file,
    ]);
    expect(ran.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script(?! type="application\/json")/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('report merges saved --json results into one CSV and one HTML report', async () => {
    const a = await bench(['conn', '-b', broker.url, '-c', '3', '--json']);
    const b = await bench(['latency', '-b', broker.url, '--rate', '500', '--duration', '300ms', '--json']);
    const fileA = join(dir, 'a.json');
    const fileB = join(dir, 'b.json');
    writeFileSync(fileA, a.stdout);
    writeFileSync(fileB, b.stdout);
    const csv = await bench(['report', fileA, fileB, '--csv', '--html', join(dir, 'both.html')]);
    expect(csv.code).toBe(0);
    expect(
      csv.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(',')[0]),
    ).toEqual(['scenario', 'conn', 'latency']);
    expect(readFileSync(join(dir, 'both.html'), 'utf8').match(/<section /g)?.length).toBe(2);
    writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
    const refused = await bench(['report', join(dir, 'other.json')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('not a mqtt-bench/result@1 document');
  });

  it('on SIGINT stops, prints what it saw and exits 1', async () => {
    const child = spawn(process.execPath, [
      main,
      'latency',
      '-b',
      broker.url,
      '--rate',
      '200',
      '--duration',
      '60s',
      '--json',
    ]);
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    // Signal only once the binary says it runs, i.e. its handler is in place (startup is slow under load).
    child.stderr.on('data', (c: Buffer) => {
      if (c.toString().includes('running against')) setTimeout(() => child.kill('SIGINT'), 800);
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.stopReason).toBe('interrupted');
    expect(result.messages.sent).toBeGreaterThan(0);
  });

  it('exits non-zero and says so when the broker drops messages', async () => {
    const lossy = await startMosquitto({ config: ['max_queued_messages 10', 'max_inflight_messages 20'] });
    try {
      const ran = await bench([
        'stress',
        '--broker',
        lossy.url,
        '-c',
        '1',
        '-n',
        '300',
        '--qos',
        '1',
        '--global-timeout',
        '2s',
        '--json',
      ]);
      expect(ran.code).toBe(1);
      const result = JSON.parse(ran.stdout);
      expect(result.ok).toBe(false);
      expect(result.messages.lost).toBeGreaterThan(0);
      expect(ran.stderr).toMatch(/lost/);
    } finally {
      await lossy.stop();
    }
  });
});
