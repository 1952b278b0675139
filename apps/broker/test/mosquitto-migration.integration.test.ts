import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectOutcome, findExecutable, freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printed, runBinary, runPasswd, startBinary } from './binary.js';

const run = promisify(execFile);
const mosquitto = findExecutable('mosquitto');
const mosquittoPasswd = findExecutable('mosquitto_passwd');
const skip = (!mosquitto || !mosquittoPasswd) && process.env.CI !== 'true';

const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 10_000 };

/** Counts how often `text` appears in the server's output. */
function count(server: SpawnedServer, text: string): number {
  return server.output().split(text).length - 1;
}

async function waitFor(server: SpawnedServer, text: string, times: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (count(server, text) < times && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(count(server, text), text).toBeGreaterThanOrEqual(times);
}

/** The real Mosquitto on `conf` (as root it would drop to the `mosquitto` user, who cannot read our files). */
function startMosquitto(conf: string, port: number): Promise<SpawnedServer> {
  if (process.getuid?.() === 0) writeFileSync(conf, `${readFileSync(conf, 'utf8')}\nuser root\n`);
  return spawnServer({ command: mosquitto as string, args: ['-c', conf], port });
}

describe.skipIf(skip)('Mosquitto users move over: password_file, acl_file, passwd, convert', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'broker-mosquitto-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--password-file (made by mosquitto_passwd) and --acl-file: logins, ACL, reload on SIGHUP', async () => {
    const passwd = join(dir, 'passwd');
    const acl = join(dir, 'acl');
    await run(mosquittoPasswd as string, ['-c', '-b', passwd, 'alice', 'alice-pw']);
    await run(mosquittoPasswd as string, ['-b', passwd, 'bob', 'bob-pw']);
    writeFileSync(
      acl,
      [
        'user alice',
        'topic readwrite alice/#',
        'topic read public/#',
        'user bob',
        'topic write public/#',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const server = await startBinary(
      [
        ...['--tcp', `127.0.0.1:${port}`, '--ws', 'off', '--http', 'off', '--storage', 'memory'],
        ...['--password-file', passwd, '--acl-file', acl],
      ],
      port,
    );
    try {
      // Logged right after the listeners open: wait for it rather than race it.
      await printed(server, 'auth: password_file (2 users), acl_file, ledger (0 auth rules)');
      expect(await connectOutcome(url, { ...v5, username: 'alice', password: 'wrong' })).toBe(0x86);
      expect(await connectOutcome(url, { ...v5, username: 'carol', password: 'carol-pw' })).toBe(0x86);
      const alice = await mqtt.connectAsync(url, { ...v5, username: 'alice', password: 'alice-pw' });
      const bob = await mqtt.connectAsync(url, { ...v5, username: 'bob', password: 'bob-pw' });
      const got: string[] = [];
      alice.on('message', (topic) => got.push(topic));
      await alice.subscribeAsync('public/#', { qos: 1 });
      await bob.publishAsync('public/news', 'hi', { qos: 1 });
      await expect.poll(() => got).toEqual(['public/news']);
      await alice.publishAsync('alice/x', 'mine', { qos: 1 });
      await expect(alice.publishAsync('public/x', 'no', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });

      // Carol comes in, bob goes, alice may now write public/#: no reconnect needed for the ACL.
      await run(mosquittoPasswd as string, ['-b', passwd, 'carol', 'carol-pw']);
      await run(mosquittoPasswd as string, ['-D', passwd, 'bob']);
      writeFileSync(acl, 'user alice\ntopic readwrite alice/#\ntopic readwrite public/#\n');
      server.process.kill('SIGHUP');
      await waitFor(server, 'auth rules reloaded', 1);
      expect(await connectOutcome(url, { ...v5, username: 'carol', password: 'carol-pw' })).toBe('connected');
      expect(await connectOutcome(url, { ...v5, username: 'bob', password: 'bob-pw' })).toBe(0x86);
      await alice.publishAsync('public/x', 'now yes', { qos: 1 });

      // A broken file is reported and what is in force stays.
      writeFileSync(passwd, `${readFileSync(passwd, 'utf8')}no-colon-here\n`);
      server.process.kill('SIGHUP');
      await waitFor(server, 'auth rules not reloaded', 1);
      expect(server.output()).toMatch(/invalid \S*passwd:\d+: expected user:hash/);
      expect(await connectOutcome(url, { ...v5, username: 'carol', password: 'carol-pw' })).toBe('connected');
      for (const secret of ['alice-pw', 'bob-pw', 'carol-pw']) expect(server.output()).not.toContain(secret);
      await Promise.all([alice.endAsync(), bob.endAsync(true)]);
    } finally {
      await server.stop(2000);
    }
  });

  it('passwd writes a password file the real Mosquitto accepts, and reads what mosquitto_passwd wrote', async () => {
    const file = join(dir, 'ours.passwd');
    // The binary once; the other edits run the same command in this process (a Node start-up each
    // would cost seconds on a loaded machine).
    const created = await runBinary(['passwd', '-c', '-b', file, 'ann', 'ann-pw']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    for (const args of [
      ['-b', file, 'ben', 'ben-pw'],
      ['-b', '-H', 'sha512', file, 'cid', 'cid-pw'],
      ['-b', file, 'ann', 'ann-pw2'],
      ['-D', file, 'ben'],
    ]) {
      expect(await runPasswd(args), args.join(' ')).toEqual({ code: 0, stderr: '' });
    }
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^ann:\$7\$101\$\S+\ncid:\$6\$\S+\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // mosquitto_passwd edits our file too.
    await run(mosquittoPasswd as string, ['-b', file, 'dee', 'dee-pw']);

    const port = await freePort();
    const conf = join(dir, 'check.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${file}\n`);
    const real = await startMosquitto(conf, port);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      expect(await connectOutcome(url, { ...v5, username: 'ann', password: 'ann-pw2' })).toBe('connected');
      expect(await connectOutcome(url, { ...v5, username: 'cid', password: 'cid-pw' })).toBe('connected');
      expect(await connectOutcome(url, { ...v5, username: 'dee', password: 'dee-pw' })).toBe('connected');
      expect(await connectOutcome(url, { ...v5, username: 'ann', password: 'ann-pw' })).not.toBe('connected');
      expect(await connectOutcome(url, { ...v5, username: 'ben', password: 'ben-pw' })).not.toBe('connected');
    } finally {
      await real.stop(2000);
    }

    const mistakes: Array<[string[], RegExp]> = [
      [['-D', file, 'nobody'], /^mqtt-broker passwd: \S+: no user "nobody"$/],
      [['-b', join(dir, 'missing'), 'u', 'p'], /cannot read it \(no such file; -c creates it\)$/],
      [['-b', file, 'a:b', 'p'], /user name "a:b" contains ":"/],
      [['-c', '-D', file, 'ann'], /-c and -D do not go together$/],
      [['-b', file, 'ann'], /expected -b \[-c\] FILE USER PASSWORD, got 2 arguments$/],
      [['-b', '-I', '0', file, 'ann', 'x'], /-I 0: PBKDF2 iterations must be a whole number/],
    ];
    for (const [args, says] of mistakes) {
      const ran = await runPasswd(args);
      expect(ran.code, args.join(' ')).toBe(2);
      expect(ran.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(ran.stderr.trimEnd()).toMatch(says);
    }
    // Nothing above changed the file.
    expect(readFileSync(file, 'utf8')).toMatch(/^ann:\S+\ncid:\S+\ndee:\S+\n$/);
  });

  it('convert: a realistic mosquitto.conf becomes YAML our broker starts on (TCP, TLS, WebSocket, auth files, persistence)', async () => {
    const [tcp, tls, ws] = [await freePort(), await freePort(), await freePort()];
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', key, '-out', cert, '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'],
    ]);
    const passwd = join(dir, 'conv.passwd');
    await run(mosquittoPasswd as string, ['-c', '-b', passwd, 'alice', 'alice-pw']);
    const acl = join(dir, 'conv.acl');
    writeFileSync(acl, 'user alice\ntopic readwrite sensors/#\n');
    const data = join(dir, 'mosquitto-data');
    const included = join(dir, 'conf.d');
    mkdirSync(data);
    mkdirSync(included);
    writeFileSync(join(included, '10-limits.conf'), 'max_inflight_messages 40\nset_tcp_nodelay true\n');
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        '# /etc/mosquitto/mosquitto.conf',
        `pid_file ${dir}/mosquitto.pid`,
        'persistence true',
        `persistence_location ${data}/`,
        'autosave_interval 30',
        'log_dest stdout',
        'log_type error',
        'max_queued_messages 200',
        'max_queued_bytes 1048576',
        'message_size_limit 65536',
        'max_keepalive 120',
        'persistent_client_expiration 2d',
        '',
        `listener ${tcp} 127.0.0.1`,
        'max_connections 100',
        '',
        `listener ${tls} 127.0.0.1`,
        `certfile ${cert}`,
        `keyfile ${key}`,
        'tls_version tlsv1.2',
        '',
        `listener ${ws} 127.0.0.1`,
        'protocol websockets',
        '',
        'allow_anonymous false',
        `password_file ${passwd}`,
        `acl_file ${acl}`,
        '',
        'connection cloud',
        'address 10.0.0.1:1883',
        'topic sensors/# out 1',
        '',
        `include_dir ${included}`,
        '',
      ].join('\n'),
    );
    const yaml = join(dir, 'converted.yaml');
    const converted = await runBinary(['convert', conf, '-o', yaml]);
    expect(converted.code).toBe(0);
    const notes = converted.stderr.trimEnd().split('\n');
    // One line per setting left out, with its file and line.
    for (const expected of [
      /mosquitto\.conf:2: pid_file .*: not mapped$/,
      /mosquitto\.conf:6: log_dest stdout: not mapped$/,
      /mosquitto\.conf:10: message_size_limit 65536: approximated/,
      /mosquitto\.conf:20: tls_version tlsv1\.2: not mapped$/,
      /mosquitto\.conf:23: protocol websockets: WebSocket clients connect at path \/mqtt here/,
      /mosquitto\.conf:29: connection cloud: bridges are not converted/,
      /mosquitto\.conf:30: address 10\.0\.0\.1:1883: part of bridge "cloud"/,
      /10-limits\.conf:2: set_tcp_nodelay true: not mapped$/,
    ]) {
      expect(
        notes.some((line) => expected.test(line)),
        String(expected),
      ).toBe(true);
    }
    expect(notes).toHaveLength(10);

    const printedConfig = await runBinary(['--config', yaml, '--print-config']);
    expect(printedConfig.code).toBe(0);
    for (const setting of [
      'maxQueuedMessages: 200',
      'maxQueuedBytes: 1048576',
      'maxKeepAlive: 120',
      'neverExpireAfter: 172800',
      'maxInflight: 40',
      'allowAnonymous: false',
      'durability: interval',
      'intervalMs: 30000',
    ]) {
      expect(printedConfig.stdout).toContain(setting);
    }

    const server = await startBinary(['--config', yaml], tcp);
    try {
      const login = { username: 'alice', password: 'alice-pw' };
      expect(await connectOutcome(`mqtt://127.0.0.1:${tcp}`, { ...v5, ...login })).toBe('connected');
      expect(
        await connectOutcome(`mqtt://127.0.0.1:${tcp}`, { ...v5, username: 'alice', password: 'x' }),
      ).toBe(0x86);
      expect(await connectOutcome(`mqtt://127.0.0.1:${tcp}`, { ...v5 })).toBe(0x87);
      expect(
        await connectOutcome(`mqtts://127.0.0.1:${tls}`, { ...v5, ...login, ca: readFileSync(cert) }),
      ).toBe('connected');
      const wsClient = await mqtt.connectAsync(`ws://127.0.0.1:${ws}/mqtt`, { ...v5, ...login });
      await wsClient.publishAsync('sensors/t', '21', { qos: 1 });
      await expect(wsClient.publishAsync('other/t', '21', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
      await wsClient.endAsync();
      await printed(server, 'persistent sessions, queued and retained messages are kept on disk');
    } finally {
      await server.stop(2000);
    }

    // The real Mosquitto runs the same file (its bridge aside): the conversion started from a working setup.
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(/connection cloud\n.*\n.*\n/, ''));
    const real = await startMosquitto(conf, tcp);
    try {
      expect(
        await connectOutcome(`mqtt://127.0.0.1:${tcp}`, { ...v5, username: 'alice', password: 'alice-pw' }),
      ).toBe('connected');
    } finally {
      await real.stop(2000);
    }
  });

  it('convert: an unreadable input is one line and exit 2', async () => {
    const ran = await runBinary(['convert', join(dir, 'nope.conf')]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/^mqtt-broker convert: \S+nope\.conf: cannot read it \(no such file\)\n$/);
    expect(ran.stdout).toBe('');
  });
});
