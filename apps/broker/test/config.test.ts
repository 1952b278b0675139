import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword } from '@x/broker-auth';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/defaults.js';
import { checkFiles } from '../src/config/files.js';
import { applyFlags, FlagError, parseHostPort } from '../src/config/flags.js';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';
import { printableConfig } from '../src/config/print.js';
import { resolveConfig } from '../src/config/resolve.js';
import { anonymousAllowed, isLoopback, unsafeExposure } from '../src/config/safety.js';
import { CORE_KEYS } from '../src/config/validate.js';

function configError(text: string): ConfigError {
  try {
    parseConfig(text, 'broker.yaml', '/etc/mqtt');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('are Mosquitto 2 like: TCP 1883, WebSocket 1882 /mqtt, HTTP 8080, loopback only, anonymous allowed', () => {
    const config = resolveConfig(undefined, {});
    expect(config.listeners).toEqual([
      { type: 'tcp', host: '127.0.0.1', port: 1883 },
      { type: 'ws', host: '127.0.0.1', port: 1882, path: '/mqtt' },
    ]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(anonymousAllowed(config)).toBe(true);
    expect(unsafeExposure(config, false)).toBeUndefined();
  });
});

describe('config file', () => {
  it('reads a full YAML file, resolves relative paths and keeps defaults for what it leaves out', () => {
    const config = parseConfig(
      [
        'listeners:',
        '  - type: tcp',
        '    port: 1884',
        '    maxConnections: 10',
        '    connectionRate: 5',
        '  - type: tls',
        '    host: 0.0.0.0',
        '    cert: certs/server.crt',
        '    key: /abs/server.key',
        '    requestCert: true',
        '    cnAsUsername: true',
        '  - type: ws',
        '    path: /ws',
        '  - { type: unix, path: run/mqtt.sock }',
        'http: { port: 9090, token: t0k3n }',
        'auth:',
        '  rules:',
        '    - { username: alice, password: "1234" }',
        '  acl:',
        '    - filters: { "users/%u/#": readwrite }',
        'broker:',
        '  receiveMaximum: 10',
        '  maxKeepAlive: 60',
        '  topicAliasesToClients: true',
        '  queueQos0Messages: true',
        'log: { level: debug }',
      ].join('\n'),
      'broker.yaml',
      '/etc/mqtt',
    );
    expect(config.listeners).toEqual([
      { type: 'tcp', host: '127.0.0.1', port: 1884, maxConnections: 10, connectionRate: 5 },
      {
        type: 'tls',
        host: '0.0.0.0',
        port: 8883,
        cert: '/etc/mqtt/certs/server.crt',
        key: '/abs/server.key',
        requestCert: true,
        cnAsUsername: true,
      },
      { type: 'ws', host: '127.0.0.1', port: 1882, path: '/ws' },
      { type: 'unix', path: '/etc/mqtt/run/mqtt.sock' },
    ]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 9090, token: 't0k3n' });
    expect(parseConfig('http: { dashboard: false }\n').http).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dashboard: false,
    });
    expect(config.auth.rules).toEqual([{ username: 'alice', password: '1234' }]);
    expect(config.auth.acl).toEqual([{ filters: { 'users/%u/#': 'readwrite' } }]);
    expect(config.broker).toEqual({
      receiveMaximum: 10,
      maxKeepAlive: 60,
      topicAliasesToClients: true,
      queueQos0Messages: true,
    });
    expect(config.log).toEqual({ level: 'debug', format: 'auto' });
    expect(unsafeExposure(config, true)).toBeUndefined();
  });

  it('reads broker.authThrottle (limits, per-address and per-user back-off, or false) and reports bad keys', () => {
    const config = parseConfig(
      'broker:\n  authThrottle: { maxConcurrent: 4, perUser: { freeFailures: 2, maxDelay: 1000 } }\n',
      'broker.yaml',
      '/etc/mqtt',
    );
    expect(config.broker.authThrottle).toEqual({
      maxConcurrent: 4,
      perUser: { freeFailures: 2, maxDelay: 1000 },
    });
    expect(
      parseConfig('broker: { authThrottle: false }\n', 'broker.yaml', '/etc/mqtt').broker.authThrottle,
    ).toBe(false);
    const error = configError('broker:\n  authThrottle:\n    maxConcurrent: 0\n    perAdress: {}\n');
    expect(error.issues.map((i) => [i.line, i.message])).toEqual([
      [3, 'maxConcurrent must be an integer from 1 to 100000'],
      [4, expect.stringContaining('unknown key "perAdress" in authThrottle')],
    ]);
  });

  it('reads JSON with positions too', () => {
    const error = configError('{\n  "listeners": [\n    {"type": "tcp", "prot": 1}\n  ]\n}');
    expect(error.issues).toHaveLength(1);
    expect(error.message).toContain(
      'broker.yaml:3:21: listeners[0].prot: unknown key "prot" in a tcp listener',
    );
  });

  it('reports every unknown key and bad value with line and column', () => {
    const error = configError(
      [
        'listeners:', // 1
        '  - type: tcp', // 2
        '    port: 70000', // 3
        '  - type: tls', // 4
        '    port: 8883', // 5
        '  - type: quic', // 6
        'htp: {}', // 7
        'broker:', // 8
        '  receiveMaximum: 0', // 9
        '  maximumQoS: 3', // 10
        'auth:', // 11
        '  rules:', // 12
        '    - usernme: bob', // 13
        'log: { level: loud }', // 14
      ].join('\n'),
    );
    const lines = error.issues.map((i) => [i.line, i.message]);
    expect(lines).toEqual([
      [3, 'port must be an integer from 0 to 65535'],
      [4, 'a TLS listener needs `cert` (a PEM file)'],
      [4, 'a TLS listener needs `key` (a PEM file)'],
      [6, 'type must be one of tcp, tls, ws, wss, unix'],
      [7, expect.stringContaining('unknown key "htp" in the config file')],
      [9, 'receiveMaximum must be an integer from 1 to 65535'],
      [10, 'maximumQoS must be one of 0, 1, 2'],
      [13, expect.stringContaining('unknown key "usernme"')],
      [14, expect.stringContaining('level must be one of trace, debug')],
    ]);
    expect(error.message).toMatch(/^invalid configuration:\n {2}broker\.yaml:3:11: listeners\[0\]\.port: /);
    expect(error.message).toContain('broker.yaml:13:7: auth.rules[0].usernme: unknown key');
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(configError('listeners: [\n').issues[0]?.line).toBeGreaterThanOrEqual(1);
    const duplicate = configError('log:\n  level: info\n  level: debug\n');
    expect(duplicate.issues[0]?.line).toBe(3);
  });

  it('reads auth.checkDelivery and refuses a non-boolean', () => {
    expect(parseConfig('auth:\n  checkDelivery: true\n').auth.checkDelivery).toBe(true);
    expect(configError('auth:\n  checkDelivery: sometimes\n').message).toContain(
      'broker.yaml:2:18: auth.checkDelivery: checkDelivery must be true or false',
    );
  });

  it('refuses an HTTP listener reachable from other machines without a token', () => {
    const open = { ...defaultConfig(), http: { host: '0.0.0.0', port: 8080 } };
    expect(unsafeExposure(open, true)).toMatch(
      /HTTP listener 0\.0\.0\.0:8080 is reachable from other machines without a token/,
    );
    expect(
      unsafeExposure({ ...open, http: { host: '0.0.0.0', port: 8080, token: 's' } }, true),
    ).toBeUndefined();
  });

  it('reads an embedded storage section (the default type)', () => {
    expect(
      parseConfig('storage:\n  dataDir: /var/lib/mqtt\n  durability: interval\n  intervalMs: 500\n').storage,
    ).toEqual({
      type: 'embedded',
      dataDir: '/var/lib/mqtt',
      durability: 'interval',
      intervalMs: 500,
    });
    expect(configError('storage:\n  type: embedded\n  durability: sometimes\n').message).toContain(
      'storage.durability',
    );
    expect(parseConfig('storage:\n  durability: fsync\n').storage).toEqual({
      type: 'embedded',
      dataDir: './data',
      durability: 'fsync',
    });
    expect(parseConfig('storage:\n  commitWindowMs: 0\n').storage).toEqual({
      type: 'embedded',
      dataDir: './data',
      commitWindowMs: 0,
    });
    expect(configError('storage:\n  commitWindowMs: 5000\n').message).toContain('storage.commitWindowMs');
  });

  it("--durability sets the embedded store's durability; --storage embedded keeps the file's", () => {
    expect(applyFlags(defaultConfig(), { durability: 'fsync' }).storage).toEqual({
      type: 'embedded',
      dataDir: './data',
      durability: 'fsync',
    });
    const configured = parseConfig('storage:\n  dataDir: /d\n  durability: interval\n  intervalMs: 500\n');
    expect(applyFlags(configured, { storage: 'embedded' }).storage).toEqual({
      type: 'embedded',
      dataDir: '/d',
      durability: 'interval',
      intervalMs: 500,
    });
    expect(() => applyFlags(defaultConfig(), { durability: 'sometimes' })).toThrow(
      /^--durability sometimes: expected one of acknowledged, fsync, interval$/,
    );
    expect(() => applyFlags(defaultConfig(), { storage: 'memory', durability: 'fsync' })).toThrow(
      /--durability applies to the embedded store/,
    );
  });

  it('reads a Redis storage section, and masks its password when printing', () => {
    const config = parseConfig(
      'storage:\n  type: redis\n  url: redis://:pw@127.0.0.1:6379/1\n  prefix: "b1:"\n',
    );
    expect(config.storage).toEqual({ type: 'redis', url: 'redis://:pw@127.0.0.1:6379/1', prefix: 'b1:' });
    expect(parseConfig('storage:\n  type: redis\n  commitWindowMs: 2\n').storage).toEqual({
      type: 'redis',
      url: 'redis://127.0.0.1:6379',
      commitWindowMs: 2,
    });
    expect(printableConfig(config)).toContain('url: redis://***@127.0.0.1:6379/1');
    expect(configError('storage:\n  type: memory\n  url: redis://x\n').message).toContain(
      'broker.yaml:3:3: storage.url: unknown key "url" in storage',
    );
    expect(configError('storage:\n  type: redis\n  url: http://x\n').message).toContain(
      'storage.url: url must start with redis://',
    );
    // rediss:// (TLS) is accepted.
    expect(parseConfig('storage:\n  type: redis\n  url: rediss://127.0.0.1:6380\n').storage).toEqual({
      type: 'redis',
      url: 'rediss://127.0.0.1:6380',
    });
    expect(configError('storage:\n  type: redis\n  url: redis://h:6379/abc\n').message).toMatch(
      /broker\.yaml:3:\d+: storage\.url: invalid Redis URL "redis:\/\/h:6379\/abc": database "abc" is not a number/,
    );
  });

  it('reads a cluster section, checks its URL and node id, and masks its password when printing', () => {
    const config = parseConfig(
      'cluster:\n  url: redis://:pw@127.0.0.1:6379\n  nodeId: node-1\n  prefix: "c1:"\n  leaseMs: 2000\n  redisCluster: true\n',
    );
    expect(config.cluster).toEqual({
      url: 'redis://:pw@127.0.0.1:6379',
      nodeId: 'node-1',
      prefix: 'c1:',
      leaseMs: 2000,
      redisCluster: true,
    });
    expect(configError('cluster:\n  url: redis://x:6379/2\n  redisCluster: true\n').message).toContain(
      'cluster.url: a Redis Cluster has database 0 only',
    );
    expect(printableConfig(config)).toContain('url: redis://***@127.0.0.1:6379');
    expect(configError('cluster:\n  url: http://x\n').message).toContain(
      'cluster.url: url must start with redis://',
    );
    expect(configError('cluster:\n  url: redis://x:6379\n  nodeId: "a b"\n').message).toContain(
      'cluster.nodeId',
    );
    expect(configError('cluster:\n  url: redis://x:6379\n  peers: 3\n').message).toContain(
      'unknown key "peers" in cluster',
    );
  });

  it('takes --cluster and --node-id', () => {
    const config = applyFlags(defaultConfig(), { cluster: 'rediss://127.0.0.1:6380', nodeId: 'n2' });
    expect(config.cluster).toEqual({ url: 'rediss://127.0.0.1:6380', nodeId: 'n2' });
    expect(() => applyFlags(defaultConfig(), { cluster: '127.0.0.1:6379' })).toThrow(
      /--cluster 127\.0\.0\.1:6379: expected a redis:\/\//,
    );
    expect(() => applyFlags(defaultConfig(), { nodeId: 'n2' })).toThrow(/--node-id needs cluster mode/);
    expect(
      applyFlags(defaultConfig(), { cluster: 'redis://127.0.0.1:7000', redisCluster: true }).cluster,
    ).toEqual({ url: 'redis://127.0.0.1:7000', redisCluster: true });
    expect(() => applyFlags(defaultConfig(), { redisCluster: true })).toThrow(
      /--redis-cluster needs cluster mode/,
    );
    expect(() => applyFlags(defaultConfig(), { cluster: 'redis://h:6379', nodeId: 'a/b' })).toThrow(
      /--node-id a\/b/,
    );
  });

  it('names the file it cannot read', () => {
    expect(() => loadConfigFile('/nonexistent/broker.yaml')).toThrow(
      /\/nonexistent\/broker\.yaml: cannot read/,
    );
  });

  it('loads a file from disk relative to its folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-config-'));
    const file = join(dir, 'b.yaml');
    writeFileSync(file, 'auth:\n  file: rules.yaml\n');
    expect(loadConfigFile(file).auth.file).toBe(join(dir, 'rules.yaml'));
  });
});

describe('flags', () => {
  it('parses host:port forms', () => {
    expect(parseHostPort('tcp', '0.0.0.0:1884', 1883)).toEqual({ host: '0.0.0.0', port: 1884 });
    expect(parseHostPort('tcp', '1884', 1883)).toEqual({ host: '127.0.0.1', port: 1884 });
    expect(parseHostPort('tcp', ':1884', 1883)).toEqual({ host: '127.0.0.1', port: 1884 });
    expect(parseHostPort('tcp', '[::1]:1884', 1883)).toEqual({ host: '::1', port: 1884 });
    expect(parseHostPort('tcp', 'localhost', 1883)).toEqual({ host: 'localhost', port: 1883 });
    expect(() => parseHostPort('tcp', '::1:1884', 1883)).toThrow(/brackets/);
    expect(() => parseHostPort('tcp', 'a:99999', 1883)).toThrow(/--tcp a:99999: the port/);
    expect(parseHostPort('tcp', '0.0.0.0', 1883)).toEqual({ host: '0.0.0.0', port: 1883 });
  });

  it('refuses a bare word that is neither a port nor an address, naming it', () => {
    // Read as a host name, `notaport` used to pass and be reported as reachable from other machines.
    expect(() => parseHostPort('tcp', 'notaport', 1883)).toThrow(
      /^--tcp notaport: not a port or an address \(expected PORT, :PORT, HOST:PORT/,
    );
    expect(() => parseHostPort('ws', 'host:12ab', 1882)).toThrow(/--ws host:12ab: the port must be 0–65535/);
    expect(() => applyFlags(defaultConfig(), { tcp: 'notaport' })).toThrow(FlagError);
  });

  it("takes Mosquitto's -p PORT (loopback, or the configured TCP host) and -v (debug logging)", () => {
    const plain = applyFlags(defaultConfig(), { port: '1884' });
    expect(plain.listeners[0]).toEqual({ type: 'tcp', host: '127.0.0.1', port: 1884 });
    const configured = parseConfig(
      'listeners:\n  - { type: tcp, host: 0.0.0.0, port: 1, maxConnections: 3 }\n',
    );
    applyFlags(configured, { port: '1885' });
    expect(configured.listeners).toEqual([{ type: 'tcp', host: '0.0.0.0', port: 1885, maxConnections: 3 }]);
    expect(() => applyFlags(defaultConfig(), { port: '1884', tcp: '1885' })).toThrow(/-p and --tcp/);
    expect(() => applyFlags(defaultConfig(), { port: 'x' })).toThrow(/^-p x: the port must be 0–65535$/);
    expect(applyFlags(defaultConfig(), { verbose: true }).log.level).toBe('debug');
    expect(applyFlags(defaultConfig(), { verbose: true, logLevel: 'warn' }).log.level).toBe('warn');
  });

  it('checks that TLS and auth files can be read, naming the flag or the config key', () => {
    const tls = applyFlags(defaultConfig(), { tls: '8883', tlsCert: '/nonexistent/c.pem', tlsKey: 'k.pem' });
    expect(() => checkFiles(tls, { tlsCert: '/nonexistent/c.pem', tlsKey: 'k.pem' })).toThrow(
      /^--tls-cert \/nonexistent\/c.pem: cannot read it \(no such file\)$/,
    );
    const fromFile = parseConfig('auth:\n  file: /nonexistent/rules.yaml\n', 'broker.yaml');
    expect(() => checkFiles(fromFile, {}, 'broker.yaml')).toThrow(
      /^invalid configuration: broker.yaml: auth.file: cannot read \/nonexistent\/rules.yaml \(no such file\)$/,
    );
    expect(() => checkFiles(defaultConfig(), {})).not.toThrow();
  });

  it('replaces or removes listeners: the external checks start `--tcp 127.0.0.1:PORT --ws off --http off`', () => {
    const config = applyFlags(defaultConfig(), { tcp: '127.0.0.1:4000', ws: 'off', http: 'off' });
    expect(config.listeners).toEqual([{ type: 'tcp', host: '127.0.0.1', port: 4000 }]);
    expect(config.http).toBe(false);
  });

  it('keeps a listener’s other settings when its address is overridden', () => {
    const config = parseConfig('listeners:\n  - { type: ws, port: 1, path: /x, maxConnections: 3 }\n');
    applyFlags(config, { ws: '127.0.0.1:2' });
    expect(config.listeners).toEqual([
      { type: 'ws', host: '127.0.0.1', port: 2, path: '/x', maxConnections: 3 },
    ]);
  });

  it('needs certificate files for --tls', () => {
    expect(() => applyFlags(defaultConfig(), { tls: '8883' })).toThrow(FlagError);
    const config = applyFlags(defaultConfig(), { tls: '8883', tlsCert: 'c.pem', tlsKey: 'k.pem' });
    expect(config.listeners.at(-1)).toEqual({
      type: 'tls',
      host: '127.0.0.1',
      port: 8883,
      cert: 'c.pem',
      key: 'k.pem',
    });
  });

  it('rejects unknown storage and log levels', () => {
    expect(() => applyFlags(defaultConfig(), { storage: 'redis' })).toThrow(
      /--storage redis: expected "embedded", "memory" or a redis:\/\//,
    );
    expect(() => applyFlags(defaultConfig(), { storage: 'redis://127.0.0.1:port' })).toThrow(
      /--storage: invalid Redis URL "redis:\/\/127\.0\.0\.1:port"/,
    );
    expect(applyFlags(defaultConfig(), { storage: 'redis://127.0.0.1:6380/2' }).storage).toEqual({
      type: 'redis',
      url: 'redis://127.0.0.1:6380/2',
    });
    expect(() => applyFlags(defaultConfig(), { logLevel: 'loud' })).toThrow(/--log-level loud/);
  });
});

describe('safety', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      expect(isLoopback(host)).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.1', 'example.com']) expect(isLoopback(host)).toBe(false);
  });

  it('refuses other interfaces without auth rules or an explicit allow-anonymous', () => {
    const exposed = applyFlags(defaultConfig(), { tcp: '0.0.0.0:1883' });
    expect(anonymousAllowed(exposed)).toBe(false);
    expect(unsafeExposure(exposed, false)).toMatch(/refusing to start: tcp:\/\/0\.0\.0\.0:1883 is reachable/);
    expect(unsafeExposure(exposed, true)).toBeUndefined();
    applyFlags(exposed, { allowAnonymous: true });
    expect(unsafeExposure(exposed, false)).toBeUndefined();
    expect(anonymousAllowed(exposed)).toBe(true);
  });

  it('treats a Unix socket as local', () => {
    const config = applyFlags(defaultConfig(), { unix: '/tmp/x.sock' });
    expect(unsafeExposure(config, false)).toBeUndefined();
  });
});

describe('print-config', () => {
  it('masks secrets', () => {
    const config = parseConfig('http: { token: secret }\nauth:\n  rules: [{ username: a, password: pw }]\n');
    const text = printableConfig(config);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('pw');
    expect(text).toContain('token: "***"');
  });
});

describe('shipped config files', () => {
  const dir = new URL('../config/', import.meta.url).pathname;

  it('example.yaml is valid and documents the defaults', async () => {
    const config = loadConfigFile(join(dir, 'example.yaml'));
    expect(config.listeners.map((l) => l.type)).toEqual(['tcp', 'ws']);
    expect(config.auth.rules).toHaveLength(3);
    expect(await verifyPassword('change-me', config.auth.rules?.[0]?.password ?? '')).toBe(true);
    expect(config.broker.maxPacketSize).toBe(1048576);
    expect(unsafeExposure(config, true)).toBeUndefined();
  }, 30_000); // checks bcrypt and scrypt hashes: seconds on a loaded machine

  it('example.yaml names every broker option, and the README shows it as it is', () => {
    const text = readFileSync(join(dir, 'example.yaml'), 'utf8');
    const broker = text.slice(text.indexOf('\nbroker:\n'), text.indexOf('\nstorage:\n'));
    // A key may be commented out when it has no default (maxKeepAlive), but it is there.
    const missing = CORE_KEYS.filter((key) => !new RegExp(`^ {2}#? *${key}:`, 'm').test(broker));
    expect(missing).toEqual([]);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const from = readme.indexOf('```yaml\n', readme.indexOf('Every key, annotated')) + '```yaml\n'.length;
    expect(readme.slice(from, readme.indexOf('```', from))).toBe(text);
  });

  it('paho-interop.yaml carries the settings of Paho’s test broker', () => {
    const config = loadConfigFile(join(dir, 'paho-interop.yaml'));
    expect(config.listeners).toEqual([{ type: 'tcp', host: '127.0.0.1', port: 1883 }]);
    expect(config.http).toBe(false);
    expect(config.broker).toEqual({ maxKeepAlive: 60, receiveMaximum: 20, topicAliasesToClients: true });
    expect(config.auth.acl).toEqual([{ reasonCode: 0x80, filters: { 'test/nosubscribe': 'deny' } }]);
    expect(config.auth.aclDefault).toBe('readwrite');
  });
});
