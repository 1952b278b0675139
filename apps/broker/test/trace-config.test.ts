import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';

function problems(text: string): string {
  try {
    parseConfig(text, 'broker.yaml', '/etc/mqtt');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config file: trace', () => {
  it('reads traces by client id and topic filter, resolving a relative file against the config', () => {
    const config = parseConfig(
      [
        'trace:',
        '  - clientId: sensor-1',
        '    maxBytes: 65536',
        '    durationMs: 0',
        '    payloadBytes: 8',
        '    file: traces/sensor-1.jsonl',
        "  - topicFilter: 'alerts/#'",
      ].join('\n'),
      'broker.yaml',
      '/etc/mqtt',
    );
    expect(config.trace).toEqual([
      {
        clientId: 'sensor-1',
        maxBytes: 65536,
        durationMs: 0,
        payloadBytes: 8,
        file: '/etc/mqtt/traces/sensor-1.jsonl',
      },
      { topicFilter: 'alerts/#' },
    ]);
  });

  it('has no traces by default', () => {
    expect(parseConfig('log:\n  level: warn\n').trace).toBeUndefined();
  });

  it('reports each bad trace with its line and path, in the words of the tracer', () => {
    const message = problems(
      [
        'trace:',
        '  - maxBytes: 10',
        "  - topicFilter: 'a/#/b'",
        '  - clientId: x',
        '    maxBytes: 0',
        '  - clientId: y',
        '    color: red',
      ].join('\n'),
    );
    expect(message).toContain('broker.yaml:2:5: trace[0]: give a clientId or a topicFilter');
    expect(message).toContain('trace[1]: topicFilter must be a valid topic filter');
    expect(message).toContain('trace[2]: maxBytes must be an integer from 1 to 67108864');
    expect(message).toContain('unknown key "color" in a trace');
    expect(problems('trace:\n  clientId: x\n')).toContain('trace must be a list');
    expect(problems(`trace:\n${'  - clientId: x\n'.repeat(5)}`)).toContain('at most 4 traces');
  });
});
