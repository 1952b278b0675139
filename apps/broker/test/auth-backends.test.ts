import { describe, expect, it } from 'vitest';
import { checkFiles } from '../src/config/files.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { printableConfig } from '../src/config/print.js';
import { resolveConfig } from '../src/config/resolve.js';
import { unsafeExposure } from '../src/config/safety.js';

function problems(text: string): string {
  try {
    parseConfig(text, 'broker.yaml', '/etc/mqtt');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('auth backend settings', () => {
  it('reads every backend, resolving key and Mosquitto files against the config folder', () => {
    const config = parseConfig(
      [
        'auth:',
        '  passwordFile: passwd',
        '  aclFile: /etc/mosquitto/acl',
        '  http: { url: "http://127.0.0.1:9000/auth", failMode: open, cache: false, timeoutMs: 500 }',
        '  redis: { url: "redis://127.0.0.1:6379/2", userKey: "u:%u", cache: { maxEntries: 10 } }',
        '  postgres: { url: "postgres://127.0.0.1/db", aclQuery: null }',
        '  jwt: { jwksFile: keys.json, usernameClaim: null, algorithms: [RS256] }',
        '',
      ].join('\n'),
      'broker.yaml',
      '/etc/mqtt',
    );
    expect(config.auth).toEqual({
      passwordFile: '/etc/mqtt/passwd',
      aclFile: '/etc/mosquitto/acl',
      http: { url: 'http://127.0.0.1:9000/auth', failMode: 'open', cache: false, timeoutMs: 500 },
      redis: { url: 'redis://127.0.0.1:6379/2', userKey: 'u:%u', cache: { maxEntries: 10 } },
      postgres: { url: 'postgres://127.0.0.1/db', aclQuery: null },
      jwt: { jwksFile: '/etc/mqtt/keys.json', usernameClaim: null, algorithms: ['RS256'] },
    });
  });

  it('refuses a wrong setting with its line and key, never quoting a URL', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'auth:\n  http: { url: "ftp://x" }\n',
        /^invalid configuration: broker.yaml:2:\d+: auth\.http\.url: url must be a http:\/\/ or https:\/\/ URL$/,
      ],
      ['auth:\n  http: { timeoutMs: 5 }\n', /auth\.http: needs `url`/],
      ['auth:\n  http: { url: "http://x", failMode: shut }\n', /failMode must be one of closed, open, next$/],
      [
        'auth:\n  jwt: { secret: a, jwksFile: b }\n',
        /auth\.jwt: needs exactly one of secret, secretFile, publicKeyFile, jwksFile$/,
      ],
      ['auth:\n  postgres: { userQuery: "SELECT $5" }\n', /userQuery may use \$1 \(user name\)/],
      ['auth:\n  redis: { url: "redis://:pw@h:1", bogus: 1 }\n', /unknown key "bogus" in auth\.redis/],
      ['auth:\n  redis: { url: "http://:pw@h:1" }\n', /url must be a redis:\/\/ or rediss:\/\/ URL$/],
      ['auth:\n  redis: { cache: { ttlMs: 0 } }\n', /auth\.redis\.cache\.ttlMs: ttlMs must be an integer/],
      ['auth:\n  passwordFile: ""\n', /auth\.passwordFile: passwordFile must be a non-empty string/],
    ];
    for (const [yaml, says] of cases) {
      const message = problems(yaml);
      expect(message, yaml).toMatch(says);
      expect(message.split('\n'), yaml).toHaveLength(1);
      expect(message).not.toContain('pw@');
    }
  });

  it('checks that the auth files can be read, naming the flag or the key', () => {
    const flags = { passwordFile: '/nonexistent/passwd' };
    const config = resolveConfig(undefined, flags);
    expect(() => checkFiles(config, flags)).toThrow(
      '--password-file /nonexistent/passwd: cannot read it (no such file)',
    );
    const fromFile = parseConfig('auth:\n  jwt: { publicKeyFile: /nonexistent/k.pem }\n', 'b.yaml');
    expect(() => checkFiles(fromFile, {}, 'b.yaml')).toThrow(
      'b.yaml: auth.jwt.publicKeyFile: cannot read /nonexistent/k.pem (no such file)',
    );
  });

  it('counts a backend or a password file as auth for listeners on other interfaces', () => {
    const config = parseConfig(
      'listeners: [{ type: tcp, host: 0.0.0.0 }]\nauth:\n  passwordFile: /etc/mosquitto/passwd\n',
    );
    expect(resolveConfig(undefined, { tcp: '0.0.0.0:1883' }).auth).toEqual({});
    expect(unsafeExposure(resolveConfig(undefined, { tcp: '0.0.0.0:1883' }), false)).toMatch(/refusing/);
    // server.ts passes `ledger.hasAuthRules || hasAuthSources(config.auth)`.
    expect(unsafeExposure(config, true)).toBeUndefined();
  });

  it('masks every credential in the printed config', () => {
    const config = parseConfig(
      [
        'auth:',
        '  http: { url: "https://u:pw1@auth.example/q", headers: { x-api-key: key2 } }',
        '  redis: { url: "redis://:pw3@127.0.0.1:6379" }',
        '  postgres: { url: "postgres://u:pw4@127.0.0.1/db" }',
        '  jwt: { secret: pw5 }',
        '',
      ].join('\n'),
    );
    const printed = printableConfig(config);
    for (const secret of ['pw1', 'key2', 'pw3', 'pw4', 'pw5']) expect(printed).not.toContain(secret);
    expect(printed).toContain('redis://***@127.0.0.1:6379');
    // The config itself is untouched.
    expect(config.auth.jwt?.secret).toBe('pw5');
  });
});
