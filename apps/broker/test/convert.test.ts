import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { ConvertError, convertMosquittoConf } from '../src/convert/mosquitto-conf.js';

const convert = (text: string) => convertMosquittoConf(text, 'mosquitto.conf');
const why = (text: string) => convert(text).notes.map((n) => `${n.line}: ${n.text}: ${n.why}`);

describe('mqtt-broker convert', () => {
  it('keeps Mosquitto 2’s local-only default when no listener is given', () => {
    const { config, notes } = convert('# nothing but comments\n\n');
    expect(config).toEqual({
      listeners: [{ type: 'tcp', host: '127.0.0.1', port: 1883 }],
      http: false,
      storage: { type: 'memory' },
    });
    expect(notes).toEqual([]);
  });

  it('maps port/bind_address, listeners on every interface, Unix sockets and TLS client certificates', () => {
    const { config } = convert(
      [
        'port 1884',
        'bind_address 10.0.0.5',
        'listener 8883',
        'certfile /c.pem',
        'keyfile /k.pem',
        'cafile /ca.pem',
        'require_certificate true',
        'use_identity_as_username true',
        'listener 0 /run/mqtt.sock',
        'listener 8884 ::1',
        'protocol websockets',
        'certfile /c.pem',
        'keyfile /k.pem',
        'password_file /etc/mosquitto/passwd',
      ].join('\n'),
    );
    expect(config.listeners).toEqual([
      { type: 'tcp', host: '10.0.0.5', port: 1884 },
      {
        type: 'tls',
        host: '0.0.0.0',
        port: 8883,
        cert: '/c.pem',
        key: '/k.pem',
        ca: '/ca.pem',
        requestCert: true,
        cnAsUsername: true,
      },
      { type: 'unix', path: '/run/mqtt.sock' },
      { type: 'wss', host: '::1', port: 8884, path: '/mqtt', cert: '/c.pem', key: '/k.pem' },
    ]);
    // Mosquitto 2 refuses anonymous clients once listeners are configured.
    expect(config.auth).toEqual({ allowAnonymous: false, passwordFile: '/etc/mosquitto/passwd' });
    // What comes out is a config the broker reads.
    expect(() => parseConfig(stringify(config))).not.toThrow();
  });

  it('keeps "no limit" settings at this broker’s bounded defaults, and says so', () => {
    const { config } = convert('max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n');
    expect(config.broker).toBeUndefined();
    expect(why('max_queued_messages 0\nmax_keepalive abc\npersistent_client_expiration 3x\n')).toEqual([
      '1: max_queued_messages 0: no limit here: this broker’s default applies',
      '2: max_keepalive abc: expected a whole number',
      '3: persistent_client_expiration 3x: expected a duration like 2h, 14d, 1w, 1m, 1y',
    ]);
  });

  it('uses one auth setup for all listeners and names the per-listener ones it could not keep', () => {
    const text = [
      'per_listener_settings true',
      'listener 1883',
      'password_file /a',
      'listener 1884',
      'password_file /b',
    ].join('\n');
    expect(convert(text).config.auth).toEqual({ allowAnonymous: false, passwordFile: '/a' });
    expect(why(text)).toEqual([
      '5: password_file /b: per_listener_settings: this broker has one auth setup for every listener; the first listener’s is used',
    ]);
  });

  it('lists listener settings without a listener and a TLS listener missing its key', () => {
    expect(why('certfile /c.pem\nlistener 8883\ncertfile /c.pem\n')).toEqual([
      '1: certfile /c.pem: belongs to a listener, and none comes before it',
      '3: certfile /c.pem: TLS needs both certfile and keyfile: listener skipped',
    ]);
  });

  it('follows include_dir (its *.conf files in order), and refuses a file included twice', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convert-'));
    try {
      mkdirSync(join(dir, 'd'));
      writeFileSync(join(dir, 'd', 'b.conf'), 'max_qos 1\n');
      writeFileSync(join(dir, 'd', 'a.conf'), 'retain_available false\n');
      writeFileSync(join(dir, 'd', 'skip.txt'), 'max_qos 0\n');
      const { config } = convert(`include_dir ${join(dir, 'd')}\n`);
      expect(config.broker).toEqual({ retainAvailable: false, maximumQoS: 1 });
      expect(() => convert(`include_dir ${join(dir, 'd')}\ninclude_dir ${join(dir, 'd')}\n`)).toThrow(
        ConvertError,
      );
      expect(why('include_dir /nonexistent/d\n')).toEqual([
        '1: include_dir /nonexistent/d: cannot read the directory (ENOENT)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
