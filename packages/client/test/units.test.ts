import { describe, expect, it } from 'vitest';
import { AckQueue } from '../src/ack-queue.js';
import { parseEndpoint } from '../src/transports/transport.js';

describe('parseEndpoint', () => {
  it.each([
    ['mqtt://example.com', { protocol: 'mqtt', host: 'example.com', port: 1883 }],
    ['tcp://10.0.0.1:1884', { protocol: 'mqtt', host: '10.0.0.1', port: 1884 }],
    ['mqtts://example.com', { protocol: 'mqtts', port: 8883 }],
    ['ws://localhost:9001/mqtt?x=1', { protocol: 'ws', port: 9001, path: '/mqtt?x=1' }],
    ['wss://example.com/mqtt', { protocol: 'wss', port: 443, path: '/mqtt' }],
    ['mqtt://[::1]:1883', { host: '::1', port: 1883 }],
    ['/run/mosquitto.sock', { protocol: 'unix', path: '/run/mosquitto.sock' }],
    ['unix:///tmp/a%20b.sock', { protocol: 'unix', path: '/tmp/a b.sock' }],
  ])('%s', (url, expected) => {
    expect(parseEndpoint(url)).toMatchObject(expected);
  });

  it('rejects unknown schemes and garbage', () => {
    expect(() => parseEndpoint('http://x')).toThrow(/unsupported URL scheme/);
    expect(() => parseEndpoint('not a url')).toThrow(/invalid broker URL/);
  });
});

describe('AckQueue', () => {
  it('acknowledges in arrival order even when handlers finish out of order', () => {
    const sent: number[] = [];
    const q = new AckQueue((t) => {
      sent.push(t.packetId);
      return true;
    });
    const a = q.add(1, 1);
    const b = q.add(2, 2);
    const c = q.add(3, 1);
    c.release();
    b.release();
    expect(sent).toEqual([]);
    expect(q.size).toBe(3);
    a.release();
    expect(sent).toEqual([1, 2, 3]);
    expect(q.size).toBe(0);
  });

  it('waits for every hold, ack() overrides, and offline acks wait for the connection', () => {
    let online = false;
    const sent: number[] = [];
    const q = new AckQueue((t) => {
      if (!online) return false;
      sent.push(t.packetId);
      return true;
    });
    const a = q.add(7, 1);
    a.holds++;
    a.release();
    expect(a.done).toBe(false);
    a.release();
    expect(a.done).toBe(true);
    const b = q.add(8, 1);
    b.holds += 5;
    b.complete();
    expect(sent).toEqual([]);
    online = true;
    q.flush();
    expect(sent).toEqual([7, 8]);
  });

  it('forgets tickets of a lost session', () => {
    const sent: number[] = [];
    const q = new AckQueue((t) => {
      sent.push(t.packetId);
      return true;
    });
    const a = q.add(1, 1);
    q.clear();
    a.release();
    expect(sent).toEqual([]);
    expect(q.has(1)).toBe(false);
  });
});
