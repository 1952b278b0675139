import type { PublishPacket, QoS } from '@x/packets';
import { startBroker } from '@x/test-helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, ConnackError, connect, type Message, type MqttClientError } from '../src/index.js';
import { type RawServer, startRawServer } from './raw-server.js';

/** A PUBLISH as the scripted server sends it: not retained, not DUP, unless `fields` says so. */
function publishOf(
  topic: string,
  text: string,
  qos: QoS,
  fields: Partial<PublishPacket> = {},
): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(text), qos, retain: false, dup: false, ...fields };
}

/** Scripted servers on real sockets: each test plays the server's side byte by byte. */
describe('client against a scripted server', () => {
  let server: RawServer;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.end();
    client = undefined;
    await server?.close();
  });

  async function connected(options: Parameters<typeof connect>[1] = {}, connack = {}) {
    server = await startRawServer();
    const pending = connect(server.url, { reconnect: false, ...options });
    const peer = await server.peer();
    const connectPacket = await peer.accept(connack);
    client = await pending;
    return { peer, connectPacket };
  }

  it('closes with DISCONNECT 0x81 and an error event on a malformed packet; pending promises reject', async () => {
    const { peer } = await connected();
    const errors: MqttClientError[] = [];
    client?.on('error', (e) => errors.push(e));
    const publish = client?.publish('a/b', 'x', { qos: 1 }).catch((e: unknown) => e);
    await peer.expect('publish');
    peer.sendRaw([0x60, 0x02, 0x00, 0x01]); // PUBREL with flags 0000 instead of 0010: malformed
    const disconnect = await peer.expect('disconnect');
    expect(disconnect.reasonCode).toBe(0x81);
    expect(await publish).toMatchObject({ code: 'CLIENT_CLOSED', reasonCode: 0x81 });
    expect(errors[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reasonCode: 0x81 });
    expect(client?.state).toBe('closed');
  });

  it('rejects connect() when the server sends something else before CONNACK', async () => {
    server = await startRawServer();
    const pending = connect(server.url, { reconnect: false });
    const peer = await server.peer();
    await peer.expect('connect');
    peer.send({ type: 'pingresp' });
    await expect(pending).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', clause: 'MQTT-3.2.0-1' });
  });

  it('reports a CONNACK redirect and rejects with its reason code', async () => {
    server = await startRawServer();
    const pending = connect(server.url, { reconnect: false });
    const peer = await server.peer();
    await peer.expect('connect');
    peer.send({
      type: 'connack',
      sessionPresent: false,
      reasonCode: 0x9c,
      properties: { serverReference: 'other:1884' },
    });
    const error = (await pending.catch((e: unknown) => e)) as ConnackError;
    expect(error).toBeInstanceOf(ConnackError);
    expect(error.reasonCode).toBe(0x9c);
  });

  it('surfaces a server DISCONNECT, reconnects with backoff and resubscribes without a session', async () => {
    server = await startRawServer();
    const pending = connect(server.url, { reconnect: { initialDelay: 20, maxDelay: 50 } });
    const peer = await server.peer();
    await peer.accept();
    client = await pending;
    await Promise.all([
      client.subscribe('keep/#', { qos: 1 }),
      peer
        .expect('subscribe')
        .then((s) => peer.send({ type: 'suback', packetId: s.packetId, reasonCodes: [1] })),
    ]);
    const disconnects: number[] = [];
    const offline: (number | undefined)[] = [];
    client.on('disconnect', (d) => disconnects.push(d.reasonCode));
    client.on('offline', (o) => offline.push(o.delay));
    peer.send({ type: 'disconnect', reasonCode: 0x8b, properties: { reasonString: 'maintenance' } });
    const again = await server.peer();
    await again.accept();
    const resubscribe = await again.expect('subscribe');
    expect(resubscribe.subscriptions).toMatchObject([{ topicFilter: 'keep/#', qos: 1 }]);
    expect(disconnects).toEqual([0x8b]);
    expect(offline[0]).toBeLessThanOrEqual(20);
  });

  it('resolves incoming topic aliases and refuses unknown or out-of-range ones', async () => {
    const { peer } = await connected({ properties: { topicAliasMaximum: 4 } });
    const got: string[] = [];
    client?.on('message', (m) => got.push(`${m.topic}=${m.text()}`));
    peer.send(publishOf('long/topic/name', '1', 0, { properties: { topicAlias: 3 } }));
    peer.send(publishOf('', '2', 0, { properties: { topicAlias: 3 } }));
    peer.send(publishOf('x', '3', 0, { properties: { topicAlias: 5 } }));
    const disconnect = await peer.expect('disconnect');
    expect(disconnect.reasonCode).toBe(0x94);
    expect(got).toEqual(['long/topic/name=1', 'long/topic/name=2']);
  });

  it('assigns outgoing topic aliases when asked and the server allows them', async () => {
    const { peer } = await connected(
      { autoAssignTopicAlias: true },
      { properties: { topicAliasMaximum: 2 } },
    );
    await client?.publish('sensors/kitchen/temperature', '20');
    await client?.publish('sensors/kitchen/temperature', '21');
    const first = await peer.expect('publish');
    const second = await peer.expect('publish');
    expect([first.topic, first.properties?.topicAlias]).toEqual(['sensors/kitchen/temperature', 1]);
    expect([second.topic, second.properties?.topicAlias]).toEqual(['', 1]);
  });

  it("holds publishes beyond the server's Receive Maximum until acknowledgements free the quota", async () => {
    const { peer } = await connected({}, { properties: { receiveMaximum: 2 } });
    const results = Array.from({ length: 5 }, (_, i) => client?.publish('q', String(i), { qos: 1 }));
    const a = await peer.expect('publish');
    const b = await peer.expect('publish');
    await new Promise((r) => setTimeout(r, 50));
    expect(client?.inflight).toBe(2);
    expect(client?.queued).toBe(3);
    peer.send({ type: 'puback', packetId: a.packetId as number });
    const c = await peer.expect('publish');
    expect(c.payload.toString()).toBe('2');
    for (const p of [b, c]) peer.send({ type: 'puback', packetId: p.packetId as number, reasonCode: 0x10 });
    for (let i = 0; i < 2; i++) {
      const p = await peer.expect('publish');
      peer.send({ type: 'puback', packetId: p.packetId as number });
    }
    const settled = await Promise.all(results);
    expect(settled.map((r) => r?.reasonCode)).toEqual([0, 0x10, 0x10, 0, 0]);
  });

  describe('a server past the Receive Maximum the client announced [MQTT-3.3.4-9]', () => {
    /** Held messages: with manualAck and a listener that never finishes, each stays outstanding. */
    async function holding(options: Parameters<typeof connect>[1]) {
      const { peer, connectPacket } = await connected({ manualAck: true, ...options });
      expect(connectPacket.properties?.receiveMaximum).toBe(3);
      const received: string[] = [];
      const messages: Message[] = [];
      client?.on('message', (m) => {
        received.push(m.payload.toString());
        messages.push(m);
        return new Promise(() => {});
      });
      const errors: MqttClientError[] = [];
      client?.on('error', (e) => errors.push(e));
      const publish = (id: number, qos: 0 | 1 = 1) =>
        peer.send(publishOf('t', String(id), qos, qos ? { packetId: id } : {}));
      return { peer, received, messages, errors, publish };
    }

    it('strict by default: one QoS 1 PUBLISH beyond it ends the link with DISCONNECT 0x93', async () => {
      const { peer, received, errors, publish } = await holding({ properties: { receiveMaximum: 3 } });
      for (const id of [1, 2, 3, 4]) publish(id);
      expect((await peer.expect('disconnect')).reasonCode).toBe(0x93);
      expect(received).toEqual(['1', '2', '3']);
      expect(errors[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reasonCode: 0x93, clause: 'MQTT-3.3.4-9' });
      expect(client?.receiveMaximumOverruns).toBe(0);
    });

    it('receiveMaximumSlack: takes and counts up to that many beyond it, then DISCONNECT 0x93', async () => {
      const { peer, received, errors, publish } = await holding({
        properties: { receiveMaximum: 3 },
        receiveMaximumSlack: 2,
      });
      for (const id of [1, 2, 3, 4, 5]) publish(id);
      // A QoS 0 message after them: once it is here, the five before it were handled.
      publish(0, 0);
      await expect.poll(() => received.length).toBe(6);
      expect(received).toEqual(['1', '2', '3', '4', '5', '0']);
      expect(client?.receiveMaximumOverruns).toBe(2);
      expect(client?.receiveMaximumOverrunPeak).toBe(2);
      expect(client?.connected).toBe(true);
      expect(errors).toEqual([]);
      // One more is past the slack too.
      publish(6);
      expect((await peer.expect('disconnect')).reasonCode).toBe(0x93);
      expect(received).toHaveLength(6);
      expect(errors[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reasonCode: 0x93 });
    });

    it('receiveMaximumSlack: acknowledged messages free their place again', async () => {
      const { peer, received, messages, errors, publish } = await holding({
        properties: { receiveMaximum: 3 },
        receiveMaximumSlack: 1,
      });
      for (const id of [1, 2, 3, 4]) publish(id);
      await expect.poll(() => received.length).toBe(4);
      expect(client?.receiveMaximumOverruns).toBe(1);
      for (const m of messages.splice(0)) m.ack();
      for (const id of [1, 2, 3, 4]) expect((await peer.expect('puback')).packetId).toBe(id);
      // The window is empty again: another burst of Receive Maximum + slack is taken.
      for (const id of [5, 6, 7, 8]) publish(id);
      await expect.poll(() => received.length).toBe(8);
      expect(client?.receiveMaximumOverruns).toBe(2);
      // Two overruns, but never more than one at a time.
      expect(client?.receiveMaximumOverrunPeak).toBe(1);
      expect(client?.connected).toBe(true);
      expect(errors).toEqual([]);
    });

    it('refuses a slack outside 0..65535', async () => {
      server = await startRawServer();
      for (const bad of [-1, 1.5, 65_536, Number.NaN]) {
        await expect(connect(server.url, { receiveMaximumSlack: bad })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining('receiveMaximumSlack'),
        });
      }
    });
  });

  it("refuses a packet above the server's Maximum Packet Size without sending it", async () => {
    const { peer } = await connected({}, { properties: { maximumPacketSize: 100 } });
    await expect(client?.publish('big', Buffer.alloc(200), { qos: 1 })).rejects.toMatchObject({
      code: 'PACKET_TOO_LARGE',
      reasonCode: 0x95,
    });
    await client?.publish('small', 'ok', { qos: 0 });
    expect((await peer.expect('publish')).topic).toBe('small');
  });

  it('refuses an incoming packet above its own Maximum Packet Size with DISCONNECT 0x95', async () => {
    const { peer, connectPacket } = await connected({ properties: { maximumPacketSize: 64 } });
    expect(connectPacket.properties?.maximumPacketSize).toBe(64);
    const errors: MqttClientError[] = [];
    client?.on('error', (e) => errors.push(e));
    peer.send({ type: 'publish', topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false });
    expect((await peer.expect('disconnect')).reasonCode).toBe(0x95);
    expect(errors[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reasonCode: 0x95 });
  });

  it('never storms: delays grow while a server accepts and drops connections at once', async () => {
    server = await startRawServer();
    const pending = connect(server.url, {
      reconnect: { initialDelay: 10, factor: 2, maxDelay: 1_000, jitter: 'none' },
    });
    const first = await server.peer();
    await first.accept();
    client = await pending;
    const delays: number[] = [];
    client.on('offline', ({ delay }) => delay !== undefined && delays.push(delay));
    first.socket.destroy();
    for (let i = 0; i < 4; i++) {
      const peer = await server.peer();
      await peer.accept();
      peer.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    // The first drop came from the connection made by connect(); each later connection lived
    // shorter than `stableAfter`, so the backoff was never reset.
    expect(delays.slice(0, 5)).toEqual([10, 20, 40, 80, 160]);
  });

  it('follows a server redirect (DISCONNECT 0x9C with a Server Reference) when asked', async () => {
    server = await startRawServer();
    const other = await startRawServer();
    try {
      const pending = connect(server.url, { followRedirects: true, reconnect: { initialDelay: 10 } });
      const peer = await server.peer();
      await peer.accept();
      client = await pending;
      const redirects: string[] = [];
      client.on('redirect', (r) => redirects.push(r.serverReference));
      peer.send({
        type: 'disconnect',
        reasonCode: 0x9c,
        properties: { serverReference: `127.0.0.1:${other.port}` },
      });
      const moved = await other.peer();
      await moved.accept();
      expect(redirects).toEqual([`127.0.0.1:${other.port}`]);
      await new Promise((r) => setTimeout(r, 20));
      expect(client.connected).toBe(true);
    } finally {
      await client?.end();
      client = undefined;
      await other.close();
    }
  });

  it('does not fight another client for its session (DISCONNECT 0x8E ends the client)', async () => {
    server = await startRawServer();
    const pending = connect(server.url, { reconnect: { initialDelay: 10 } });
    const peer = await server.peer();
    await peer.accept();
    client = await pending;
    const closed = new Promise<void>((resolve) => client?.on('close', resolve));
    peer.send({ type: 'disconnect', reasonCode: 0x8e });
    await closed;
    expect(client.state).toBe('closed');
    await expect(client.publish('t', 'x')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('rejects a failed PUBACK with the reason code', async () => {
    const { peer } = await connected();
    const result = client?.publish('denied', 'x', { qos: 1 });
    const p = await peer.expect('publish');
    peer.send({
      type: 'puback',
      packetId: p.packetId as number,
      reasonCode: 0x87,
      properties: { reasonString: 'no' },
    });
    await expect(result).rejects.toMatchObject({ code: 'PUBLISH_REJECTED', reasonCode: 0x87 });
  });

  it('finds a dead connection with keep-alive and reports KEEPALIVE_TIMEOUT', async () => {
    const { peer } = await connected({ keepalive: 1, pingTimeout: 200 });
    const offline = new Promise<Error | undefined>((resolve) =>
      client?.on('offline', (o) => resolve(o.error)),
    );
    await peer.expect('pingreq'); // and never answer
    expect(await offline).toMatchObject({ code: 'KEEPALIVE_TIMEOUT' });
  });

  it('manual acks: PUBACK/PUBREC only when the handler has finished, in arrival order', async () => {
    const { peer, connectPacket } = await connected({ manualAck: true, properties: { receiveMaximum: 3 } });
    expect(connectPacket.properties?.receiveMaximum).toBe(3);
    const finishers: (() => void)[] = [];
    client?.on('message', () => new Promise<void>((resolve) => finishers.push(resolve)));
    for (const [id, qos] of [
      [1, 1],
      [2, 2],
      [3, 1],
    ] as const) {
      peer.send(publishOf('t', String(id), qos, { packetId: id }));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(finishers).toHaveLength(3);
    finishers[2]?.(); // the last finishes first: its PUBACK waits for the older ones
    finishers[1]?.();
    await new Promise((r) => setTimeout(r, 30));
    finishers[0]?.();
    const acks = [await peer.next(), await peer.next(), await peer.next()];
    expect(acks.map((a) => `${a.type}:${'packetId' in a ? a.packetId : ''}`)).toEqual([
      'puback:1',
      'pubrec:2',
      'puback:3',
    ]);
  });

  it('message.ack() acknowledges before the handler finishes; iterators ack when they move on', async () => {
    const { peer } = await connected({ manualAck: true });
    const iterator = client?.messages('t') as AsyncIterableIterator<Message>;
    peer.send(publishOf('t', 'a', 1, { packetId: 7 }));
    peer.send(publishOf('t', 'b', 1, { packetId: 8 }));
    const first = await iterator.next();
    expect(first.value?.text()).toBe('a');
    first.value?.ack();
    expect(await peer.next()).toMatchObject({ type: 'puback', packetId: 7 });
    await iterator.next(); // moving past 'b'... is only when asking for the one after it
    const third = iterator.next();
    expect(await peer.next()).toMatchObject({ type: 'puback', packetId: 8 });
    await iterator.return?.();
    expect(await third).toEqual({ value: undefined, done: true });
  });

  it('enhanced authentication: answers AUTH challenges through onAuth', async () => {
    server = await startRawServer();
    const pending = connect(server.url, {
      reconnect: false,
      properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('hello') },
      onAuth: ({ authenticationData }) => ({
        authenticationData: Buffer.from(`answer to ${authenticationData?.toString()}`),
      }),
    });
    const peer = await server.peer();
    const connectPacket = await peer.expect('connect');
    expect(connectPacket.properties?.authenticationMethod).toBe('DEMO');
    peer.send({
      type: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('challenge') },
    });
    const auth = await peer.expect('auth');
    expect(auth.reasonCode).toBe(0x18);
    expect(Buffer.from(auth.properties?.authenticationData ?? []).toString()).toBe('answer to challenge');
    peer.send({
      type: 'connack',
      sessionPresent: false,
      reasonCode: 0,
      properties: { authenticationMethod: 'DEMO' },
    });
    client = await pending;
    expect(client.connected).toBe(true);
  });

  it('re-sends unacknowledged QoS 1 with DUP and QoS 2 as PUBREL when the session resumes', async () => {
    server = await startRawServer();
    const options = { sessionExpiryInterval: 60, reconnect: { initialDelay: 10, maxDelay: 20 } };
    const pending = connect(server.url, options);
    const peer = await server.peer();
    await peer.accept();
    client = await pending;
    const q1 = client.publish('r/1', 'one', { qos: 1 });
    const q2 = client.publish('r/2', 'two', { qos: 2 });
    const p1 = await peer.expect('publish');
    const p2 = await peer.expect('publish');
    peer.send({ type: 'pubrec', packetId: p2.packetId as number });
    await peer.expect('pubrel');
    const offline = new Promise((resolve) => client?.on('offline', resolve));
    peer.socket.destroy();
    await offline;
    // Offline: this one waits in the queue.
    const q3 = client.publish('r/3', 'three', { qos: 1 });
    const again = await server.peer();
    const reconnect = await again.accept({ sessionPresent: true });
    expect(reconnect.clean).toBe(false);
    const resent = await again.expect('publish');
    expect([resent.packetId, resent.dup, resent.topic]).toEqual([p1.packetId, true, 'r/1']);
    const pubrel = await again.expect('pubrel');
    expect(pubrel.packetId).toBe(p2.packetId);
    const queued = await again.expect('publish');
    expect([queued.topic, queued.dup]).toEqual(['r/3', false]);
    again.send({ type: 'puback', packetId: p1.packetId as number });
    again.send({ type: 'pubcomp', packetId: p2.packetId as number });
    again.send({ type: 'puback', packetId: queued.packetId as number });
    await expect(Promise.all([q1, q2, q3])).resolves.toHaveLength(3);
  });

  /** One QoS 2 flow played by the server (PUBLISH, PUBREL), returning what the client delivered. */
  async function completedFlowResent(options: Parameters<typeof connect>[1]) {
    const { peer } = await connected(options);
    const delivered: string[] = [];
    client?.on('message', (m) => delivered.push(`${m.text()} dup=${m.dup}`));
    // Past the one macrotask for which messages right after the first CONNACK are held.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const publish = {
      type: 'publish',
      topic: 'q2/t',
      payload: Buffer.from('same'),
      qos: 2,
      retain: false,
    } as const;
    peer.send({ ...publish, packetId: 7, dup: false });
    expect((await peer.expect('pubrec')).packetId).toBe(7);
    peer.send({ type: 'pubrel', packetId: 7 });
    expect((await peer.expect('pubcomp')).packetId).toBe(7);
    // The flow is complete; the same packet id, topic and payload come again with DUP.
    peer.send({ ...publish, packetId: 7, dup: true });
    expect((await peer.expect('pubrec')).packetId).toBe(7);
    peer.send({ type: 'pubrel', packetId: 7 });
    expect((await peer.expect('pubcomp')).packetId).toBe(7);
    return delivered;
  }

  it("by default delivers a PUBLISH re-using a completed QoS 2 flow's packet id as a new message", async () => {
    // [MQTT-4.3.3-12] after PUBCOMP, a PUBLISH with that packet id is a new application message
    expect(await completedFlowResent({})).toEqual(['same dup=false', 'same dup=true']);
  });

  it('with qos2ReplayGuard drops a DUP re-send of a completed QoS 2 flow (acknowledged, not delivered)', async () => {
    expect(await completedFlowResent({ qos2ReplayGuard: 16 })).toEqual(['same dup=false']);
  });

  it('bounds the offline queue', async () => {
    server = await startRawServer();
    const pending = connect(server.url, { queueLimit: 2, reconnect: { initialDelay: 5_000 } });
    const peer = await server.peer();
    await peer.accept();
    client = await pending;
    const offline = new Promise((resolve) => client?.on('offline', resolve));
    peer.socket.destroy();
    await offline;
    const a = client.publish('o', '1', { qos: 1 });
    const b = client.publish('o', '2', { qos: 0 });
    await expect(client.publish('o', '3', { qos: 1 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await client.end();
    await expect(a).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(b).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('operationTimeout: operations waiting offline reject with OPERATION_TIMEOUT; a sent one still completes its flow on resume', async () => {
    server = await startRawServer();
    const options = {
      sessionExpiryInterval: 60,
      operationTimeout: 150,
      reconnect: { initialDelay: 10, maxDelay: 20 },
    };
    const pending = connect(server.url, options);
    const peer = await server.peer();
    await peer.accept();
    client = await pending;
    const inflight = client.publish('t/1', 'sent', { qos: 1 }).catch((e: unknown) => e);
    const sent = await peer.expect('publish');
    const offline = new Promise((resolve) => client?.on('offline', resolve));
    peer.socket.destroy();
    await offline;
    const queued = client.publish('t/2', 'queued', { qos: 1 }).catch((e: unknown) => e);
    const subscribe = client.subscribe('t/#').catch((e: unknown) => e);
    // The server takes the reconnection but answers only after the operations expired.
    const again = await server.peer();
    await again.expect('connect');
    const started = Date.now();
    expect(await inflight).toMatchObject({ code: 'OPERATION_TIMEOUT' });
    expect(await queued).toMatchObject({ code: 'OPERATION_TIMEOUT' });
    expect(await subscribe).toMatchObject({ code: 'OPERATION_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(client.queued).toBe(0);
    again.send({ type: 'connack', sessionPresent: true, reasonCode: 0 });
    // [MQTT-4.4.0-1] the resumed session still re-sends the expired but unacknowledged PUBLISH.
    const resent = await again.expect('publish');
    expect([resent.topic, resent.packetId, resent.dup]).toEqual(['t/1', sent.packetId, true]);
    again.send({ type: 'puback', packetId: resent.packetId as number });
    const after = client.publish('t/3', 'after', { qos: 1 });
    const next = await again.expect('publish');
    expect(next.topic).toBe('t/3');
    again.send({ type: 'puback', packetId: next.packetId as number });
    await expect(after).resolves.toMatchObject({ reasonCode: 0 });
  });

  it('refuses an operationTimeout that is not above 0', async () => {
    await expect(connect('mqtt://127.0.0.1:1', { operationTimeout: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(connect('mqtt://127.0.0.1:1', { qos2ReplayGuard: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports throwing and rejecting listeners on error and keeps delivering', async () => {
    const { peer } = await connected();
    const errors: MqttClientError[] = [];
    const seen: string[] = [];
    client?.on('error', (e) => errors.push(e));
    client?.on('message', () => {
      throw new Error('sync bug');
    });
    client?.on('message', async () => {
      throw new Error('async bug');
    });
    client?.on('message', (m) => {
      seen.push(m.text());
    });
    peer.send(publishOf('t', 'still here', 1, { packetId: 3 }));
    expect(await peer.expect('puback')).toMatchObject({ packetId: 3 });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['still here']);
    expect(errors.map((e) => [e.code, (e.cause as Error).message])).toEqual([
      ['LISTENER_ERROR', 'sync bug'],
      ['LISTENER_ERROR', 'async bug'],
    ]);
  });

  it('validates arguments with typed errors', async () => {
    await connected();
    await expect(client?.publish('a/+', 'x')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      reasonCode: 0x90,
    });
    await expect(client?.subscribe('a/#/b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client?.publish('a', 'x', { qos: 3 as 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('request/response (MQTT 5) against our broker', () => {
  it('request() gets the response that respond() sends', async () => {
    const broker = await startBroker();
    const service = await connect(broker.url);
    const caller = await connect(broker.url);
    try {
      await service.subscribe('svc/time');
      service.on('message', (m) => {
        void service.respond(m, `now:${m.text()}`);
      });
      // The caller also hears its own request (same correlation data): that is not the answer.
      await caller.subscribe('svc/#');
      const response = await caller.request('svc/time', 'please', { timeout: 5_000 });
      expect(response.text()).toBe('now:please');
      await expect(caller.request('svc/nobody-home', 'x', { timeout: 100 })).rejects.toMatchObject({
        code: 'REQUEST_TIMEOUT',
      });
    } finally {
      await Promise.all([service.end(), caller.end()]);
      await broker.close();
    }
  });
});
