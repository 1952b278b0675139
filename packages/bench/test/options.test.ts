import { describe, expect, it } from 'vitest';
import { OptionError, resolveScenario } from '../src/options.js';

describe('source addresses and spread brokers', () => {
  it('turns a count into the loopback addresses 127.0.0.1 … 127.0.0.N', () => {
    const r = resolveScenario('conn', { broker: 'tcp://127.0.0.1:1883', sourceAddresses: 4 });
    expect(r.common.sourceAddresses).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(resolveScenario('conn', { broker: ':1883' }).common.sourceAddresses).toEqual([]);
  });

  it('refuses a count towards a broker that is not on loopback, and a list entry that is not an IP', () => {
    expect(() => resolveScenario('conn', { broker: 'tcp://10.0.0.5:1883', sourceAddresses: 2 })).toThrow(
      /loopback addresses, which cannot reach 10\.0\.0\.5/,
    );
    expect(() => resolveScenario('conn', { broker: ':1883', sourceAddresses: ['10.0.0.1', 'eth0'] })).toThrow(
      OptionError,
    );
    expect(() => resolveScenario('conn', { broker: ':1883', sourceAddresses: 255 })).toThrow(OptionError);
  });

  it('checks every spread broker address', () => {
    const r = resolveScenario('pub', {
      broker: ':1883',
      publisherBrokers: [':1884'],
      subscriberBrokers: [':1885'],
    });
    expect(r.common.publisherBrokers).toEqual([':1884']);
    expect(r.common.subscriberBrokers).toEqual([':1885']);
    expect(() => resolveScenario('pub', { broker: ':1883', subscriberBrokers: ['gopher://x'] })).toThrow(
      /unsupported broker scheme "gopher"/,
    );
  });
});
