import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpListener, TlsListener } from '@x/broker';
import { type Client, connect } from '@x/client';
import { freePort, requireServer, until } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_VIA, type BridgeStatus } from '../src/index.js';
import { type BridgedBroker, startBridgedBroker, subscriber } from './helpers.js';

const openssl = requireServer('openssl');
const fast = { initialDelay: 100, maxDelay: 500 };

/** Publishes `n` messages `<tag>-<i>` and waits for every acknowledgement. */
async function publishAll(client: Client, topic: string, tag: string, n: number, qos: 0 | 1 | 2) {
  await Promise.all(Array.from({ length: n }, (_, i) => client.publish(topic, `${tag}-${i}`, { qos })));
}

describe('two of our brokers bridged to each other', () => {
  let a: BridgedBroker;
  let b: BridgedBroker;
  let onA: Client;
  let onB: Client;

  beforeAll(async () => {
    a = await startBridgedBroker({ nodeId: 'node-a' });
    b = await startBridgedBroker({ nodeId: 'node-b' });
    onA = await connect(a.url, { reconnect: false });
    onB = await connect(b.url, { reconnect: false });
  });

  afterAll(async () => {
    await Promise.all([onA?.end(), onB?.end()]);
    await Promise.all([a?.close(), b?.close()]);
  });

  it('A → B and B → A on the same topics: every message once on each side, no loop', async () => {
    const ab = a.bridges.add({
      name: 'to-b',
      url: b.url,
      clientId: 'a-to-b',
      reconnect: fast,
      topics: [{ filter: 'x/#', direction: 'out', qos: 1 }],
    });
    const ba = b.bridges.add({
      name: 'to-a',
      url: a.url,
      clientId: 'b-to-a',
      reconnect: fast,
      topics: [{ filter: 'x/#', direction: 'out', qos: 2 }],
    });
    await until(() => ab.status().connected && ba.status().connected, 10_000, 'both bridges');
    const subA = await subscriber(a.url, 'x/#', 'count-a');
    const subB = await subscriber(b.url, 'x/#', 'count-b');
    const n = 100;
    await Promise.all([publishAll(onA, 'x/from-a', 'a', n, 1), publishAll(onB, 'x/from-b', 'b', n, 2)]);
    await until(
      () => subA.tally.total >= 2 * n && subB.tally.total >= 2 * n,
      15_000,
      'every message on both',
    );
    // A message that looped would have come round by the time both bridges stopped one copy each.
    await until(
      () => ab.status().loopsStopped + ba.status().loopsStopped >= 2 * n,
      15_000,
      'the loops to be cut',
    );
    await onA.publish('x/marker', 'end', { qos: 1 });
    await until(() => subB.tally.seen.has('x/marker|end'), 10_000, 'the marker');
    expect(subA.tally.duplicates()).toEqual([]);
    expect(subB.tally.duplicates()).toEqual([]);
    expect(subA.tally.total).toBe(2 * n + 1);
    expect(subB.tally.total).toBe(2 * n + 1);
    expect(ab.status().forwardedOut).toBe(2 * n + 1); // its own n + 1, and B's n that came in
    expect(ab.status().dropped + ba.status().dropped).toBe(0);
    await Promise.all([subA.client.end(), subB.client.end(), ab.close(), ba.close()]);
  });

  it('one bridge in both directions: no echo, the path property names the broker', async () => {
    const link = a.bridges.add({
      name: 'both',
      url: b.url,
      clientId: 'a-both',
      reconnect: fast,
      topics: [{ filter: 'y/#', direction: 'both', qos: 2, remotePrefix: 'site-a/' }],
    });
    await until(() => link.status().connected, 10_000, 'the bridge');
    const subA = await subscriber(a.url, 'y/#', 'both-a');
    const subB = await subscriber(b.url, 'site-a/y/#', 'both-b');
    let via: string | undefined;
    subB.client.on('message', (m) => {
      via = m.properties?.userProperties?.find(([k]) => k === BRIDGE_VIA)?.[1];
    });
    await publishAll(onA, 'y/1', 'a', 50, 2);
    await publishAll(onB, 'site-a/y/2', 'b', 50, 2);
    await until(() => subA.tally.total >= 100 && subB.tally.total >= 100, 15_000, 'both ways');
    await onA.publish('y/marker', 'end', { qos: 2 });
    await until(() => subB.tally.seen.has('site-a/y/marker|end'), 10_000, 'the marker');
    await until(() => subA.tally.seen.has('y/marker|end'), 10_000, 'the marker here');
    expect(subA.tally.total).toBe(101);
    expect(subB.tally.total).toBe(101);
    expect(subA.tally.seen.has('y/2|b-0')).toBe(true); // prefix taken off on the way in
    expect(via).toBe('node-a');
    await Promise.all([subA.client.end(), subB.client.end(), link.close()]);
  });

  it('speaks MQTT 3.1.1 to the remote, with prefixes keeping the directions apart', async () => {
    const link = a.bridges.add({
      name: 'v3',
      url: b.url,
      protocol: '3.1.1',
      clientId: 'a-v3',
      reconnect: fast,
      topics: [
        { filter: 'z/#', direction: 'out', qos: 1, remotePrefix: 'up/' },
        { filter: 'z/#', direction: 'in', qos: 1, remotePrefix: 'down/' },
      ],
    });
    await until(() => link.status().connected, 10_000, 'the bridge');
    const subA = await subscriber(a.url, 'z/#', 'v3-a');
    const subB = await subscriber(b.url, 'up/#', 'v3-b');
    await publishAll(onA, 'z/out', 'a', 20, 1);
    await publishAll(onB, 'down/z/in', 'b', 20, 1);
    await until(() => subA.tally.total >= 40 && subB.tally.total >= 20, 10_000, 'both ways');
    expect(subB.tally.seen.has('up/z/out|a-0')).toBe(true);
    expect(subA.tally.seen.has('z/in|b-19')).toBe(true);
    expect(subA.tally.duplicates()).toEqual([]);
    await Promise.all([subA.client.end(), subB.client.end(), link.close()]);
  });

  it('reports its state on $SYS and to bridge hooks', async () => {
    const sys = await startBridgedBroker({ nodeId: 'sys', broker: { sysInterval: 100 } });
    const forwarded: string[] = [];
    sys.bridges.addHook({
      onBridgeForwarded: (s: BridgeStatus, direction, topic) =>
        forwarded.push(`${s.name} ${direction} ${topic}`),
    });
    const link = sys.bridges.add({
      name: 'reporting',
      url: b.url,
      reconnect: fast,
      topics: [{ filter: 's/#', direction: 'out', qos: 1 }],
    });
    await until(() => link.status().connected, 10_000, 'the bridge');
    const watcher = await connect(sys.url, { reconnect: false });
    const values = new Map<string, string>();
    watcher.on('message', (m) => values.set(m.topic, m.text()));
    await watcher.subscribe('$SYS/broker/bridges/#');
    await watcher.publish('s/1', 'x', { qos: 1 });
    await until(
      () => values.get('$SYS/broker/bridges/reporting/messages/forwarded/out') === '1',
      10_000,
      '$SYS figures',
    );
    expect(values.get('$SYS/broker/bridges/reporting/state')).toBe('connected');
    expect(values.get('$SYS/broker/bridges/reporting/messages/overruns')).toBe('0');
    expect(forwarded).toEqual(['reporting out s/1']);
    await watcher.end();
    await sys.close();
  });

  it('holds what it cannot forward: up to queueBytes in the bridge, then in its session here, then the publisher waits', async () => {
    const port = await freePort(); // nothing listens there yet
    const c = await startBridgedBroker({
      nodeId: 'bounded',
      broker: { maxQueuedMessages: 30, maxInflight: 10 },
    });
    const link = c.bridges.add({
      name: 'later',
      url: `mqtt://127.0.0.1:${port}`,
      reconnect: fast,
      inflight: 10,
      queueBytes: 2000,
      topics: [{ filter: 'q/#', direction: 'out', qos: 1 }],
    });
    const publisher = await connect(c.url, { reconnect: false });
    // QoS 0 is not kept for a link that is down: counted and logged as dropped.
    await publisher.publish('q/0', 'zero', { qos: 0 });
    await until(() => link.status().dropped === 1, 10_000, 'the QoS 0 drop to be counted');
    const payload = 'p'.repeat(200);
    let acknowledged = 0;
    const sent = Array.from({ length: 60 }, (_, i) =>
      publisher.publish('q/1', `${i}-${payload}`, { qos: 1 }).then(() => acknowledged++),
    );
    // 10 in flight to the bridge (about 2000 bytes: it stops reading there), 30 queued in its
    // session: those 40 are acknowledged to the publisher; the other 20 wait with their PUBACKs.
    await until(() => acknowledged === 40, 10_000, 'the first 40 acknowledgements');
    const held = link.status();
    expect(held.connected).toBe(false);
    expect(held.queued).toBe(40);
    expect(held.queuedBytes).toBeGreaterThan(0);
    expect(held.queuedBytes).toBeLessThanOrEqual(2000 + 250);
    expect(acknowledged).toBe(40);
    const late = await startBridgedBroker({ nodeId: 'late' });
    const sub = await subscriber(late.url, 'q/#', 'late-sub');
    await late.broker.addListener(new TcpListener({ id: 'late-port', host: '127.0.0.1', port }));
    await Promise.all(sent);
    await until(() => sub.tally.total >= 60, 15_000, 'every QoS 1 message after the remote came up');
    expect(sub.tally.total).toBe(60);
    expect(sub.tally.duplicates()).toEqual([]);
    expect(link.status()).toMatchObject({ connected: true, dropped: 1, forwardedOut: 60 });
    await until(() => link.status().queuedBytes === 0, 5000, 'nothing held');
    await Promise.all([sub.client.end(), publisher.end()]);
    await Promise.all([c.close(), late.close()]);
  });

  it.skipIf(openssl.skip)(`connects over TLS (mqtts://) with a CA ${openssl.reason}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-tls-'));
    try {
      const f = (name: string) => join(dir, name);
      execFileSync(
        openssl.path as string,
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '2',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-keyout',
          f('key.pem'),
          '-out',
          f('cert.pem'),
        ],
        { stdio: 'pipe' },
      );
      const tls = new TlsListener({
        host: '127.0.0.1',
        port: 0,
        certFile: f('cert.pem'),
        keyFile: f('key.pem'),
      });
      await b.broker.addListener(tls);
      const link = a.bridges.add({
        name: 'tls',
        url: `mqtts://127.0.0.1:${tls.port}`,
        ca: readFileSync(f('cert.pem'), 'utf8'),
        reconnect: fast,
        topics: [{ filter: 't/#', direction: 'out', qos: 1 }],
      });
      await until(() => link.status().connected, 10_000, 'the TLS bridge');
      const sub = await subscriber(b.url, 't/#', 'tls-sub');
      await onA.publish('t/1', 'secure', { qos: 1 });
      await until(() => sub.tally.total === 1, 10_000, 'the message over TLS');
      await Promise.all([sub.client.end(), link.close()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
