import type { Will } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { NEVER_EXPIRES } from '../src/session.js';
import { connectPeer, makeContext, message, subscribePeer } from './context-fixture.js';

const will = (delay?: number): Will => ({
  topic: 'wills/unit',
  payload: Buffer.from('gone'),
  qos: 0,
  retain: false,
  ...(delay === undefined ? {} : { properties: { willDelayInterval: delay } }),
});

describe('SessionRegistry.attach', () => {
  it('a new client id gets a new session, Session Present 0 [MQTT-3.2.2-2]', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'new-1', { clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(peer.connack.sessionPresent).toBe(false);
    const session = ctx.sessions.get('new-1')!;
    expect(session.client).toBe(peer.client);
    expect(peer.client.session).toBe(session);
    expect(session.expiryInterval).toBe(60);
    expect(ctx.sessions.connected('new-1')).toBe(peer.client);
  });

  it('Clean Start 0 resumes the offline session: same object, Session Present 1, expiry cancelled [MQTT-3.1.2-5]', async () => {
    const { ctx } = makeContext();
    const first = await connectPeer(ctx, 'resume-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await subscribePeer(first, 'resume/#', 1);
    const session = ctx.sessions.get('resume-1')!;
    await first.close();
    expect(session.client).toBeUndefined();
    expect(session.expiresAt).toBeGreaterThan(Date.now());
    const second = await connectPeer(ctx, 'resume-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    expect(second.connack.sessionPresent).toBe(true);
    expect(ctx.sessions.get('resume-1')).toBe(session);
    expect(session.client).toBe(second.client);
    expect(session.expiresAt).toBe(0);
    expect(session.subscriptions.has('resume/#')).toBe(true);
  });

  it('Clean Start 1 ends the old session: new object, its subscriptions gone, Session Present 0 [MQTT-3.1.2-4]', async () => {
    const { ctx } = makeContext();
    const first = await connectPeer(ctx, 'clean-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await subscribePeer(first, 'clean/#', 1);
    const old = ctx.sessions.get('clean-1')!;
    await first.close();
    expect(ctx.subscriptions.size).toBe(1);
    const second = await connectPeer(ctx, 'clean-1', { clean: true });
    expect(second.connack.sessionPresent).toBe(false);
    expect(ctx.sessions.get('clean-1')).not.toBe(old);
    expect(ctx.subscriptions.size).toBe(0);
    expect(ctx.router.route(message('clean/x', 'p', 1), undefined)).toBe(0);
  });

  it('a second connection with the same id takes the session over: the first gets DISCONNECT 0x8E [MQTT-3.1.4-3]', async () => {
    const { ctx } = makeContext();
    const first = await connectPeer(ctx, 'take-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    const session = ctx.sessions.get('take-1')!;
    const second = await connectPeer(ctx, 'take-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await first.settle();
    expect(first.received.at(-1)).toMatchObject({ type: 'disconnect', reasonCode: 0x8e });
    expect(first.client.state).toBe('closed');
    expect(second.connack.sessionPresent).toBe(true);
    expect(ctx.sessions.get('take-1')).toBe(session);
    expect(session.client).toBe(second.client);
    // The old connection's close does not take the session from the new one.
    expect(ctx.sessions.connected('take-1')).toBe(second.client);
  });

  it('calls takeOver with the old connection and nothing else', async () => {
    const { ctx } = makeContext();
    const first = await connectPeer(ctx, 'take-2');
    const seen: unknown[] = [];
    const second = await connectPeer(ctx, 'other-2');
    second.client.id = 'take-2';
    const { present } = ctx.sessions.attach(second.client, true, 5, (old) => seen.push(old));
    expect(seen).toEqual([first.client]);
    expect(present).toBe(false);
    expect(ctx.sessions.get('take-2')!.client).toBe(second.client);
  });
});

describe('SessionRegistry.detach', () => {
  it('a will without delay is published at once, and a session with expiry 0 ends [MQTT-3.1.2-8]', async () => {
    const { ctx, wills } = makeContext();
    const peer = await connectPeer(ctx, 'will-now', { will: will() });
    expect(ctx.sessions.detach(peer.client)).toBe(true);
    expect(wills.map((w) => w.clientId)).toEqual(['will-now']);
    expect(ctx.sessions.has('will-now')).toBe(false);
    // A second detach of the same connection changes nothing.
    expect(ctx.sessions.detach(peer.client)).toBe(false);
    expect(wills.length).toBe(1);
  });

  it('a delayed will waits (pendingWill, willDueAt) and the expiry is scheduled [MQTT-3.1.3-9]', async () => {
    const { ctx, wills } = makeContext();
    const peer = await connectPeer(ctx, 'will-later', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will(30),
    });
    const before = Date.now();
    expect(ctx.sessions.detach(peer.client)).toBe(false);
    const after = Date.now();
    const session = ctx.sessions.get('will-later')!;
    expect(wills).toEqual([]);
    expect(session.pendingWill?.topic).toBe('wills/unit');
    expect(session.willDueAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(session.willDueAt).toBeLessThanOrEqual(after + 30_000);
    expect(session.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(session.expiresAt).toBeLessThanOrEqual(after + 60_000);
    expect(session.will).toBeUndefined();
  });

  it('a will delay longer than the session expiry is cut to the expiry', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'will-cut', {
      clean: false,
      properties: { sessionExpiryInterval: 5 },
      will: will(100),
    });
    ctx.sessions.detach(peer.client);
    const session = ctx.sessions.get('will-cut')!;
    expect(session.willDueAt).toBe(session.expiresAt);
  });

  it('a session that never expires gets no expiry time and stays', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'forever', {
      clean: false,
      properties: { sessionExpiryInterval: NEVER_EXPIRES },
    });
    expect(ctx.sessions.detach(peer.client)).toBe(false);
    const session = ctx.sessions.get('forever')!;
    expect(session.expiresAt).toBe(0);
    ctx.sessions.sweep(Date.now() + 365 * 86_400_000);
    expect(ctx.sessions.has('forever')).toBe(true);
  });

  it('a DISCONNECT 0x00 removes the will: nothing is published on close [MQTT-3.1.2-10]', async () => {
    const { ctx, wills } = makeContext();
    const peer = await connectPeer(ctx, 'no-will', { will: will() });
    peer.send({ type: 'disconnect', reasonCode: 0 });
    await peer.settle();
    expect(peer.client.state).toBe('closed');
    expect(wills).toEqual([]);
    expect(ctx.sessions.has('no-will')).toBe(false);
  });
});

describe('SessionRegistry.sweep', () => {
  it('publishes a will when due and ends the session at its expiry, reporting onClientExpired', async () => {
    const { ctx, wills } = makeContext();
    const expired: string[] = [];
    ctx.hooks.add({ onClientExpired: (id) => expired.push(id) });
    const peer = await connectPeer(ctx, 'sweep-1', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will(10),
    });
    await subscribePeer(peer, 'sweep/#', 1);
    ctx.sessions.detach(peer.client);
    const session = ctx.sessions.get('sweep-1')!;
    ctx.router.route(message('sweep/a', 'queued', 1), undefined);
    expect(session.queue.length).toBe(1);

    ctx.sessions.sweep(session.willDueAt - 1);
    expect(wills).toEqual([]);
    ctx.sessions.sweep(session.willDueAt);
    expect(wills.map((w) => w.clientId)).toEqual(['sweep-1']);
    expect(session.pendingWill).toBeUndefined();
    expect(ctx.sessions.has('sweep-1')).toBe(true);

    ctx.sessions.sweep(session.expiresAt - 1);
    expect(ctx.sessions.has('sweep-1')).toBe(true);
    ctx.sessions.sweep(session.expiresAt);
    expect(ctx.sessions.has('sweep-1')).toBe(false);
    expect(expired).toEqual(['sweep-1']);
    expect(session.queue.length).toBe(0);
    expect(session.queuedBytes).toBe(0);
    expect(ctx.subscriptions.size).toBe(0);
    // Published once only.
    ctx.sessions.sweep(session.expiresAt + 60_000);
    expect(wills.length).toBe(1);
  });

  it('a session ending before its will is due publishes the will then', async () => {
    const { ctx, wills } = makeContext();
    const peer = await connectPeer(ctx, 'sweep-2', {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will(30),
    });
    ctx.sessions.detach(peer.client);
    ctx.sessions.end(ctx.sessions.get('sweep-2')!);
    expect(wills.map((w) => w.clientId)).toEqual(['sweep-2']);
    expect(ctx.sessions.has('sweep-2')).toBe(false);
  });
});

describe('SessionRegistry.restore', () => {
  it('an expired stored session with nothing owed is not restored', () => {
    const { ctx } = makeContext();
    const now = Date.now();
    expect(ctx.sessions.restore('old', 5, 60, now - 61_000, undefined, now)).toBeUndefined();
    expect(ctx.sessions.has('old')).toBe(false);
  });

  it('a stored session comes back offline, its expiry counted from disconnectedAt', async () => {
    const { ctx } = makeContext();
    const now = Date.now();
    const session = ctx.sessions.restore('kept', 5, 60, now - 10_000, undefined, now)!;
    expect(session.client).toBeUndefined();
    expect(session.expiresAt).toBe(now - 10_000 + 60_000);
    ctx.sessions.sweep(session.expiresAt - 1);
    expect(ctx.sessions.has('kept')).toBe(true);
    const peer = await connectPeer(ctx, 'kept', { clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(peer.connack.sessionPresent).toBe(true);
    expect(ctx.sessions.get('kept')).toBe(session);
  });

  it('an expired stored session that owes a will is restored; the first sweep publishes it and ends the session', () => {
    const { ctx, wills } = makeContext();
    const now = Date.now();
    const session = ctx.sessions.restore(
      'owed',
      5,
      60,
      now - 120_000,
      { will: will(30), dueAt: now - 90_000 },
      now,
    );
    expect(session?.pendingWill).toBeDefined();
    ctx.sessions.sweep(now);
    expect(wills.map((w) => w.clientId)).toEqual(['owed']);
    expect(ctx.sessions.has('owed')).toBe(false);
  });

  it('a session that never expires is restored without an expiry time', () => {
    const { ctx } = makeContext();
    const now = Date.now();
    const session = ctx.sessions.restore('ever', 4, NEVER_EXPIRES, now - 86_400_000, undefined, now)!;
    expect(session.expiresAt).toBe(0);
    expect(session.protocolVersion).toBe(4);
    ctx.sessions.sweep(now + 86_400_000);
    expect(ctx.sessions.has('ever')).toBe(true);
  });
});
