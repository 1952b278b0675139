import { describe, expect, it } from 'vitest';
import { cataloguePacket, connectPeer, makeContext, message, subscribePeer } from './context-fixture.js';

const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } };

describe('Router.deliver', () => {
  it('sends to an online subscriber now: QoS 1 gets a packet id and waits in flight', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'online');
    await subscribePeer(peer, 'r/#', 2);
    expect(ctx.router.route(message('r/1', 'hello', 1), undefined)).toBe(1);
    await peer.settle();
    const [publish] = peer.publishes();
    expect(publish).toMatchObject({ topic: 'r/1', qos: 1, dup: false });
    expect(Buffer.from(publish!.payload).toString()).toBe('hello');
    const session = ctx.sessions.get('online')!;
    expect(session.inflight.size).toBe(1);
    expect(session.inflight.get(publish!.packetId!)?.state).toBe('publish');
    expect(session.queue.length).toBe(0);
  });

  it.each([
    [2, 0, 0],
    [2, 1, 1],
    [1, 2, 1],
    [0, 2, 0],
  ] as const)(
    'MQTT-3.8.4-8: a QoS %i message to a QoS %i subscription is delivered at QoS %i',
    async (pubQos, subQos, expected) => {
      const { ctx } = makeContext();
      const peer = await connectPeer(ctx, 'downgrade');
      await subscribePeer(peer, 'd/#', subQos);
      ctx.router.route(message('d/x', 'p', pubQos), undefined);
      await peer.settle();
      expect(peer.publishes().map((p) => p.qos)).toEqual([expected]);
      expect(ctx.sessions.get('downgrade')!.inflight.size).toBe(expected === 0 ? 0 : 1);
    },
  );

  it('queues QoS 1/2 for an offline session and keeps QoS 0 only with queueQos0Messages', async () => {
    for (const queueQos0Messages of [false, true]) {
      const { ctx } = makeContext({ queueQos0Messages });
      const peer = await connectPeer(ctx, 'offline', persistent);
      await subscribePeer(peer, 'o/#', 2);
      await peer.close();
      const session = ctx.sessions.get('offline')!;
      expect(session.client).toBeUndefined();
      expect(ctx.router.route(message('o/1', 'abc', 1), undefined)).toBe(1);
      expect(ctx.router.route(message('o/0', 'de', 0), undefined)).toBe(queueQos0Messages ? 1 : 0);
      expect([...session.queue].map((d) => d.message.topic)).toEqual(
        queueQos0Messages ? ['o/1', 'o/0'] : ['o/1'],
      );
      expect(session.queuedBytes).toBe(queueQos0Messages ? 3 + 3 + 2 + 3 : 3 + 3);
      expect(session.inflight.size).toBe(0);
    }
  });

  it('a full in-flight window queues; each PUBACK / PUBCOMP drains the next in order', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'window', { properties: { receiveMaximum: 2 } });
    await subscribePeer(peer, 'w/#', 2);
    for (let i = 1; i <= 4; i++) ctx.router.route(message(`w/${i}`, 'p', i % 2 === 0 ? 2 : 1), undefined);
    await peer.settle();
    const session = ctx.sessions.get('window')!;
    expect(peer.publishes().map((p) => p.topic)).toEqual(['w/1', 'w/2']);
    expect(session.inflight.size).toBe(2);
    expect(session.queue.length).toBe(2);

    const puback = cataloguePacket<'puback'>('v5-puback-short');
    puback.packetId = peer.publishes()[0]!.packetId!;
    peer.send(puback);
    await peer.settle();
    expect(peer.publishes().map((p) => p.topic)).toEqual(['w/1', 'w/2', 'w/3']);
    expect(session.queue.length).toBe(1);

    // QoS 2: the PUBREC keeps the window slot (PUBREL in flight), the PUBCOMP frees it.
    const pubrec = cataloguePacket<'pubrec'>('v5-pubrec-short');
    pubrec.packetId = peer.publishes()[1]!.packetId!;
    peer.send(pubrec);
    await peer.settle();
    expect(peer.received.at(-1)).toEqual({ type: 'pubrel', packetId: pubrec.packetId, reasonCode: 0 });
    expect(session.queue.length).toBe(1);
    const pubcomp = cataloguePacket<'pubcomp'>('v5-pubcomp-short');
    pubcomp.packetId = pubrec.packetId;
    peer.send(pubcomp);
    await peer.settle();
    expect(peer.publishes().map((p) => p.topic)).toEqual(['w/1', 'w/2', 'w/3', 'w/4']);
    expect(session.queue.length).toBe(0);
    expect(session.inflight.size).toBe(2);
  });

  it('the queue is bounded by count: the message over maxQueuedMessages is dropped and refused', async () => {
    const { ctx, drops } = makeContext({ maxQueuedMessages: 2 });
    const peer = await connectPeer(ctx, 'bound-n', persistent);
    await subscribePeer(peer, 'n/#', 1);
    await peer.close();
    expect(ctx.router.route(message('n/1', 'p', 1), undefined)).toBe(1);
    expect(ctx.router.route(message('n/2', 'p', 1), undefined)).toBe(1);
    expect(ctx.router.lastRefused).toBe(0);
    expect(ctx.router.route(message('n/3', 'p', 1), undefined)).toBe(0);
    expect(ctx.router.lastRefused).toBe(1);
    expect([...ctx.sessions.get('bound-n')!.queue].map((d) => d.message.topic)).toEqual(['n/1', 'n/2']);
    expect(drops).toEqual([{ clientId: 'bound-n', topic: 'n/3', reason: 'queue-full' }]);
  });

  it('the queue is bounded by bytes (topic and payload) by maxQueuedBytes', async () => {
    const { ctx, drops } = makeContext({ maxQueuedBytes: 27 });
    const peer = await connectPeer(ctx, 'bound-b', persistent);
    await subscribePeer(peer, 'b/#', 1);
    await peer.close();
    // 3 + 9 = 12 bytes each: two fit in 27, a third does not; a 3-byte one still does, to the byte.
    expect(ctx.router.route(message('b/1', '123456789', 1), undefined)).toBe(1);
    expect(ctx.router.route(message('b/2', '123456789', 1), undefined)).toBe(1);
    expect(ctx.router.route(message('b/3', '123456789', 1), undefined)).toBe(0);
    expect(ctx.router.route(message('b/4', '', 1), undefined)).toBe(1);
    const session = ctx.sessions.get('bound-b')!;
    expect(session.queuedBytes).toBe(12 + 12 + 3);
    expect(drops.map((d) => d.topic)).toEqual(['b/3']);
  });

  it('queued messages go out on reconnection and their bytes are given back', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'later', persistent);
    await subscribePeer(peer, 'l/#', 1);
    await peer.close();
    ctx.router.route(message('l/1', 'one', 1), undefined);
    ctx.router.route(message('l/2', 'two', 1), undefined);
    const again = await connectPeer(ctx, 'later', persistent);
    await again.settle();
    expect(again.publishes().map((p) => p.topic)).toEqual(['l/1', 'l/2']);
    const session = ctx.sessions.get('later')!;
    expect(session.queue.length).toBe(0);
    expect(session.queuedBytes).toBe(0);
    expect(session.inflight.size).toBe(2);
  });

  it('an expired queued message is dropped on drain, not sent', async () => {
    const { ctx, drops } = makeContext();
    const peer = await connectPeer(ctx, 'stale', persistent);
    await subscribePeer(peer, 's/#', 1);
    await peer.close();
    const stale = message('s/old', 'p', 1, { messageExpiryInterval: 1 });
    stale.expiresAt = Date.now() - 1;
    ctx.router.route(stale, undefined);
    ctx.router.route(message('s/new', 'p', 1), undefined);
    const again = await connectPeer(ctx, 'stale', persistent);
    await again.settle();
    expect(again.publishes().map((p) => p.topic)).toEqual(['s/new']);
    expect(drops).toEqual([{ clientId: 'stale', topic: 's/old', reason: 'expired' }]);
  });

  it('with every packet id in use, the message is queued and onPacketIdExhausted reported', async () => {
    const { ctx } = makeContext();
    const exhausted: string[] = [];
    ctx.hooks.add({ onPacketIdExhausted: (clientId, m) => exhausted.push(`${clientId} ${m.topic}`) });
    const peer = await connectPeer(ctx, 'ids');
    await subscribePeer(peer, 'i/#', 1);
    const session = ctx.sessions.get('ids')!;
    const filler = {
      message: message('i/fill', '', 1),
      qos: 1 as const,
      retain: false,
      subscriptionIds: undefined,
    };
    for (let id = 1; id <= 65_535; id++)
      session.inflight.add({ packetId: id, delivery: filler, state: 'publish', resends: 0 });
    // A window wider than the packet id space (a v3.1.1 client under a large maxInflight).
    peer.client.sendQuota = 70_000;
    expect(ctx.router.route(message('i/1', 'p', 1), undefined)).toBe(1);
    await peer.settle();
    expect(exhausted).toEqual(['ids i/1']);
    expect(peer.publishes()).toEqual([]);
    expect([...session.queue].map((d) => d.message.topic)).toEqual(['i/1']);
    // One id freed by a PUBACK: the queued message takes it.
    const puback = cataloguePacket<'puback'>('v5-puback-short');
    puback.packetId = 4242;
    peer.send(puback);
    await peer.settle();
    expect(peer.publishes().map((p) => [p.topic, p.packetId])).toEqual([['i/1', 4242]]);
    expect(session.queue.length).toBe(0);
  });
});

describe('Router.resend', () => {
  it('a resumed session gets its unacknowledged PUBLISH with DUP and its PUBREL again, in order [MQTT-4.4.0-1]', async () => {
    const { ctx } = makeContext();
    const peer = await connectPeer(ctx, 'resend', persistent);
    await subscribePeer(peer, 'x/#', 2);
    ctx.router.route(message('x/1', 'one', 2), undefined);
    ctx.router.route(message('x/2', 'two', 1), undefined);
    await peer.settle();
    const [first, second] = peer.publishes();
    const pubrec = cataloguePacket<'pubrec'>('v5-pubrec-short');
    pubrec.packetId = first!.packetId!;
    peer.send(pubrec);
    await peer.settle();
    const session = ctx.sessions.get('resend')!;
    expect(session.inflight.get(first!.packetId!)?.state).toBe('pubrel');
    await peer.close();

    const again = await connectPeer(ctx, 'resend', persistent);
    await again.settle();
    const after = again.received.filter((p) => p.type !== 'connack');
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({ type: 'pubrel', packetId: first!.packetId });
    expect(after[1]).toMatchObject({
      type: 'publish',
      topic: 'x/2',
      dup: true,
      qos: 1,
      packetId: second!.packetId,
    });
    expect(session.inflight.get(second!.packetId!)?.resends).toBe(1);
    // The PUBCOMP completes the QoS 2 flow, the PUBACK the QoS 1 one.
    const pubcomp = cataloguePacket<'pubcomp'>('v5-pubcomp-short');
    pubcomp.packetId = first!.packetId!;
    again.send(pubcomp);
    const puback = cataloguePacket<'puback'>('v5-puback-short');
    puback.packetId = second!.packetId!;
    again.send(puback);
    await again.settle();
    expect(session.inflight.size).toBe(0);
  });
});
