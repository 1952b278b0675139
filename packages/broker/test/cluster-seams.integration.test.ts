import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AllowAllHook, type Hook, MemoryStore, type Message } from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

/**
 * The seams a cluster plugin uses (@x/broker-cluster): the `onSessionClaim` gate, adopting a stored
 * session, releasing one, routing a message another node accepted, and a retained change made there.
 */
describe('cluster seams', () => {
  let b: TestBroker;
  let claim: (clientId: string, clean: boolean) => Promise<number | undefined> = async () => undefined;
  let serveShares = true;
  const published: Message[] = [];
  const open: MqttClient[] = [];
  const hook: Hook = {
    onSessionClaim: (client, clean) => claim(client.id, clean),
    onPublished: (_client, message) => {
      published.push(message);
    },
    onShareGroup: () => serveShares,
  };
  beforeAll(async () => {
    b = await startTestBroker({ store: new MemoryStore() }, [new AllowAllHook(), hook]);
  });
  afterEach(async () => {
    claim = async () => undefined;
    for (const c of open.splice(0)) await c.endAsync(true);
  });
  afterAll(() => b.close());

  async function client(clientId: string, clean = true): Promise<MqttClient> {
    const c = await mqtt.connectAsync(b.url, {
      clientId,
      clean,
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 300 },
    });
    open.push(c);
    return c;
  }

  it('refuses a CONNECT with the reason code a claim gate returns, after it settles', async () => {
    claim = async () => {
      await new Promise((r) => setTimeout(r, 20));
      return 0x88;
    };
    const error = await client('refused').catch((e: Error & { code?: number }) => e.code);
    expect(error).toBe(0x88);
    expect(b.broker.sessions.has('refused')).toBe(false);
  });

  it('resumes a session adopted during the claim, with its subscription and queued message', async () => {
    claim = async (clientId, clean) => {
      expect(clean).toBe(false);
      b.broker.adoptSession({
        clientId,
        protocolVersion: 5,
        expiryInterval: 300,
        disconnectedAt: Date.now() - 1000,
        will: undefined,
        pendingWill: undefined,
        subscriptions: [
          {
            topicFilter: 'adopted/#',
            qos: 1,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
            subscriptionIdentifier: undefined,
          },
        ],
        queue: [
          {
            message: {
              topic: 'adopted/queued',
              payload: Buffer.from('q'),
              qos: 1,
              retain: false,
              properties: undefined,
              expiresAt: 0,
              origin: '',
              owned: true,
            },
            qos: 1,
            retain: false,
            subscriptionIds: undefined,
            seq: 7,
          },
        ],
        inflight: [],
        inboundQos2: [],
      });
      return undefined;
    };
    const got: IPublishPacket[] = [];
    const c = mqtt.connect(b.url, {
      clientId: 'adopted',
      clean: false,
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 300 },
    });
    open.push(c);
    c.on('message', (_t, _p, packet) => got.push(packet));
    const connack = await new Promise<{ sessionPresent: boolean }>((r) => c.once('connect', r));
    expect(connack.sessionPresent).toBe(true);
    await until(() => got.length === 1, 3000, 'the queued message');
    expect(got[0]?.topic).toBe('adopted/queued');

    // A message another node accepted reaches the adopted subscription, without `onPublished`.
    const before = published.length;
    b.broker.routeRemote({
      topic: 'adopted/remote',
      payload: Buffer.from('r'),
      qos: 1,
      retain: true,
      properties: undefined,
      expiresAt: 0,
      origin: 'elsewhere',
      owned: true,
    });
    await until(() => got.length === 2, 3000, 'the remote message');
    expect(published.length).toBe(before);
    // Routing is not retaining: the retained store is another node's change to apply.
    expect(b.broker.retained.get('adopted/remote')).toBeUndefined();
  });

  it('leaves a share group alone when the share gate says another process serves it', async () => {
    const member = await client('member');
    const normal = await client('normal');
    const got: string[] = [];
    member.on('message', (t) => got.push(`member ${t}`));
    normal.on('message', (t) => got.push(`normal ${t}`));
    await member.subscribeAsync('$share/g/gate/#', { qos: 1 });
    await normal.subscribeAsync('gate/#', { qos: 1 });
    serveShares = false;
    b.broker.publish('gate/1', 'x', { qos: 1 });
    serveShares = true;
    b.broker.publish('gate/2', 'x', { qos: 1 });
    await until(() => got.length === 3, 3000, 'three deliveries');
    expect(got.sort()).toEqual(['member gate/2', 'normal gate/1', 'normal gate/2']);
  });

  it('applies a retained change made on another node to memory only', () => {
    const message: Message = {
      topic: 'r/x',
      payload: Buffer.from('v'),
      qos: 0,
      retain: true,
      properties: undefined,
      expiresAt: 0,
      origin: '',
      owned: true,
    };
    b.broker.applyRetained(message);
    expect(b.broker.retained.get('r/x')?.payload).toEqual(Buffer.from('v'));
    b.broker.applyRetained({ ...message, payload: Buffer.alloc(0) });
    expect(b.broker.retained.get('r/x')).toBeUndefined();
  });

  it('releases a session: its connection gets DISCONNECT 0x8E and the session leaves this broker', async () => {
    const c = await client('leaving', false);
    await c.subscribeAsync('leaving/#', { qos: 1 });
    const disconnect = new Promise<number | undefined>((r) => c.once('disconnect', (p) => r(p.reasonCode)));
    expect(await b.broker.releaseSession('leaving')).toBe(true);
    expect(await disconnect).toBe(0x8e);
    expect(b.broker.sessions.has('leaving')).toBe(false);
    expect(await b.broker.releaseSession('leaving')).toBe(false);
  });
});
