import { describe, expect, it } from 'vitest';
import {
  BrokerListError,
  brokerTargets,
  collect,
  collectPid,
  isComparison,
  parseBrokerArg,
  parseBrokersFile,
} from '../src/brokers.js';

describe('--broker values', () => {
  it('collects repeated flags in order', () => {
    expect(collect('b', collect('a', undefined))).toEqual(['a', 'b']);
    expect(collectPid('7', collectPid('42', undefined))).toEqual([42, 7]);
    expect(() => collectPid('x', undefined)).toThrow(/"x" is not a process id/);
    expect(() => collectPid('0', undefined)).toThrow(/not a process id/);
  });

  it('takes NAME=URL as a named broker and anything else as an address', () => {
    expect(parseBrokerArg('mosquitto=tcp://127.0.0.1:1883')).toEqual({
      name: 'mosquitto',
      url: 'tcp://127.0.0.1:1883',
    });
    expect(parseBrokerArg('tcp://127.0.0.1:1883')).toEqual({ url: 'tcp://127.0.0.1:1883' });
    expect(parseBrokerArg(':1883')).toEqual({ url: ':1883' });
  });
});

describe('brokers file', () => {
  it('reads a YAML list of { name, url, pid }', () => {
    const yaml = '- name: ours\n  url: tcp://127.0.0.1:1883\n  pid: 1234\n- url: tcp://127.0.0.1:1884\n';
    expect(parseBrokersFile(yaml, 'b.yaml')).toEqual([
      { name: 'ours', url: 'tcp://127.0.0.1:1883', pid: 1234 },
      { name: 'tcp://127.0.0.1:1884', url: 'tcp://127.0.0.1:1884' },
    ]);
  });

  it('reads JSON, also under a brokers key', () => {
    const json = JSON.stringify({ brokers: [{ name: 'm', url: ':1883' }] });
    expect(parseBrokersFile(json, 'b.json')).toEqual([{ name: 'm', url: ':1883' }]);
  });

  it('names the file and the entry in every problem', () => {
    expect(() => parseBrokersFile('name: x', 'b.yaml')).toThrow('b.yaml: expected a list of brokers');
    expect(() => parseBrokersFile('[]', 'b.yaml')).toThrow('b.yaml: expected a list of brokers');
    expect(() => parseBrokersFile('- name: x\n', 'b.yaml')).toThrow('b.yaml: broker 1: url is required');
    expect(() => parseBrokersFile('- url: ":1"\n  host: x\n', 'b.yaml')).toThrow(
      'b.yaml: broker 1: unknown key host',
    );
    expect(() => parseBrokersFile('- url: ":1"\n- url: ":2"\n  pid: abc\n', 'b.yaml')).toThrow(
      'b.yaml: broker 2: pid must be a process id, got "abc"',
    );
    expect(() => parseBrokersFile('- [', 'b.yaml')).toThrow(BrokerListError);
  });
});

describe('brokerTargets', () => {
  it('puts --broker values first, then the file, and matches --broker-pid in order', () => {
    const targets = brokerTargets(
      { broker: ['ours=:1883', ':1884'], brokers: 'b.yaml', brokerPid: [11, 22] },
      () => '- name: aedes\n  url: ":1885"\n  pid: 33\n',
    );
    expect(targets).toEqual([
      { name: 'ours', url: ':1883', pid: 11 },
      { name: ':1884', url: ':1884', pid: 22 },
      { name: 'aedes', url: ':1885', pid: 33 },
    ]);
  });

  it('numbers a repeated address so a broker can be compared with itself', () => {
    expect(brokerTargets({ broker: [':1883', ':1883'] }).map((t) => t.name)).toEqual([':1883', ':1883#2']);
  });

  it('refuses more pids than brokers and a missing file with one line each', () => {
    expect(() => brokerTargets({ broker: [':1883'], brokerPid: [1, 2] })).toThrow(
      '2 --broker-pid values for 1 broker(s): give one per broker, in order',
    );
    expect(() =>
      brokerTargets({ brokers: 'nope.yaml' }, () => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }),
    ).toThrow('nope.yaml: no such file');
  });

  it('is a comparison with several brokers, a file, rounds or a pid; one broker alone is a single run', () => {
    expect(isComparison({ broker: [':1883'] })).toBe(false);
    expect(isComparison({ broker: [':1883', ':1884'] })).toBe(true);
    expect(isComparison({ broker: [':1883'], rounds: 3 })).toBe(true);
    expect(isComparison({ broker: [':1883'], brokerPid: [5] })).toBe(true);
    expect(isComparison({ brokers: 'b.yaml' })).toBe(true);
  });
});
