import { describe, expect, it } from 'vitest';
import { BridgeError, type BridgeOptions, bridgeOptionIssues, resolveBridgeOptions } from '../src/index.js';
import { mapTopic, routeOf, routesFor } from '../src/topic-map.js';

const base: BridgeOptions = {
  name: 'up',
  url: 'mqtt://127.0.0.1:1884',
  topics: [{ filter: 'out/#', direction: 'out' }],
};
const issues = (o: Partial<BridgeOptions>) =>
  bridgeOptionIssues({ ...base, ...o }).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('bridge options', () => {
  it('accepts the example of the issue and fills in the defaults', () => {
    const resolved = resolveBridgeOptions({
      ...base,
      clientId: 'edge-1',
      topics: [
        { filter: 'out/#', direction: 'out', qos: 1 },
        { filter: 'in/#', direction: 'in', qos: 1, localPrefix: 'remote/' },
      ],
    });
    expect(resolved.protocol).toBe('5');
    expect(resolved.clientId).toBe('edge-1');
    expect(resolved.localClientId).toBe('$bridge/up');
    expect(resolved.queueBytes).toBe(16 * 1024 * 1024);
    expect(resolved.receiveMaximumSlack).toBe(100);
    expect(resolved.topics[1]).toEqual({
      filter: 'in/#',
      direction: 'in',
      qos: 1,
      localPrefix: 'remote/',
      remotePrefix: '',
    });
  });

  it.each([
    [{ name: 'has space' }, 'name: name must be 1 to 64 letters'],
    [{ url: 'not a url' }, 'url: url "not a url" is not a URL'],
    [{ url: 'http://host' }, 'url: url must start with mqtt://, mqtts://, ws://, wss://'],
    [{ ca: 'PEM' }, 'ca: ca needs an mqtts:// or wss:// url'],
    [{ url: 'mqtts://h', cert: 'PEM' }, 'key: give both cert and key, or neither'],
    [{ password: 'secret' }, 'password: password needs a username'],
    [{ topics: [] }, 'topics: topics must list at least one'],
    [
      { receiveMaximumSlack: -1 },
      'receiveMaximumSlack: receiveMaximumSlack must be an integer from 0 to 65535',
    ],
    [
      { receiveMaximumSlack: 2.5 },
      'receiveMaximumSlack: receiveMaximumSlack must be an integer from 0 to 65535',
    ],
    [
      { topics: [{ filter: 'a/#/b', direction: 'in' }] },
      'topics.0.filter: filter "a/#/b" is not a valid topic filter',
    ],
    [
      { topics: [{ filter: '$share/g/a', direction: 'in' }] },
      'topics.0.filter: filter "$share/g/a" is not a valid topic filter (shared ones',
    ],
    [
      { topics: [{ filter: 'a', direction: 'in', localPrefix: 'x/+/' }] },
      'topics.0.localPrefix: localPrefix "x/+/" must be non-empty with no wildcards',
    ],
  ] as [Partial<BridgeOptions>, string][])('refuses %j', (options, message) => {
    const found = issues(options);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toContain(message);
  });

  it('receiveMaximumSlack: inflight by default; 0 (strict) and other values as given', () => {
    const slack = (o: Partial<BridgeOptions>) => resolveBridgeOptions({ ...base, ...o }).receiveMaximumSlack;
    expect(slack({ inflight: 1000 })).toBe(1000);
    expect(slack({ inflight: 15 })).toBe(15);
    expect(slack({ inflight: 100, receiveMaximumSlack: 0 })).toBe(0);
    expect(slack({ receiveMaximumSlack: 3 })).toBe(3);
  });

  it('refuses a v3.1.1 link whose in subscription would receive its own out messages back', () => {
    const echo = issues({ protocol: '3.1.1', topics: [{ filter: 'a/#', direction: 'both' }] });
    expect(echo[0]).toMatch(
      /^topics\.0: protocol 3\.1\.1 has no No Local: the remote subscription "a\/#" overlaps/,
    );
    expect(
      issues({
        protocol: '3.1.1',
        topics: [
          { filter: 'a/#', direction: 'out', remotePrefix: 'up/' },
          { filter: 'a/#', direction: 'in', remotePrefix: 'down/' },
        ],
      }),
    ).toEqual([]);
    expect(issues({ protocol: '5', topics: [{ filter: 'a/#', direction: 'both' }] })).toEqual([]);
  });

  it('throws a typed error naming the bridge and the option', () => {
    expect(() => resolveBridgeOptions({ ...base, url: 'ftp://x' })).toThrow(BridgeError);
    expect(() => resolveBridgeOptions({ ...base, url: 'ftp://x' })).toThrow(
      /bridge "up" url: url must start with/,
    );
  });
});

describe('topic mapping', () => {
  const topics = resolveBridgeOptions({
    ...base,
    topics: [
      { filter: 'sensors/#', direction: 'both', qos: 1, localPrefix: 'site/', remotePrefix: 'cloud/site-1/' },
      { filter: 'sensors/temp', direction: 'out', qos: 2 },
      { filter: 'cmd/+', direction: 'in', localPrefix: 'remote/' },
    ],
  }).topics;

  it('swaps the prefixes both ways', () => {
    const out = routesFor(topics, 'out');
    const into = routesFor(topics, 'in');
    expect(out.map((r) => r.from)).toEqual(['site/sensors/#', 'sensors/temp']);
    expect(into.map((r) => r.from)).toEqual(['cloud/site-1/sensors/#', 'cmd/+']);
    expect(mapTopic(routeOf(out, 'site/sensors/a', undefined)!, 'site/sensors/a')).toBe(
      'cloud/site-1/sensors/a',
    );
    expect(mapTopic(routeOf(into, 'cloud/site-1/sensors/b', undefined)!, 'cloud/site-1/sensors/b')).toBe(
      'site/sensors/b',
    );
    expect(mapTopic(routeOf(into, 'cmd/reboot', undefined)!, 'cmd/reboot')).toBe('remote/cmd/reboot');
    expect(routeOf(out, 'other', undefined)).toBeUndefined();
  });

  it('forwards one copy when the server sends one per overlapping subscription', () => {
    const routes = routesFor(
      resolveBridgeOptions({
        ...base,
        topics: [
          { filter: 'a/#', direction: 'out' },
          { filter: 'a/b', direction: 'out' },
        ],
      }).topics,
      'out',
    );
    expect(routeOf(routes, 'a/b', [1, 2])?.id).toBe(1);
    expect(routeOf(routes, 'a/b', [1])?.id).toBe(1);
    expect(routeOf(routes, 'a/b', [2])).toBeUndefined();
  });
});
