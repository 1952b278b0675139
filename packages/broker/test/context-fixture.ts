import { Decoder, encode, type Packet, type Properties, type ProtocolVersion, type Will } from '@x/packets';
import { validEntries } from '@x/packets/catalogue';
import { SubscriptionTrie } from '@x/topics';
import { Client } from '../src/client.js';
import type { ClientState } from '../src/client-info.js';
import { type BrokerContext, wireContext } from '../src/context.js';
import { AllowAllHook, Hooks } from '../src/hooks.js';
import { InlineSubscriptions } from '../src/inline.js';
import { duplexPair } from '../src/listeners/memory.js';
import { silentLogger } from '../src/logger.js';
import type { Message } from '../src/message.js';
import { type BrokerOptions, resolveOptions } from '../src/options.js';
import { WriteScheduler } from '../src/output.js';
import { Persistence } from '../src/persistence.js';
import { createMessage } from '../src/pipeline.js';
import { RetainedStore } from '../src/retained.js';
import { newSysInfo } from '../src/system.js';

/**
 * A `BrokerContext` built from the real parts, as `Broker` builds its own, without listeners or
 * timers: unit tests drive the session registry and the router directly and read what a client
 * receives through an in-memory duplex pair.
 */
export interface Fixture {
  ctx: BrokerContext;
  /** Every will the registry published, in order. */
  wills: Array<{ clientId: string; will: Will }>;
  /** Every drop the router reported (`onPublishDropped`). */
  drops: Array<{ clientId: string; topic: string; reason: string }>;
}

export function makeContext(options: BrokerOptions = {}): Fixture {
  const resolved = resolveOptions({ logger: silentLogger, ...options });
  const hooks = new Hooks();
  hooks.add(new AllowAllHook());
  const drops: Fixture['drops'] = [];
  hooks.add({
    onPublishDropped: (clientId, message, reason) => drops.push({ clientId, topic: message.topic, reason }),
  });
  const stats = newSysInfo('test');
  const persistence = new Persistence(undefined, true, silentLogger, stats, resolved.sysSaveInterval);
  const subscriptions = new SubscriptionTrie<string>();
  const wills: Fixture['wills'] = [];
  const ctx: BrokerContext = wireContext(
    {
      options: resolved,
      log: silentLogger,
      hooks,
      stats,
      subscriptions,
      retained: new RetainedStore(),
      output: new WriteScheduler(resolved.maxBytesPerTick),
      persistence,
      inline: new InlineSubscriptions(),
      authThrottle: undefined,
      clientConnected: () => {},
      connectionClosed: (
        client: Client,
        _wasState: ClientState,
        _reasonCode: number,
        _error: Error | undefined,
      ) => {
        ctx.sessions.detach(client);
      },
    },
    'unit-',
    (clientId, will) => wills.push({ clientId, will }),
  );
  return { ctx, wills, drops };
}

/** The decoded packet of a valid catalogue entry (a copy, safe to change). */
export function cataloguePacket<T extends Packet['type']>(name: string): Extract<Packet, { type: T }> {
  const entry = validEntries.find((e) => e.name === name);
  if (entry?.packet === undefined) throw new Error(`no valid catalogue entry ${name}`);
  return structuredClone(entry.packet) as Extract<Packet, { type: T }>;
}

/** The far end of a connection: what the broker sent, decoded, and a way to send it packets. */
export interface Peer {
  client: Client;
  received: Packet[];
  send(packet: Packet): void;
  /** Lets the write scheduler flush and the stream deliver. */
  settle(): Promise<void>;
  /** The PUBLISH packets received so far. */
  publishes(): Extract<Packet, { type: 'publish' }>[];
  close(): Promise<void>;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Opens an in-memory connection served by a real `Client` on the fixture's context. */
export function openPeer(ctx: BrokerContext, version: ProtocolVersion = 5): Peer {
  const [server, far] = duplexPair();
  const client = new Client(ctx, server, { remoteAddress: 'memory:unit', listener: 'unit' });
  const decoder = new Decoder({ protocolVersion: version });
  const received: Packet[] = [];
  far.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
  const settle = async () => {
    for (let i = 0; i < 5; i++) await turn();
  };
  return {
    client,
    received,
    send: (packet) => far.write(encode(packet, version)),
    settle,
    publishes: () => received.filter((p): p is Extract<Packet, { type: 'publish' }> => p.type === 'publish'),
    close: async () => {
      far.destroy();
      await settle();
    },
  };
}

/**
 * Connects with the catalogue's `v5-connect-minimal` CONNECT (client id, Clean Start and properties
 * as given) and waits for the CONNACK.
 */
export async function connectPeer(
  ctx: BrokerContext,
  clientId: string,
  changes: { clean?: boolean; properties?: Record<string, unknown>; will?: Will } = {},
): Promise<Peer & { connack: Extract<Packet, { type: 'connack' }> }> {
  const peer = openPeer(ctx);
  const connect = cataloguePacket<'connect'>('v5-connect-minimal');
  connect.clientId = clientId;
  connect.keepalive = 0;
  if (changes.clean !== undefined) connect.clean = changes.clean;
  if (changes.properties !== undefined) connect.properties = changes.properties;
  if (changes.will !== undefined) connect.will = changes.will;
  peer.send(connect);
  await peer.settle();
  const connack = peer.received.find((p) => p.type === 'connack');
  if (connack === undefined) throw new Error(`no CONNACK for ${clientId}`);
  return { ...peer, connack };
}

/** A message as the publish pipeline makes one from a client's PUBLISH (owned payload). */
export function message(topic: string, payload: string, qos: 0 | 1 | 2, properties?: Properties): Message {
  return createMessage(topic, Buffer.from(payload), qos, false, properties, 'publisher', true, Date.now());
}

/** Subscribes a connected peer with the catalogue's `v5-subscribe-one` SUBSCRIBE (filter and QoS as given). */
export async function subscribePeer(peer: Peer, topicFilter: string, qos: 0 | 1 | 2): Promise<void> {
  const subscribe = cataloguePacket<'subscribe'>('v5-subscribe-one');
  subscribe.subscriptions[0]!.topicFilter = topicFilter;
  subscribe.subscriptions[0]!.qos = qos;
  peer.send(subscribe);
  await peer.settle();
  if (!peer.received.some((p) => p.type === 'suback')) throw new Error('no SUBACK');
}
