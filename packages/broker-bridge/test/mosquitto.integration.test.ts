import { type Client, connect } from '@x/client';
import { requireServer, until } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge, BridgeStatus } from '../src/index.js';
import { type BridgedBroker, PersistentMosquitto, startBridgedBroker, subscriber } from './helpers.js';

requireServer('mosquitto');

const keys = (topic: (i: number) => string, n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `${topic(i)}|${tag}-${i}`);

describe('a bridge to a real Mosquitto', () => {
  let mosquitto: PersistentMosquitto;
  let ours: BridgedBroker;
  let bridge: Bridge;
  let local: Client;
  let remote: Client;
  const events: string[] = [];

  beforeAll(async () => {
    mosquitto = await PersistentMosquitto.start();
    ours = await startBridgedBroker({ nodeId: 'ours' });
    ours.bridges.addHook({
      onBridgeConnected: (s: BridgeStatus) => events.push(`connected ${s.name}`),
      onBridgeDisconnected: (s: BridgeStatus) => events.push(`disconnected ${s.name}`),
    });
    bridge = ours.bridges.add({
      name: 'mosq',
      url: mosquitto.url,
      clientId: 'bridge-under-test',
      reconnect: { initialDelay: 100, maxDelay: 500 },
      topics: [
        { filter: 'out/#', direction: 'out', qos: 2, remotePrefix: 'edge/' },
        { filter: 'in/#', direction: 'in', qos: 2, localPrefix: 'remote/' },
      ],
    });
    await until(() => bridge.status().connected, 10_000, 'the bridge to connect');
    local = await connect(ours.url, { reconnect: false });
    remote = await connect(mosquitto.url, { reconnect: { initialDelay: 100, maxDelay: 500 } });
  });

  afterAll(async () => {
    await Promise.all([local?.end(), remote?.end()]);
    await ours?.close();
    await mosquitto?.stop();
  });

  it('forwards out, with the prefix, QoS 0/1/2 each exactly once', async () => {
    const sub = await subscriber(mosquitto.url, 'edge/out/#', 'counter-out');
    const n = 200;
    const expected: string[] = [];
    const sent: Promise<unknown>[] = [];
    for (const qos of [0, 1, 2] as const) {
      expected.push(...keys(() => `edge/out/q${qos}`, n, `o${qos}`));
      for (let i = 0; i < n; i++) sent.push(local.publish(`out/q${qos}`, `o${qos}-${i}`, { qos }));
    }
    await Promise.all(sent);
    await until(() => sub.tally.total >= 3 * n, 15_000, 'every message on Mosquitto');
    expect(sub.tally.missing(expected)).toEqual([]);
    expect(sub.tally.duplicates()).toEqual([]);
    expect(sub.tally.total).toBe(3 * n);
    // The remote's acknowledgements may arrive after its subscriber has the messages.
    await until(() => bridge.status().forwardedOut >= 3 * n, 10_000, 'the last acknowledgements');
    const status = bridge.status();
    expect(status.forwardedOut).toBe(3 * n);
    expect(status.dropped).toBe(0);
    await sub.client.end();
  });

  // Mosquitto 2.0.11 under a burst often sends PUBLISH packets past the Receive Maximum the bridge
  // announced (eclipse/mosquitto#2301; up to 100 past 100 measured here). A strict link drops (0x93)
  // and reconnects, and Mosquitto re-sends its window with DUP on the resumed session; the bridge's
  // receiveMaximumSlack (default: inflight) takes them instead, counted, and the link stays up.
  it('forwards in, with the local prefix, QoS 0/1/2 each exactly once, without the link dropping', async () => {
    const sub = await subscriber(ours.url, 'remote/in/#', 'counter-in');
    const n = 200;
    const expected: string[] = [];
    const sent: Promise<unknown>[] = [];
    const before = bridge.status().forwardedIn;
    const drops = () => events.filter((e) => e === 'disconnected mosq').length;
    const dropsBefore = drops();
    for (const qos of [0, 1, 2] as const) {
      expected.push(...keys(() => `remote/in/q${qos}`, n, `i${qos}`));
      for (let i = 0; i < n; i++) sent.push(remote.publish(`in/q${qos}`, `i${qos}-${i}`, { qos }));
    }
    await Promise.all(sent);
    // Every distinct message, not every delivery: a duplicate must not stand in for a missing one
    // (it did, and a QoS 1 duplicate was reported as QoS 2 messages missing). On a timeout the
    // assertions below name what is missing.
    await until(() => sub.tally.seen.size >= 3 * n, 15_000, 'every message on our broker').catch(() => {});
    expect(sub.tally.missing(expected)).toEqual([]);
    expect(sub.tally.duplicates()).toEqual([]);
    expect(sub.tally.total).toBe(3 * n);
    await until(() => bridge.status().forwardedIn - before >= 3 * n, 10_000, 'the count');
    expect(bridge.status().forwardedIn - before).toBe(3 * n);
    // Overshoots within the slack are counted in the status (how many depends on Mosquitto's timing).
    const { receiveMaximumOverruns: overruns, receiveMaximumOverrunPeak: peak } = bridge.status();
    expect(
      drops() - dropsBefore,
      `remote link drops during the burst (${overruns} overruns taken, at most ${peak} at a time)`,
    ).toBe(0);
    expect(peak).toBeLessThanOrEqual(bridge.options.receiveMaximumSlack);
    await sub.client.end();
  });

  it('does not echo what it forwards out back in (v5 No Local on the remote)', async () => {
    const echo = ours.bridges.add({
      name: 'both',
      url: mosquitto.url,
      clientId: 'bridge-both',
      reconnect: { initialDelay: 100, maxDelay: 500 },
      topics: [{ filter: 'echo/#', direction: 'both', qos: 1 }],
    });
    await until(() => echo.status().connected, 10_000, 'the second bridge');
    const here = await subscriber(ours.url, 'echo/#', 'echo-here');
    const there = await subscriber(mosquitto.url, 'echo/#', 'echo-there');
    await local.publish('echo/a', 'from-ours', { qos: 1 });
    await remote.publish('echo/b', 'from-mosquitto', { qos: 1 });
    await until(() => here.tally.total >= 2 && there.tally.total >= 2, 10_000, 'both messages on both sides');
    // Anything that looped would arrive a while after: give it the time a round trip takes, many times over.
    await local.publish('echo/marker', 'last', { qos: 1 });
    await until(() => there.tally.seen.has('echo/marker|last'), 10_000, 'the marker');
    await until(() => here.tally.seen.has('echo/marker|last'), 10_000, 'the marker here');
    expect(here.tally.total).toBe(3);
    expect(there.tally.total).toBe(3);
    await Promise.all([here.client.end(), there.client.end(), echo.close()]);
  });

  it('loses nothing at QoS 1/2 in either direction while Mosquitto restarts mid-stream', async () => {
    const outSub = await subscriber(mosquitto.url, 'edge/out/restart/#', 'restart-out');
    const inSub = await subscriber(ours.url, 'remote/in/restart/#', 'restart-in');
    const publisher = await connect(mosquitto.url, {
      clientId: 'restart-publisher',
      clean: false,
      sessionExpiryInterval: 3600,
      reconnect: { initialDelay: 100, maxDelay: 500 },
      operationTimeout: Number.POSITIVE_INFINITY,
    });
    const n = 300;
    const expectedOut = [
      ...keys(() => 'edge/out/restart/q1', n, 'r1'),
      ...keys(() => 'edge/out/restart/q2', n, 'r2'),
    ];
    const expectedIn = [
      ...keys(() => 'remote/in/restart/q1', n, 's1'),
      ...keys(() => 'remote/in/restart/q2', n, 's2'),
    ];
    const sent: Promise<unknown>[] = [];
    const publishBatch = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        for (const qos of [1, 2] as const) {
          sent.push(local.publish(`out/restart/q${qos}`, `r${qos}-${i}`, { qos }));
          sent.push(publisher.publish(`in/restart/q${qos}`, `s${qos}-${i}`, { qos }));
        }
      }
    };
    const disconnectsBefore = events.filter((e) => e === 'disconnected mosq').length;
    publishBatch(0, n / 3);
    await until(() => outSub.tally.total > 0 && inSub.tally.total > 0, 10_000, 'the stream to flow');
    await mosquitto.pause();
    publishBatch(n / 3, (2 * n) / 3); // while Mosquitto is down: held in the sessions here
    await until(() => !bridge.status().connected, 10_000, 'the bridge to notice');
    // Not acknowledged here while the remote cannot have them: they wait in the bridge's session.
    await until(() => bridge.status().queued > 0, 10_000, 'messages held for the remote');
    await mosquitto.resume();
    publishBatch((2 * n) / 3, n);
    await Promise.all(sent);
    await until(
      () => outSub.tally.seen.size >= 2 * n && inSub.tally.seen.size >= 2 * n,
      30_000,
      'every message after the restart',
    );
    expect(outSub.tally.missing(expectedOut)).toEqual([]);
    expect(inSub.tally.missing(expectedIn)).toEqual([]);
    // QoS 2 exactly once; QoS 1 at least once (a PUBACK lost in the restart means a re-send).
    expect(outSub.tally.duplicates().filter((k) => k.includes('/q2|'))).toEqual([]);
    expect(inSub.tally.duplicates().filter((k) => k.includes('/q2|'))).toEqual([]);
    expect(events.filter((e) => e === 'disconnected mosq').length).toBeGreaterThan(disconnectsBefore);
    expect(bridge.status().connected).toBe(true);
    expect(bridge.status().dropped).toBe(0);
    await Promise.all([outSub.client.end(), inSub.client.end(), publisher.end()]);
  });
});
