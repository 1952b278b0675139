import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Comparison } from '@x/bench';
import {
  type RunningBroker,
  type RunningMosquitto,
  requireServer,
  startBroker,
  startMosquitto,
} from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const mosquittoBinary = requireServer('mosquitto');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function bench(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// Our broker runs in this process (so its pid is ours), Mosquitto as its own; the CLI is a third
// process that compares them.
describe.skipIf(mosquittoBinary.skip)(`mqtt-bench comparing brokers${mosquittoBinary.reason}`, () => {
  let ours: RunningBroker;
  let mosquitto: RunningMosquitto;
  let dir: string;

  beforeAll(async () => {
    ours = await startBroker();
    mosquitto = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'mqtt-bench-compare-'));
  });

  afterAll(async () => {
    await ours?.close();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the scenario against each broker in turn, rotating the order, with broker CPU and RSS', async () => {
    const html = join(dir, 'compare.html');
    const ran = await bench([
      'pub',
      '--broker',
      `ours=${ours.url}`,
      '--broker',
      `mosquitto=${mosquitto.url}`,
      '--broker-pid',
      String(process.pid),
      '--broker-pid',
      String(mosquitto.process.pid),
      '--rounds',
      '2',
      '-p',
      '2',
      '-S',
      '2',
      '--topics',
      '2',
      '-n',
      '50',
      '--json',
      '--html',
      html,
    ]);
    expect(ran.stderr).not.toMatch(/FAILED/);
    expect(ran.code).toBe(0);
    const c = JSON.parse(ran.stdout) as Comparison;
    expect(c.schema).toBe('mqtt-bench/comparison@1');
    expect(c.anchor).toBe('ours');
    expect(c.runs.map((r) => `${r.round}:${r.order}:${r.broker}`)).toEqual([
      '1:1:ours',
      '1:2:mosquitto',
      '2:1:mosquitto',
      '2:2:ours',
    ]);
    for (const run of c.runs) {
      expect(run.result.ok).toBe(true);
      expect(run.result.messages.received).toBe(100);
      expect(run.process?.cpuMs).toBeGreaterThanOrEqual(0);
      expect(run.metrics.rssPeak).toBeGreaterThan(1);
      expect(run.metrics.cpuUsPerMessage).not.toBeNull();
    }
    expect(c.rows.map((r) => [r.broker, r.runs, r.ok])).toEqual([
      ['ours', 2, 2],
      ['mosquitto', 2, 2],
    ]);
    expect(c.rows[0]?.ratio.rssPeak).toBe(1);
    // One progress line per run on stderr, and the HTML report with both brokers' table.
    expect(ran.stderr.match(/^mqtt-bench pub: round \d\/2, \d\/2 (ours|mosquitto): /gm)).toHaveLength(4);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<table class="compare">');
    expect(page).toMatch(/<th>mosquitto<\/th><td>[^<]+ <small>\(\d+\.\d+×\)<\/small><\/td>/);
  });

  it('reads a brokers file and prints the side-by-side table; conn --subscribe gives RSS per connection', async () => {
    const file = join(dir, 'brokers.yaml');
    writeFileSync(
      file,
      `- name: mosquitto\n  url: ${mosquitto.url}\n  pid: ${mosquitto.process.pid}\n- name: ours\n  url: ${ours.url}\n`,
    );
    const ran = await bench(['conn', '--brokers', file, '-c', '50', '--subscribe', '--hold', '300ms']);
    expect(ran.code).toBe(0);
    const lines = ran.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^mqtt-bench conn, MQTT 3\.1\.1, 50 connections.*: median of 1 round, \(ratio\) to mosquitto$/,
    );
    expect(lines[1]).toMatch(/^broker\s+connections\/s\s+RSS KiB\/conn\s+RSS peak MiB\s+runs ok$/);
    expect(lines[2]).toMatch(/^mosquitto\s+[\d,.]+( k)?\s+-?\d+\.\d+\s+\d+\s+1\/1$/);
    // No pid for ours: its memory columns are empty, its connect rate still compared.
    expect(lines[3]).toMatch(/^ours\s+[\d,.]+( k)? \(\d+\.\d+×\)\s+–\s+–\s+1\/1$/);
  });

  it('refuses more pids than brokers with one line and exit 2', async () => {
    const ran = await bench(['pub', '--broker', ours.url, '--broker-pid', '1', '--broker-pid', '2']);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toBe(
      'mqtt-bench pub: 2 --broker-pid values for 1 broker(s): give one per broker, in order\n',
    );
  });
});
