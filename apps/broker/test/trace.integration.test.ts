import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type SpawnedServer, spawnServer, until } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const TOKEN = 'trace-secret';

/** The JSON lines of a file or of the broker's output, parsed. */
const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('mqtt-broker binary: packet traces', () => {
  let dir: string;
  let traceFile: string;
  let server: SpawnedServer;
  let mqttUrl: string;
  let api: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'broker-trace-'));
    traceFile = join(dir, 'cfg-traced.jsonl');
    const [port, http] = [await freePort(), await freePort()];
    const config = join(dir, 'broker.yaml');
    writeFileSync(
      config,
      [
        'listeners:',
        `  - { type: tcp, host: 127.0.0.1, port: ${port} }`,
        `http: { host: 127.0.0.1, port: ${http}, token: ${TOKEN}, dashboard: false }`,
        'storage: { type: memory }',
        'trace:',
        // Relative to the config file.
        '  - { clientId: cfg-traced, durationMs: 0, payloadBytes: 3, file: cfg-traced.jsonl }',
      ].join('\n'),
    );
    server = await spawnServer({
      command: process.execPath,
      args: [main, '--config', config, '--log-format', 'json'],
      port,
      // Generous: the machine running the tests may be loaded.
      readyTimeout: 30_000,
    });
    mqttUrl = `mqtt://127.0.0.1:${port}`;
    api = `http://127.0.0.1:${http}/api/v1/traces`;
  }, 60_000);
  afterAll(async () => {
    await server?.stop(2000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the traces of the config file with the broker, writing JSON lines to the named file', async () => {
    expect(jsonLines(server.output())).toContainEqual(
      expect.objectContaining({ msg: 'trace written to a file', trace: 1, file: traceFile }),
    );
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'cfg-traced', reconnectPeriod: 0 });
    await client.publishAsync('cfg/1', 'abcdef', { qos: 1 });
    await client.endAsync();
    await until(
      () => readFileSync(traceFile, 'utf8').includes('"disconnect"'),
      10_000,
      'the DISCONNECT line',
    );
    const lines = jsonLines(readFileSync(traceFile, 'utf8'));
    expect(lines.map((l) => `${l.direction} ${l.type}`)).toEqual([
      'in connect',
      'out connack',
      'in publish',
      'out puback',
      'in disconnect',
    ]);
    expect(lines[2]).toMatchObject({
      trace: 1,
      topic: 'cfg/1',
      qos: 1,
      payloadSize: 6,
      payloadHex: '616263',
    });
  });

  it('starts, lists and stops traces through the management API, written to its log', async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const started = await fetch(api, {
      method: 'POST',
      headers,
      body: JSON.stringify({ topicFilter: 'http/#' }),
    });
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as { id: number };
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'api-sender', reconnectPeriod: 0 });
    await client.publishAsync('http/x', 'via api', { qos: 1 });
    await client.publishAsync('elsewhere', 'not traced', { qos: 1 });
    await client.endAsync();
    await until(
      () => jsonLines(server.output()).some((l) => l.msg === 'packet traced' && l.trace === id),
      10_000,
      'the traced PUBLISH in the log',
    );
    const traced = jsonLines(server.output()).filter((l) => l.msg === 'packet traced' && l.trace === id);
    expect(traced).toEqual([
      expect.objectContaining({ direction: 'in', clientId: 'api-sender', type: 'publish', topic: 'http/x' }),
    ]);

    const listed = (await (await fetch(api, { headers })).json()) as {
      items: { id: number; active: boolean }[];
    };
    expect(listed.items.map((t) => [t.id, t.active])).toEqual([
      [1, true],
      [id, true],
    ]);
    const stopped = await fetch(`${api}/${id}`, { method: 'DELETE', headers });
    expect(await stopped.json()).toMatchObject({ id, active: false, stopReason: 'stopped' });
    expect((await fetch(api, { method: 'POST', body: '{}' })).status).toBe(401);
  });

  it('ends the file with a line saying the broker stopped', async () => {
    await server.stop(5000);
    const last = jsonLines(readFileSync(traceFile, 'utf8')).at(-1);
    expect(last).toMatchObject({ trace: 1, active: false, stopReason: 'broker-stopped', packets: 5 });
  });

  it('refuses to start, with one line and exit 2, when a trace file cannot be written', async () => {
    const config = join(dir, 'bad-trace.yaml');
    writeFileSync(
      config,
      `listeners: []\nhttp: off\nstorage: { type: memory }\ntrace:\n  - { clientId: x, file: ${join(dir, 'missing', 't.jsonl')} }\n`,
    );
    const failure = await promisify(execFile)(process.execPath, [main, '--config', config]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 2 });
    const stderr = (failure as { stderr: string }).stderr.trim();
    expect(stderr).toMatch(
      /^mqtt-broker: cannot write the trace file .*missing\/t\.jsonl: its directory does not exist$/,
    );
  });
});
