import { describe, expect, it } from 'vitest';
import { type ClientOptions, connect } from '../src/index.js';
import { serverEndpoints } from '../src/transports/transport.js';

/** Options are checked before any connection is tried, so these need no server. */
describe('connect() options', () => {
  const refused = (options: Record<string, unknown>) =>
    connect('mqtt://127.0.0.1:1', { reconnect: false, ...options } as ClientOptions);

  it('refuses an unknown option, naming it', async () => {
    await expect(refused({ outgoingStorage: {} })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'unknown option outgoingStorage: see ClientOptions',
    });
  });

  it('suggests the option a different case would match', async () => {
    await expect(refused({ keepAlive: 30 })).rejects.toThrow(
      'unknown option keepAlive: did you mean keepalive?',
    );
    await expect(refused({ clientID: 'a' })).rejects.toThrow('did you mean clientId?');
  });

  it('says where the MQTT.js options without an equivalent name went', async () => {
    await expect(refused({ host: 'example.com' })).rejects.toThrow(
      'unknown option host: give it in the URL or in servers',
    );
    await expect(refused({ customHandleAcks: () => undefined })).rejects.toThrow('use manualAck');
  });

  it('refuses an outgoingStore that is not one (an MQTT.js Store)', async () => {
    const mqttJsStore = { put() {}, get() {}, del() {}, createStream() {}, close() {} };
    await expect(refused({ outgoingStore: mqttJsStore })).rejects.toThrow('an MQTT.js Store has not');
  });

  it('ignores a key whose value is undefined (a spread configuration)', async () => {
    // The options pass; the connection is what fails.
    await expect(refused({ notAnOption: undefined })).rejects.toMatchObject({ code: 'TRANSPORT_ERROR' });
  });
});

describe('serverEndpoints', () => {
  it('puts the URL first, then the servers; objects inherit the URL protocol and path', () => {
    const endpoints = serverEndpoints('ws://a.example:9001/mqtt', [
      { host: 'b.example', port: 9002 },
      'mqtt://c.example',
      { host: '::1', protocol: 'wss' },
      { host: 'd.example', protocol: 'tcp' },
    ]);
    expect(endpoints.map((e) => e.href)).toEqual([
      'ws://a.example:9001/mqtt',
      'ws://b.example:9002/mqtt',
      'mqtt://c.example',
      'wss://[::1]:443/mqtt',
      'mqtt://d.example:1883',
    ]);
    expect(endpoints[3]).toMatchObject({ host: '::1', port: 443, path: '/mqtt' });
  });

  it('works without a URL and refuses bad entries', () => {
    expect(serverEndpoints(undefined, [{ host: 'x', port: 1 }])[0]).toMatchObject({
      protocol: 'mqtt',
      port: 1,
    });
    expect(() => serverEndpoints(undefined, [])).toThrow('no server');
    expect(() => serverEndpoints(undefined, [{ host: 'x', port: 70_000 }])).toThrow('not 1 to 65535');
    expect(() => serverEndpoints(undefined, [{ host: 'x', protocol: 'http' }])).toThrow(
      'unsupported protocol',
    );
    expect(() => serverEndpoints(undefined, [{ port: 1 } as never])).toThrow('has no host');
  });
});
