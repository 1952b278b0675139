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
    expect(() => parseBroker('http://b')).toThrow(/unsupported broker scheme/);
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
