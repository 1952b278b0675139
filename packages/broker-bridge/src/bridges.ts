import { randomBytes } from 'node:crypto';
import type { Broker, ClientInfo, DropReason, Hook, Logger, Message, Subscriber } from '@x/broker';
import { Bridge, passedThrough } from './bridge.js';
import { BridgeError } from './errors.js';
import { BRIDGE_LISTENER } from './local-link.js';
import { type BridgeOptions, resolveBridgeOptions } from './options.js';
import type { BridgeHook, BridgeStatus } from './status.js';

/** Options of {@link Bridges}. */
export interface BridgesOptions {
  /**
   * This broker's name in the loop-prevention path of forwarded v5 messages (the `x-bridge-via` user
   * property): unique among the brokers bridged together. Default: 8 random hex digits per process.
   */
  nodeId?: string;
  /** Default: the broker's logger. */
  logger?: Logger;
}

/**
 * The bridges of one broker, and the broker hook they need. Create it before adding authentication
 * hooks: its hook lets the bridges' own in-process connections in (the first verdict wins), refuses
 * network clients that try to take a bridge's client id, stops looping messages, counts the drops of
 * the bridges' sessions and publishes `$SYS/broker/bridges/<name>/…`.
 *
 * ```ts
 * const broker = new Broker();
 * const bridges = new Bridges(broker);
 * broker.addHook(new AllowAllHook());
 * bridges.add({ name: 'cloud', url: 'mqtt://cloud:1883', topics: [{ filter: 'out/#', direction: 'out', qos: 1 }] });
 * await broker.start(); // the bridges start with it
 * await bridges.close(); // before broker.close(): nothing in flight is acknowledged
 * await broker.close();
 * ```
 */
export class Bridges implements Hook {
  readonly id = 'bridges';
  readonly nodeId: string;
  readonly #broker: Broker;
  readonly #log: Logger;
  readonly #bridges = new Map<string, Bridge>();
  readonly #byLocalId = new Map<string, Bridge>();
  readonly #hooks: BridgeHook[] = [];

  constructor(broker: Broker, options: BridgesOptions = {}) {
    this.#broker = broker;
    this.#log = options.logger ?? broker.log;
    this.nodeId = options.nodeId ?? randomBytes(4).toString('hex');
    broker.addHook(this);
  }

  /**
   * Adds a bridge; it starts with the broker (now, when the broker is already running).
   * @throws {BridgeError} INVALID_OPTIONS (the message names the option), BRIDGE_EXISTS.
   */
  add(options: BridgeOptions): Bridge {
    const resolved = resolveBridgeOptions(options);
    if (this.#bridges.has(resolved.name)) throw new BridgeError('BRIDGE_EXISTS', `"${resolved.name}"`);
    const bridge = new Bridge(resolved, {
      broker: this.#broker,
      nodeId: this.nodeId,
      log: this.#log,
      hooks: this.#hooks,
    });
    this.#bridges.set(bridge.name, bridge);
    this.#byLocalId.set(resolved.localClientId, bridge);
    if (this.#broker.state === 'running') this.#start(bridge);
    return bridge;
  }

  /** Adds an observer of the bridges' events; they run in the order added. */
  addHook(hook: BridgeHook): this {
    this.#hooks.push(hook);
    return this;
  }

  get(name: string): Bridge | undefined {
    return this.#bridges.get(name);
  }

  /** Every bridge's figures, in the order added. */
  status(): BridgeStatus[] {
    return [...this.#bridges.values()].map((b) => b.status());
  }

  /** Stops every bridge, leaving what is in flight unacknowledged (kept by the sessions on both sides). */
  async close(): Promise<void> {
    await Promise.all([...this.#bridges.values()].map((b) => b.close()));
  }

  #start(bridge: Bridge): void {
    bridge.start().catch((error: Error) => {
      this.#log.error({ bridge: bridge.name, error: error.message }, 'bridge did not start');
    });
  }

  // ---- broker hook ----

  onStarted(): void {
    for (const bridge of this.#bridges.values()) this.#start(bridge);
  }

  onStopped(): void {
    void this.close();
  }

  onConnectAuthenticate(client: ClientInfo): boolean | undefined {
    if (client.listener === BRIDGE_LISTENER && client.trusted) return true;
    // A network client must not take over (and so end) a bridge's session.
    if (this.#byLocalId.has(client.id)) return false;
    return undefined;
  }

  onSelectSubscribers(subscribers: Subscriber[], message: Message): Subscriber[] {
    if (!passedThrough(message.properties, this.nodeId)) return subscribers;
    // This broker forwarded the message before: it went round a loop of bridges.
    for (const bridge of this.#bridges.values()) {
      if (subscribers.some((s) => s.clientId === bridge.options.localClientId)) bridge.loopStopped();
    }
    return [];
  }

  onRetainMessage(_client: ClientInfo | undefined, message: Message): boolean | undefined {
    return passedThrough(message.properties, this.nodeId) ? false : undefined;
  }

  onPublishDropped(clientId: string, message: Message, reason: DropReason): void {
    this.#byLocalId.get(clientId)?.droppedLocally(message.topic, reason);
  }

  onSysInfoTick(): void {
    for (const s of this.status()) {
      const base = `$SYS/broker/bridges/${s.name}`;
      const publish = (suffix: string, value: string | number) =>
        this.#broker.publish(`${base}/${suffix}`, String(value), { retain: true });
      publish('state', s.connected ? 'connected' : 'disconnected');
      publish('since', new Date(s.since).toISOString());
      publish('messages/forwarded/in', s.forwardedIn);
      publish('messages/forwarded/out', s.forwardedOut);
      publish('messages/queued', s.queued);
      publish('bytes/queued', s.queuedBytes);
      publish('messages/dropped', s.dropped);
      publish('messages/overruns', s.receiveMaximumOverruns);
    }
  }
}
