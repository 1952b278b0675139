import type {
  AuthPacket,
  ConnectPacket,
  Packet,
  Properties,
  PublishPacket,
  QoS,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { ClientInfo } from './client-info.js';
import type { ConnectionInfo } from './listeners/listener.js';
import type { Logger } from './logger.js';
import type { Delivery, Message } from './message.js';
import type { SysInfo } from './system.js';

/**
 * The answer of an authentication hook. `true`/`false` accept or refuse (refusal: Not authorized,
 * 0x87 / v3 return code 5). An object can refuse with a specific reason code, accept while adding
 * CONNACK properties (e.g. Authentication Data), or continue an enhanced authentication exchange
 * (the broker sends AUTH 0x18 with the given data and waits for the client's next AUTH).
 */
export type AuthOutcome =
  | boolean
  | { ok: true; properties?: Properties }
  | { ok: false; reasonCode?: number; reasonString?: string }
  | { continue: true; authenticationData?: Uint8Array };

export type MaybePromise<T> = T | Promise<T>;

/** Why a message was not delivered to a client. */
export type DropReason =
  | 'slow-client'
  | 'queue-full'
  | 'packet-too-large'
  | 'expired'
  | 'packet-id-exhausted'
  | 'not-connected';

/** A subscriber selected for one message: a client id with its merged options. */
export interface Subscriber {
  clientId: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subscriptionIds: number[] | undefined;
}

/**
 * A hook: an object with any of these optional methods. Hooks run in the order they were added. A
 * method's shape tells its kind: a gate returns a verdict, a transform returns the (possibly changed)
 * value, a notification returns nothing.
 * Only authentication may return promises: everything on the message path is
 * synchronous, so no promise is created per message.
 */
export interface Hook {
  /** A name for logs. */
  readonly id?: string;

  /** Notification: the broker has started (storage loaded, listeners listening). */
  onStarted?(): void;
  /** Notification: the broker has stopped. */
  onStopped?(): void;
  /** Gate: a new connection before any packet is read (block lists, rate limits). `false` closes it. */
  onAccept?(info: ConnectionInfo): boolean | undefined;
  /** Gate (may be async): authenticate a CONNECT. The first hook returning a verdict decides. */
  onConnectAuthenticate?(client: ClientInfo, packet: ConnectPacket): MaybePromise<AuthOutcome | undefined>;
  /** Gate (may be async): an AUTH packet during enhanced authentication or re-authentication. */
  onAuthPacket?(client: ClientInfo, packet: AuthPacket): MaybePromise<AuthOutcome | undefined>;
  /**
   * Gate: may this client publish to (`write`) or subscribe to (`read`) this topic/filter? `false`
   * refuses with Not authorized (0x87); a number ≥ 0x80 refuses with that reason code (v5).
   */
  onAclCheck?(client: ClientInfo, topic: string, access: 'read' | 'write'): boolean | number | undefined;
  /**
   * Gate: may this message be delivered to this session? Consulted for every live delivery (online
   * or queued for an offline session; `client` is undefined then) and for the retained messages sent
   * when subscribing, so a read `deny` inside a granted subscription (`secret/#` under `#`) holds.
   * `false` from any hook skips that delivery. Only consulted when some hook implements it.
   */
  onAclCheckDelivery?(
    clientId: string,
    client: ClientInfo | undefined,
    message: Message,
  ): boolean | undefined;
  /** Gate: after authentication; return a CONNACK reason code (≥ 0x80) to refuse. */
  onConnect?(client: ClientInfo, packet: ConnectPacket): number | undefined;
  /**
   * Gate (may be async): an authenticated CONNECT is about to get its session (`clean`: Clean
   * Start). Runs after `onConnect`, before the session registry attaches the connection, so a
   * cluster can take the session over from another node and adopt it here first (see
   * `Broker.adoptSession`). Return a reason code ≥ 0x80 to refuse the CONNECT.
   */
  onSessionClaim?(client: ClientInfo, clean: boolean): MaybePromise<number | undefined>;
  /** Notification: CONNACK sent, the session is live on this connection. */
  onSessionEstablished?(client: ClientInfo, packet: ConnectPacket): void;
  /** Notification: the connection closed (`reasonCode` as sent or received, `error` when abnormal). */
  onDisconnect?(
    client: ClientInfo,
    reasonCode: number,
    error: Error | undefined,
    sessionEnded: boolean,
  ): void;
  /** Transform: every packet read, before it is handled. */
  onPacketRead?(client: ClientInfo, packet: Packet): Packet;
  /** Transform: a packet about to be encoded for one client (fan-out PUBLISHes excluded: they are shared). */
  onPacketEncode?(client: ClientInfo, packet: Packet): Packet;
  /**
   * Notification: bytes handed to the socket for a packet, PUBLISHes to subscribers included (for
   * those the packet object is built only when some hook implements this).
   */
  onPacketSent?(client: ClientInfo, packet: Packet, bytes: number): void;
  /** Notification: a packet was fully handled. */
  onPacketProcessed?(client: ClientInfo, packet: Packet): void;
  /** Transform: a SUBSCRIBE before it is applied. */
  onSubscribe?(client: ClientInfo, packet: SubscribePacket): SubscribePacket;
  /** Notification: a SUBSCRIBE was applied with these reason codes. */
  onSubscribed?(client: ClientInfo, packet: SubscribePacket, reasonCodes: number[]): void;
  /** Transform: an UNSUBSCRIBE before it is applied. */
  onUnsubscribe?(client: ClientInfo, packet: UnsubscribePacket): UnsubscribePacket;
  /** Notification: an UNSUBSCRIBE was applied. */
  onUnsubscribed?(client: ClientInfo, packet: UnsubscribePacket, reasonCodes: number[]): void;
  /**
   * Transform/gate: a PUBLISH from a client before it is routed. Return the packet (possibly changed),
   * or a reason code ≥ 0x80 to refuse it (v5 PUBACK/PUBREC carry the code; QoS 0 is dropped).
   */
  onPublish?(client: ClientInfo, packet: PublishPacket): PublishPacket | number;
  /** Notification: a message was routed to its subscribers. `client` is undefined for the host app. */
  onPublished?(client: ClientInfo | undefined, message: Message, deliveries: number): void;
  /** Notification: a message was not delivered to one client. */
  onPublishDropped?(clientId: string, message: Message, reason: DropReason): void;
  /**
   * Gate: may this broker deliver a message to one member of this share group? `false` leaves the
   * group to another process (a cluster node that holds members too), so that the group gets one
   * copy over all of them. Only consulted when some hook implements it.
   */
  onShareGroup?(message: Message, shareName: string, topicFilter: string): boolean | undefined;
  /** Transform: the subscribers chosen for a message (after shared-group selection). */
  onSelectSubscribers?(subscribers: Subscriber[], message: Message): Subscriber[];
  /** Transform/gate: a retained message about to be stored (empty payload: deleted). `false` skips it. */
  onRetainMessage?(client: ClientInfo | undefined, message: Message): boolean | undefined;
  /** Notification: a retained message was stored or deleted. */
  onRetainPublished?(client: ClientInfo | undefined, message: Message): void;
  /** Notification: a QoS 1/2 message was sent (or re-sent) to a client. */
  onQosPublish?(clientId: string, packetId: number, message: Message, resend: boolean): void;
  /**
   * Notification: an outbound QoS 2 flow got its PUBREC and moved to the PUBREL state: the message is
   * delivered, only PUBCOMP is awaited, and a resumed session re-sends PUBREL rather than the PUBLISH
   * [MQTT-4.4.0-1]. A PUBREC with a failure reason code ends the flow instead (`onQosComplete`).
   * Only called when some hook implements it.
   */
  onQosPubrec?(clientId: string, packetId: number): void;
  /** Notification: a QoS 1/2 outbound flow completed. */
  onQosComplete?(clientId: string, packetId: number): void;
  /** Notification: an in-flight QoS 1/2 message was dropped (session ended, expired). */
  onQosDropped?(clientId: string, packetId: number, message: Message): void;
  /**
   * Notification: a QoS 1/2 delivery was appended to a session's queue (the session is offline, its
   * in-flight window is full, its socket is congested, or older messages are still waiting). With
   * `requeued` true, the delivery had just been taken from the head of the queue to be sent and was put
   * back at the tail because every packet id was in use (after `onPacketIdExhausted`): the queue's
   * length is unchanged but its order is not. Not called when a full queue refuses the delivery
   * (`onPublishDropped`, 'queue-full') nor for queued messages restored from storage at start.
   * Only called when some hook implements it.
   */
  onMessageQueued?(clientId: string, delivery: Delivery, requeued: boolean): void;
  /** Notification: every packet id of a session is in use. */
  onPacketIdExhausted?(clientId: string, message: Message): void;
  /** Transform: a will about to be published; return undefined to cancel it. */
  onWill?(clientId: string, will: Will): Will | undefined;
  /** Notification: a will was published. */
  onWillSent?(clientId: string, will: Will): void;
  /** Notification: a session expired. */
  onClientExpired?(clientId: string): void;
  /** Notification: a retained message expired. */
  onRetainedExpired?(topic: string): void;
  /** Notification: the $SYS figures were just published. */
  onSysInfoTick?(info: Readonly<SysInfo>): void;
}

export type HookEvent = Exclude<keyof Hook, 'id'>;

/**
 * Every hook event, in one list the `Hooks` registry sorts hooks by. Checked against the `Hook`
 * interface below at compile time: a method missing here would otherwise never be called.
 */
const events = [
  'onStarted',
  'onStopped',
  'onAccept',
  'onConnectAuthenticate',
  'onAuthPacket',
  'onAclCheck',
  'onAclCheckDelivery',
  'onConnect',
  'onSessionClaim',
  'onSessionEstablished',
  'onDisconnect',
  'onPacketRead',
  'onPacketEncode',
  'onPacketSent',
  'onPacketProcessed',
  'onSubscribe',
  'onSubscribed',
  'onUnsubscribe',
  'onUnsubscribed',
  'onPublish',
  'onPublished',
  'onPublishDropped',
  'onShareGroup',
  'onSelectSubscribers',
  'onRetainMessage',
  'onRetainPublished',
  'onQosPublish',
  'onQosPubrec',
  'onQosComplete',
  'onQosDropped',
  'onMessageQueued',
  'onPacketIdExhausted',
  'onWill',
  'onWillSent',
  'onClientExpired',
  'onRetainedExpired',
  'onSysInfoTick',
] as const satisfies readonly HookEvent[];

/** Compiles only while `events` lists every method of `Hook` (the error names the missing ones). */
export type UnlistedHookEvents = Exclude<HookEvent, (typeof events)[number]>;
const everyEventListed: [UnlistedHookEvents] extends [never] ? true : UnlistedHookEvents = true;
void everyEventListed;

/**
 * The registered hooks, sorted into one array per event when added, so that running an event is a
 * loop over exactly the hooks that implement it (and a length check when none does).
 */
export class Hooks {
  readonly all: Hook[] = [];
  readonly on = Object.fromEntries(events.map((e) => [e, [] as Hook[]])) as Record<HookEvent, Hook[]>;

  add(hook: Hook): void {
    this.all.push(hook);
    for (const event of events) if (typeof hook[event] === 'function') this.on[event].push(hook);
  }

  /**
   * Takes a hook out; false when it was not added. The event arrays are replaced, not changed in
   * place, so a loop running over one (a hook removing itself while called) finishes unchanged.
   */
  remove(hook: Hook): boolean {
    const index = this.all.indexOf(hook);
    if (index < 0) return false;
    this.all.splice(index, 1);
    for (const event of events) {
      if (this.on[event].includes(hook)) this.on[event] = this.on[event].filter((h) => h !== hook);
    }
    return true;
  }

  has(event: HookEvent): boolean {
    return this.on[event].length > 0;
  }

  /** Runs the authentication gates in order; the first verdict wins. Stays synchronous when they are. */
  authenticate(client: ClientInfo, packet: ConnectPacket): MaybePromise<AuthOutcome | undefined> {
    return chain(this.on.onConnectAuthenticate, 0, (h) => h.onConnectAuthenticate!(client, packet));
  }

  /** Runs the session claims in order; the first refusal (≥ 0x80) wins. Stays synchronous when they are. */
  claimSession(client: ClientInfo, clean: boolean): MaybePromise<number | undefined> {
    return chain(this.on.onSessionClaim, 0, (h) => {
      const code = h.onSessionClaim!(client, clean);
      return code instanceof Promise
        ? code.then((c) => (c !== undefined && c >= 0x80 ? c : undefined))
        : code !== undefined && code >= 0x80
          ? code
          : undefined;
    });
  }

  authPacket(client: ClientInfo, packet: AuthPacket): MaybePromise<AuthOutcome | undefined> {
    return chain(this.on.onAuthPacket, 0, (h) => h.onAuthPacket!(client, packet));
  }

  /**
   * ACL: the first hook with a verdict decides; with no ACL hook everything authenticated is allowed.
   * Returns 0 when allowed, otherwise the reason code to refuse with.
   */
  acl(client: ClientInfo, topic: string, access: 'read' | 'write'): number {
    const hooks = this.on.onAclCheck;
    // Indexed loops here and in `mayDeliver`: they run for every PUBLISH and every delivery.
    for (let i = 0; i < hooks.length; i++) {
      const verdict = hooks[i]!.onAclCheck!(client, topic, access);
      if (verdict === undefined) continue;
      if (verdict === true) return 0;
      return verdict === false ? ReasonCode.NotAuthorized : verdict;
    }
    return 0;
  }
}

/**
 * The delivery gates: false when any hook refuses this delivery. Callers check
 * `hooks.on.onAclCheckDelivery.length` first, so brokers without such a hook pay nothing.
 */
export function mayDeliver(
  hooks: Hooks,
  clientId: string,
  client: ClientInfo | undefined,
  message: Message,
): boolean {
  if (client?.trusted === true) return true; // the host's own connection (a bridge)
  const gates = hooks.on.onAclCheckDelivery;
  for (let i = 0; i < gates.length; i++) {
    if (gates[i]!.onAclCheckDelivery!(clientId, client, message) === false) return false;
  }
  return true;
}

/** The share-group gates: false when any hook leaves the group to another process. */
export function mayServeShare(
  hooks: Hooks,
  message: Message,
  shareName: string,
  topicFilter: string,
): boolean {
  for (const h of hooks.on.onShareGroup) {
    if (h.onShareGroup!(message, shareName, topicFilter) === false) return false;
  }
  return true;
}

function chain<T>(
  hooks: Hook[],
  start: number,
  call: (hook: Hook) => MaybePromise<T | undefined>,
): MaybePromise<T | undefined> {
  for (let i = start; i < hooks.length; i++) {
    const result = call(hooks[i]!);
    if (result instanceof Promise) {
      return result.then((value) => (value !== undefined ? value : chain(hooks, i + 1, call)));
    }
    if (result !== undefined) return result;
  }
  return undefined;
}

/** A hook that lets every client connect, publish and subscribe. For tests and trusted networks. */
export class AllowAllHook implements Hook {
  readonly id = 'allow-all';
  onConnectAuthenticate(): boolean {
    return true;
  }
  onAclCheck(): boolean {
    return true;
  }
}

/** A hook that logs connections, subscriptions, messages and drops at `debug` level. */
export class DebugHook implements Hook {
  readonly id = 'debug';
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger;
  }
  onStarted(): void {
    this.#log.debug({}, 'broker started');
  }
  onStopped(): void {
    this.#log.debug({}, 'broker stopped');
  }
  onSessionEstablished(client: ClientInfo, packet: ConnectPacket): void {
    this.#log.debug(
      { clientId: client.id, remote: client.remoteAddress, version: packet.protocolVersion },
      'client connected',
    );
  }
  onDisconnect(client: ClientInfo, reasonCode: number, error: Error | undefined): void {
    this.#log.debug({ clientId: client.id, reasonCode, error: error?.message }, 'client disconnected');
  }
  onPacketRead(client: ClientInfo, packet: Packet): Packet {
    this.#log.debug({ clientId: client.id, type: packet.type }, 'packet read');
    return packet;
  }
  onSubscribed(client: ClientInfo, packet: SubscribePacket, reasonCodes: number[]): void {
    this.#log.debug(
      { clientId: client.id, filters: packet.subscriptions.map((s) => s.topicFilter), reasonCodes },
      'subscribed',
    );
  }
  onPublished(client: ClientInfo | undefined, message: Message, deliveries: number): void {
    this.#log.debug({ clientId: client?.id ?? '', topic: message.topic, deliveries }, 'published');
  }
  onPublishDropped(clientId: string, message: Message, reason: DropReason): void {
    this.#log.debug({ clientId, topic: message.topic, reason }, 'message dropped');
  }
}
