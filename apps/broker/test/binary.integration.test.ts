import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, RawClient, requireServer, startRedis } from '@x/test-helpers';
import mqtt, { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { exited, main, runBinary, startBinary } from './binary.js';

const run = promisify(execFile);

describe('mqtt-broker binary: command line', () => {
  it('prints its version and a help with examples', async () => {
    expect((await run(process.execPath, [main, '--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = (await run(process.execPath, [main, '--help'])).stdout;
    for (const flag of [
      '--config',
      '--tcp',
      '--tls',
      '--ws',
      '--http',
      '--storage',
      '--log-level',
      '--allow-anonymous',
      '--print-config',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('Examples:');
    expect(help).toContain('passwd');
  });

  it('answers every usage error with one line naming the input, exit 2 and no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /^mqtt-broker: unknown option '--bogus' \(see mqtt-broker --help\)$/],
      [
        ['passwd', '--bogus'],
        /^mqtt-broker passwd: unknown option '--bogus' \(see mqtt-broker passwd --help\)$/,
      ],
      [
        ['--tls', '127.0.0.1:0', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
        /^mqtt-broker: --tls-cert \/nonexistent\/c.pem: cannot read it \(no such file\)$/,
      ],
      [
        ['passwd', 'secret', '--cost', '1000'],
        /^mqtt-broker passwd: --cost 1000: scrypt N must be a power of two/,
      ],
      [
        ['passwd', 'secret', '-a', 'bcrypt', '--cost', '99'],
        /bcrypt rounds must be a whole number from 4 to 31$/,
      ],
      [['--tcp', 'notaport'], /^mqtt-broker: --tcp notaport: not a port or an address/],
      [['-p', '99999'], /^mqtt-broker: -p 99999: the port must be 0–65535$/],
      [
        ['--config', '/nonexistent/broker.yaml'],
        /^mqtt-broker: invalid configuration: \/nonexistent\/broker.yaml: cannot read/,
      ],
    ];
    for (const [args, says] of cases) {
      // Each fails before any listener opens.
      const ran = await runBinary(args);
      expect(ran.code, args.join(' ')).toBe(2);
      const lines = ran.stderr.trimEnd().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(says);
      expect(ran.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("takes Mosquitto's -c, -p and -v; the version is -V", async () => {
    expect((await runBinary(['-V'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const dir = mkdtempSync(join(tmpdir(), 'broker-cli-'));
    try {
      const file = join(dir, 'broker.yaml');
      writeFileSync(file, 'listeners:\n  - { type: tcp, port: 1, maxConnections: 7 }\n');
      const { code, stdout } = await runBinary(['-c', file, '-p', '2001', '-v', '--print-config']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/host: 127\.0\.0\.1\n\s+port: 2001\n\s+maxConnections: 7/);
      expect(stdout).toMatch(/log:\n\s+level: debug/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the effective config', async () => {
    const { code, stdout } = await runBinary(['--tcp', '127.0.0.1:2000', '--ws', 'off', '--print-config']);
    expect(code).toBe(0);
    expect(stdout).toContain('port: 2000');
    expect(stdout).not.toContain('type: ws');
    expect(stdout).toContain('port: 8080');
  });

  it('hashes passwords: argument, stdin, scrypt and bcrypt', async () => {
    const scrypt = await runBinary(['passwd', 'secret', '--cost', '1024']);
    expect(scrypt.stdout.trim()).toMatch(/^scrypt\$1024\$8\$1\$\S+\$\S+$/);
    const bcrypt = await runBinary(['hash-password', '-a', 'bcrypt', '--cost', '4'], 'secret\n');
    expect(bcrypt.stdout.trim()).toMatch(/^\$2b\$04\$/);
  });

  it('refuses to listen on other interfaces without auth rules', async () => {
    const { code, stderr } = await runBinary(['--tcp', '0.0.0.0:0', '--ws', 'off', '--http', 'off']);
    expect(code).toBe(2);
    expect(stderr).toContain('refusing to start: tcp://0.0.0.0:0 is reachable from other machines');
    expect(stderr).toContain('--allow-anonymous');
  });

  it('reports config errors with file, line and field, and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-cli-'));
    try {
      const file = join(dir, 'broker.yaml');
      writeFileSync(file, 'listeners:\n  - type: tcp\n    prot: 1883\nlog:\n  level: loud\n');
      const { code, stderr } = await runBinary(['--config', file]);
      expect(code).toBe(2);
      expect(stderr).toContain(`${file}:3:5: listeners[0].prot: unknown key "prot"`);
      expect(stderr).toContain(`${file}:5:10: log.level: level must be one of`);
      const bad = await runBinary(['--tcp', 'x:99999']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--tcp x:99999: the port must be 0–65535');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mqtt-broker binary: serving', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'broker-bin-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as the external checks start it and shuts down gracefully on SIGTERM (v5 DISCONNECT 0x8B, exit 0)', async () => {
    const port = await freePort();
    const server = await startBinary(['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off'], port);
    try {
      const v5 = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      const v4 = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      await v4.subscribeAsync('t/#', { qos: 1 });
      const got = new Promise<string>((resolve) => v4.once('message', (_t, p) => resolve(String(p))));
      await v5.publishAsync('t/1', 'across versions', { qos: 1 });
      expect(await got).toBe('across versions');
      // One line per connection at the default level, saying who connected and how.
      const connected = server
        .output()
        .split('\n')
        .filter((l) => l.includes('"client connected"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(connected).toEqual([
        expect.objectContaining({ clientId: v5.options.clientId, protocol: 5, listener: 'tcp', clean: true }),
        expect.objectContaining({ clientId: v4.options.clientId, protocol: 4, keepalive: 60 }),
      ]);
      const reason = new Promise<number>((resolve) =>
        v5.once('disconnect', (packet) => resolve(packet.reasonCode ?? -1)),
      );
      const v4Closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
      const started = Date.now();
      server.process.kill('SIGTERM');
      expect(await reason).toBe(0x8b);
      await v4Closed;
      expect(await exited(server)).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(server.output()).toContain('"msg":"stopped"');
      v5.end(true);
      v4.end(true);
    } finally {
      await server.stop(500);
    }
  });

  it('serves WebSocket and HTTP, and the management API with its token', async () => {
    const [tcp, ws, http] = [await freePort(), await freePort(), await freePort()];
    const server = await startBinary(
      [
        '--tcp',
        `127.0.0.1:${tcp}`,
        '--ws',
        `127.0.0.1:${ws}`,
        '--http',
        `127.0.0.1:${http}`,
        '--http-token',
        'sekret',
      ],
      tcp,
    );
    try {
      // MQTT.js over a WebSocket opened here (under vitest, MQTT.js's own ws transport cannot load).
      const client = new MqttClient(
        () => createWebSocketStream(new WebSocket(`ws://127.0.0.1:${ws}/mqtt`, ['mqtt'])),
        {
          clientId: 'over-ws',
          protocolVersion: 5,
          reconnectPeriod: 0,
        },
      );
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      expect(
        ((await (await fetch(`http://127.0.0.1:${http}/healthz`)).json()) as { status: string }).status,
      ).toBe('ok');
      const count = await fetch(`http://127.0.0.1:${http}/api/v1/clients/count`, {
        headers: { authorization: 'Bearer sekret' },
      });
      expect(await count.json()).toEqual({ online: 1, sessions: 1 });
      expect((await fetch(`http://127.0.0.1:${http}/api/v1/clients/count`)).status).toBe(401);
      const config = (await (
        await fetch(`http://127.0.0.1:${http}/api/v1/config`, { headers: { authorization: 'Bearer sekret' } })
      ).json()) as { app: { http: { token: string } } };
      expect(config.app.http.token).toBe('***');
      // The dashboard is on by default: the page, with its strict Content-Security-Policy.
      const page = await fetch(`http://127.0.0.1:${http}/`);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<div id="app">');
      await client.endAsync();
    } finally {
      await server.stop(2000);
    }
  });

  it('authenticates from an auth file and reloads it on SIGHUP without dropping connections', async () => {
    const port = await freePort();
    const rules = join(dir, 'rules.yaml');
    const config = join(dir, 'broker.yaml');
    writeFileSync(rules, 'auth:\n  - username: alice\n    password: one\n');
    writeFileSync(
      config,
      `listeners:\n  - type: tcp\n    port: ${port}\nhttp: off\nauth:\n  file: rules.yaml\nlog:\n  level: info\n`,
    );
    const server = await startBinary(['--config', config], port);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      const alice = await mqtt.connectAsync(url, {
        username: 'alice',
        password: 'one',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await expect(
        mqtt.connectAsync(url, { username: 'bob', password: 'two', protocolVersion: 5, reconnectPeriod: 0 }),
      ).rejects.toMatchObject({ code: 0x86 });
      let aliceClosed = false;
      alice.on('close', () => {
        aliceClosed = true;
      });
      writeFileSync(rules, 'auth:\n  - username: bob\n    password: two\n');
      server.process.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!server.output().includes('auth rules reloaded') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const bob = await mqtt.connectAsync(url, {
        username: 'bob',
        password: 'two',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await expect(
        mqtt.connectAsync(url, {
          username: 'alice',
          password: 'one',
          protocolVersion: 5,
          reconnectPeriod: 0,
        }),
      ).rejects.toMatchObject({ code: 0x86 });
      await alice.publishAsync('still/here', 'yes', { qos: 1 });
      expect(aliceClosed).toBe(false);
      // A broken file is reported and the rules in force stay.
      writeFileSync(rules, 'auth:\n  - usernme: bob\n');
      server.process.kill('SIGHUP');
      const deadline2 = Date.now() + 5000;
      while (!server.output().includes('auth rules not reloaded') && Date.now() < deadline2) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(server.output()).toContain('rules.yaml:2:5 auth[0].usernme: unknown key');
      const again = await mqtt.connectAsync(url, {
        username: 'bob',
        password: 'two',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await Promise.all([alice.endAsync(), bob.endAsync(), again.endAsync()]);
    } finally {
      await server.stop(2000);
    }
  });

  it('runs with config/paho-interop.yaml: server keep-alive 60, receive maximum 20, test/nosubscribe refused with 0x80', async () => {
    const port = await freePort();
    const paho = fileURLToPath(new URL('../config/paho-interop.yaml', import.meta.url));
    const server = await startBinary(['--config', paho, '--tcp', `127.0.0.1:${port}`], port);
    try {
      const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 5,
        keepalive: 120,
        reconnectPeriod: 0,
        properties: { topicAliasMaximum: 10 },
      });
      const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      expect(connack.properties).toMatchObject({ serverKeepAlive: 60, receiveMaximum: 20 });
      await expect(client.subscribeAsync('test/nosubscribe', { qos: 2 })).rejects.toMatchObject({
        packet: { granted: [0x80] },
      });
      await client.subscribeAsync('TopicA', { qos: 2 });
      await client.endAsync();
    } finally {
      await server.stop(2000);
    }
  });

  it('serves TLS and a Unix socket from flags', async () => {
    const [tls, http] = [await freePort(), await freePort()];
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
    ]);
    const socket = join(dir, 'mqtt.sock');
    const server = await startBinary(
      [
        '--tcp',
        'off',
        '--ws',
        'off',
        '--tls',
        `127.0.0.1:${tls}`,
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--unix',
        socket,
        '--http',
        `127.0.0.1:${http}`,
      ],
      http,
    );
    try {
      const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${tls}`, {
        ca: readFileSync(cert),
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      const overUnix = await mqtt.connectAsync({
        protocol: 'mqtt',
        path: socket,
        unixSocket: true,
        reconnectPeriod: 0,
      } as mqtt.IClientOptions);
      await overUnix.subscribeAsync('cross/#', { qos: 1 });
      const got = new Promise<string>((resolve) => overUnix.once('message', (topic) => resolve(topic)));
      await overTls.publishAsync('cross/tls', 'x', { qos: 1 });
      expect(await got).toBe('cross/tls');
      await Promise.all([overTls.endAsync(), overUnix.endAsync()]);
    } finally {
      await server.stop(2000);
    }
  });

  it('exits 2 when a port is taken', async () => {
    const port = await freePort();
    const first = await startBinary(['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off'], port);
    try {
      const second = await runBinary(['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off']);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain('EADDRINUSE');
    } finally {
      await first.stop(2000);
    }
  });

  it('exits 2 when another broker has the data directory open', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'mqtt-broker-data-'));
    const first = await startBinary(
      ['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off'],
      port,
      dataDir,
    );
    try {
      const second = await runBinary([
        '--data-dir',
        dataDir,
        '--tcp',
        '127.0.0.1:0',
        '--ws',
        'off',
        '--http',
        'off',
      ]);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`another process (pid ${first.process.pid}) has the store open`);
      expect(second.stderr.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      await first.stop(2000);
    }
  });

  it('applies per-listener limits from the config file', async () => {
    const port = await freePort();
    const config = join(dir, 'limits.yaml');
    writeFileSync(
      config,
      `listeners:\n  - type: tcp\n    port: ${port}\n    maxConnections: 1\n    maxPacketSize: 300\nhttp: off\n`,
    );
    const server = await startBinary(['--config', config], port);
    try {
      // The readiness probe of startBinary was a connection too; let the listener see it close.
      await new Promise((r) => setTimeout(r, 200));
      const url = `mqtt://127.0.0.1:${port}`;
      const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0 });
      const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      expect(connack.properties?.maximumPacketSize).toBe(300);
      // A second connection is over maxConnections: closed at once, before any CONNACK.
      const second = await RawClient.open(port, 4);
      second.send({ type: 'connect', protocolVersion: 4, clientId: 'x', clean: true, keepalive: 60 });
      await second.waitClosed();
      expect(second.received).toEqual([]);
      await client.endAsync();
    } finally {
      await server.stop(2000);
    }
  });

  it('reloads inline rules from the config file on SIGHUP', async () => {
    const port = await freePort();
    const config = join(dir, 'inline.yaml');
    const write = (user: string) =>
      writeFileSync(
        config,
        `listeners:\n  - type: tcp\n    port: ${port}\nhttp: off\nauth:\n  rules:\n    - username: ${user}\n`,
      );
    write('carol');
    const server = await startBinary(['--config', config], port);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      const carol = await mqtt.connectAsync(url, {
        username: 'carol',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      write('dave');
      server.process.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!server.output().includes('auth rules reloaded') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const dave = await mqtt.connectAsync(url, { username: 'dave', protocolVersion: 5, reconnectPeriod: 0 });
      await expect(
        mqtt.connectAsync(url, { username: 'carol', protocolVersion: 5, reconnectPeriod: 0 }),
      ).rejects.toMatchObject({ code: 0x86 });
      expect(carol.connected).toBe(true);
      await Promise.all([carol.endAsync(), dave.endAsync()]);
    } finally {
      await server.stop(2000);
    }
  });

  const redis = requireServer('redis-server');
  it.skipIf(redis.skip)(
    `keeps persistent sessions in Redis across a graceful restart (--storage redis://…)${redis.skip ? ` (skipped: ${redis.reason})` : ''}`,
    async () => {
      const store = await startRedis();
      try {
        const port = await freePort();
        const args = ['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off', '--storage', store.url];
        const url = `mqtt://127.0.0.1:${port}`;
        let server = await startBinary(args, port);
        const keeper = { clientId: 'keeper', clean: false, protocolVersion: 4 as const, reconnectPeriod: 0 };
        const first = await mqtt.connectAsync(url, keeper);
        await first.subscribeAsync('kept/#', { qos: 1 });
        await first.endAsync();
        const publisher = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
        await publisher.publishAsync('kept/one', 'survives a restart', { qos: 1 });
        await publisher.endAsync();
        server.process.kill('SIGTERM');
        expect(await exited(server)).toBe(0);

        server = await startBinary(args, port);
        try {
          const again = mqtt.connect(url, keeper);
          const message = new Promise<string>((resolve) =>
            again.once('message', (topic, payload) => resolve(`${topic}:${payload}`)),
          );
          const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve));
          expect(connack.sessionPresent).toBe(true);
          expect(await message).toBe('kept/one:survives a restart');
          await again.endAsync();
        } finally {
          await server.stop(2000);
        }
      } finally {
        await store.stop();
      }
    },
  );
});
