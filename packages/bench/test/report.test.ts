import { describe, expect, it } from 'vitest';
import { fanoutOf } from '../src/coordinator.js';
import { OptionError, resolveScenario } from '../src/options.js';
import { CSV_COLUMNS } from '../src/report.js';
import { parseBroker } from '../src/transports.js';

describe('options and topology', () => {
  it('parses broker addresses the way mqtt-stresser does', () => {
    expect(parseBroker(':1883')).toMatchObject({ transport: 'tcp', host: '127.0.0.1', port: 1883 });
    expect(parseBroker('broker.local')).toMatchObject({ transport: 'tcp', host: 'broker.local', port: 1883 });
    expect(parseBroker('ssl://b:8884')).toMatchObject({ transport: 'tls', port: 8884 });
    expect(parseBroker('mqtts://b')).toMatchObject({ transport: 'tls', port: 8883 });
    expect(parseBroker('ws://b:8080')).toMatchObject({ transport: 'ws', path: '/mqtt' });
    expect(parseBroker('wss://b/custom')).toMatchObject({ transport: 'wss', port: 443, path: '/custom' });
    expect(() => parseBroker('http://b')).toThrow(/unsupported broker scheme "http".*expected tcp:\/\//);
    expect(() => parseBroker('notaurl://x')).toThrow(/unsupported broker scheme "notaurl"/);
    expect(() => parseBroker('127.0.0.1:99999')).toThrow(/the port must be 1–65535, got "99999"/);
    expect(() => parseBroker(':0')).toThrow(/the port must be 1–65535/);
    expect(() => parseBroker('tcp://b:12ab')).toThrow(/the port must be 1–65535, got "12ab"/);
    expect(parseBroker('tcp://[::1]:1884')).toMatchObject({ host: '::1', port: 1884 });
  });

  it('refuses a bad broker address or an unreadable TLS file before the run, naming it', () => {
    expect(() => resolveScenario('pub', { broker: 'http://127.0.0.1:1883' })).toThrow(OptionError);
    expect(() => resolveScenario('pub', { broker: ':1', tls: { caFile: '/nonexistent/ca.pem' } })).toThrow(
      /cannot read the CA certificate \(--cafile\) "\/nonexistent\/ca.pem": no such file/,
    );
    expect(() =>
      resolveScenario('pub', {
        broker: ':1',
        tls: { certFile: '/nonexistent/c.pem', keyFile: '/nonexistent/k' },
      }),
    ).toThrow(OptionError);
  });

  it('grows the default global timeout to fit the planned run, and refuses an explicit one that is too short', () => {
    const long = resolveScenario('pub', { broker: ':1', durationMs: 480_000 });
    expect(long.common.globalTimeoutMs).toBe(540_000);
    const paced = resolveScenario('latency', { broker: ':1', rate: 10, numMessages: 1000 });
    expect(paced.common.globalTimeoutMs).toBe(160_000);
    expect(resolveScenario('pub', { broker: ':1', numMessages: 10 }).common.globalTimeoutMs).toBe(60_000);
    expect(resolveScenario('conn', { broker: ':1', holdMs: 90_000 }).common.globalTimeoutMs).toBe(150_000);
    expect(() =>
      resolveScenario('pub', { broker: ':1', durationMs: 480_000, globalTimeoutMs: 60_000 }),
    ).toThrow(/--duration 480 s does not fit in --global-timeout 60 s/);
    // The warm-up is publishing time too.
    expect(resolveScenario('latency', { broker: ':1', durationMs: 30_000 }).common.globalTimeoutMs).toBe(
      91_000,
    );
    expect(() =>
      resolveScenario('latency', { broker: ':1', durationMs: 9_500, globalTimeoutMs: 10_000 }),
    ).toThrow(/--duration 9.5 s after --warmup 1 s does not fit in --global-timeout 10 s/);
    expect(
      resolveScenario('pub', { broker: ':1', durationMs: 5_000, globalTimeoutMs: 10_000 }).common
        .globalTimeoutMs,
    ).toBe(10_000);
  });

  it('fills in mqtt-stresser defaults for stress and checks ranges', () => {
    const s = resolveScenario('stress', { broker: ':1883' });
    expect(s.stress).toMatchObject({ numClients: 10, numMessages: 10, holdLimit: 100 });
    expect(s.common).toMatchObject({
      rampUpSize: 100,
      rampUpDelayMs: 500,
      timeoutMs: 5000,
      globalTimeoutMs: 60_000,
    });
    expect(s.common.topicBase).toBe('internal/mqtt-stresser');
    expect(resolveScenario('pub', { broker: ':1', qos: 2 }).common.subscriberQos).toBe(2);
    expect(() => resolveScenario('pub', { broker: ':1', payloadSize: 10 })).toThrow(OptionError);
    expect(() => resolveScenario('latency', { broker: ':1', rate: 0 })).toThrow(/fixed --rate/);
    // Latency is recorded after a 1 s warm-up by default, unless a message count was asked for.
    expect(resolveScenario('latency', { broker: ':1' }).fleet?.warmupMs).toBe(1000);
    expect(resolveScenario('latency', { broker: ':1', numMessages: 100 }).fleet?.warmupMs).toBe(0);
    expect(resolveScenario('latency', { broker: ':1', warmupMs: 0 }).fleet?.warmupMs).toBe(0);
    expect(resolveScenario('pub', { broker: ':1' }).fleet?.warmupMs).toBe(0);
    expect(() => resolveScenario('latency', { broker: ':1', warmupMs: -1 })).toThrow(/warmup must be/);
    expect(() => resolveScenario('pub', {})).toThrow(/broker address is required/);
  });

  it('works out how many subscribers each publisher reaches', () => {
    // 5 subscribers over 3 topics: topic 0 has subscribers 0 and 3, topic 1 has 1 and 4, topic 2 has 2.
    expect([0, 1, 2, 3].map((i) => fanoutOf(i, 5, 3, false))).toEqual([2, 2, 1, 2]);
    expect(fanoutOf(7, 5, 3, true)).toBe(5);
    expect(fanoutOf(3, 2, 4, false)).toBe(0);
  });

  it('keeps the CSV columns stable', () => {
    expect(CSV_COLUMNS.slice(0, 20)).toEqual([
      'scenario',
      'startedAt',
      'durationMs',
      'stopReason',
      'ok',
      'broker',
      'protocolVersion',
      'publisherQos',
      'subscriberQos',
      'payloadSize',
      'publishers',
      'subscribers',
      'workers',
      'sent',
      'expected',
      'received',
      'lost',
      'duplicated',
      'outOfOrder',
      'unexpected',
    ]);
  });
});
