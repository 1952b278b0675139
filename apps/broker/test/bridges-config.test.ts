import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { printableConfig } from '../src/config/print.js';

const error = (text: string): string => {
  try {
    parseConfig(text, 'broker.yaml', '/etc/mqtt');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('bridges: in the config file', () => {
  it('reads the example of issue 17, with relative TLS files made absolute', () => {
    const config = parseConfig(
      `
bridges:
  - name: upstream
    url: mqtts://127.0.0.1:1884
    protocol: 5
    clientId: edge-1
    username: edge
    password: hunter2
    ca: certs/ca.pem
    topics:
      - { filter: 'out/#', direction: out, qos: 1 }
      - { filter: 'in/#', direction: in, qos: 1, localPrefix: 'remote/' }
  - name: legacy
    url: mqtt://10.0.0.2
    protocol: 3.1.1
    reconnect: { initialDelay: 500, maxDelay: 10000 }
    queueBytes: 1048576
    receiveMaximumSlack: 0
    topics:
      - { filter: 'a/#', direction: out, remotePrefix: 'up/' }
`,
      'broker.yaml',
      '/etc/mqtt',
    );
    expect(config.bridges).toEqual([
      {
        name: 'upstream',
        url: 'mqtts://127.0.0.1:1884',
        protocol: '5',
        clientId: 'edge-1',
        username: 'edge',
        password: 'hunter2',
        ca: '/etc/mqtt/certs/ca.pem',
        topics: [
          { filter: 'out/#', direction: 'out', qos: 1 },
          { filter: 'in/#', direction: 'in', qos: 1, localPrefix: 'remote/' },
        ],
      },
      {
        name: 'legacy',
        url: 'mqtt://10.0.0.2',
        protocol: '3.1.1',
        reconnect: { initialDelay: 500, maxDelay: 10_000 },
        queueBytes: 1_048_576,
        receiveMaximumSlack: 0,
        topics: [{ filter: 'a/#', direction: 'out', remotePrefix: 'up/' }],
      },
    ]);
    expect(printableConfig(config)).toContain('password: "***"');
    expect(printableConfig(config)).not.toContain('hunter2');
  });

  it.each([
    ['bridges: {}', /bridges: bridges must be a list/],
    [
      'bridges:\n  - { url: "mqtt://h", topics: [{ filter: a, direction: out }] }',
      /bridges\[0\]: a bridge needs `name`/,
    ],
    [
      'bridges:\n  - { name: b, url: "http://h", topics: [{ filter: a, direction: out }] }',
      /bridges\[0\]\.url: url must start with mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\//,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", topics: [] }',
      /bridges\[0\]\.topics: topics must list at least one/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", topics: [{ filter: a, direction: sideways }] }',
      /bridges\[0\]\.topics\[0\]\.direction: direction must be one of in, out, both/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", topics: [{ filter: a, direction: in, qos: 3 }] }',
      /topics\[0\]\.qos: qos must be 0, 1 or 2/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", protocol: 4, topics: [{ filter: a, direction: in }] }',
      /bridges\[0\]\.protocol: protocol must be 5 or 3\.1\.1/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", tls: yes, topics: [{ filter: a, direction: in }] }',
      /unknown key "tls" in a bridge/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", protocol: 3.1.1, topics: [{ filter: "a/#", direction: both }] }',
      /protocol 3\.1\.1 has no No Local/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", topics: [{ filter: a, direction: out }] }\n  - { name: b, url: "mqtt://i", topics: [{ filter: a, direction: out }] }',
      /bridges\[1\]\.name: another bridge is already named "b"/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", queueBytes: 10, topics: [{ filter: a, direction: out }] }',
      /queueBytes must be an integer from 1024/,
    ],
    [
      'bridges:\n  - { name: b, url: "mqtt://h", receiveMaximumSlack: -1, topics: [{ filter: a, direction: out }] }',
      /bridges\[0\]\.receiveMaximumSlack: receiveMaximumSlack must be an integer from 0 to 65535/,
    ],
  ])('refuses %s in one line naming the place', (text, expected) => {
    const message = error(text);
    expect(message).toMatch(expected);
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/^invalid configuration: broker\.yaml:\d+:\d+: /);
  });
});
