import type { ProtocolVersion, Will } from '@x/packets';
import type { SubscriptionTrie } from '@x/topics';
import type { Client } from './client.js';
import type { Hooks } from './hooks.js';
import type { Persistence } from './persistence.js';
import { NEVER_EXPIRES, Session, type SessionInfo } from './session.js';

/** What the host application sees of the sessions: look-ups and iteration, no changes. */
export interface SessionsView {
  readonly size: number;
  get(clientId: string): SessionInfo | undefined;
  has(clientId: string): boolean;
  values(): IterableIterator<SessionInfo>;
}

/** What the registry needs from the rest of the broker. */
export interface SessionRegistryDeps {
  readonly hooks: Hooks;
  readonly subscriptions: SubscriptionTrie<string>;
  readonly persistence: Persistence;
  /** Publishes a will now (the publish pipeline's job). */
  publishWill(clientId: string, will: Will): void;
}

/**
 * Every session by client id, online or not, and the one owner of the client↔session link: a
 * connection gets its session here (taking it over from an older connection, starting clean or
 * resuming), gives it back here when it closes (scheduling the will and the expiry), and sessions end
 * here (expiry, clean start), never by a handler setting both ends by hand.
 */
export class SessionRegistry implements SessionsView {
  readonly #sessions = new Map<string, Session>();
  /** Sessions with a pending will or an expiry to watch. */
  readonly #timed = new Set<Session>();
  readonly #deps: SessionRegistryDeps;
  readonly #idPrefix: string;
  #idCounter = 0;

  constructor(deps: SessionRegistryDeps, idPrefix: string) {
    this.#deps = deps;
    this.#idPrefix = idPrefix;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(clientId: string): Session | undefined {
    return this.#sessions.get(clientId);
  }

  has(clientId: string): boolean {
    return this.#sessions.has(clientId);
  }

  values(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /** A fresh client identifier no session uses [MQTT-3.1.3-6]. */
  generateClientId(): string {
    let id: string;
    do id = `${this.#idPrefix}${++this.#idCounter}`;
    while (this.#sessions.has(id));
    return id;
  }

  /** The connected client with this id. */
  connected(clientId: string): Client | undefined {
    const client = this.#sessions.get(clientId)?.client;
    return client?.state === 'connected' ? client : undefined;
  }

  /**
   * Gives a CONNECTed client its session: an older connection with the same id is closed first
   * [MQTT-3.1.4-3] (v5: DISCONNECT 0x8E), clean start discards any existing session
   * [MQTT-3.1.2-4] [MQTT-3.1.2-6], otherwise the existing one resumes (its delayed will cancelled
   * [MQTT-3.1.3-9]). `present` is the CONNACK's Session Present [MQTT-3.2.2-2].
   */
  attach(
    client: Client,
    clean: boolean,
    protocolVersion: ProtocolVersion,
    takeOver: (old: Client) => void,
  ): { session: Session; present: boolean } {
    const id = client.id;
    let session = this.#sessions.get(id);
    const old = session?.client;
    if (old !== undefined) {
      takeOver(old);
      session = this.#sessions.get(id); // the old connection's close may have ended it
    }
    let present = false;
    if (clean || session === undefined) {
      if (session !== undefined) this.end(session);
      session = new Session(id, protocolVersion);
      this.#sessions.set(id, session);
    } else {
      present = true;
      session.protocolVersion = protocolVersion;
      session.pendingWill = undefined;
      session.willDueAt = 0;
      session.expiresAt = 0;
      this.#timed.delete(session);
    }
    session.client = client;
    client.session = session;
    return { session, present };
  }

  /**
   * A connection closed: its session goes offline, its will is published or scheduled, and the
   * session ends now (expiry 0) or is scheduled to expire. Returns true when the session ended.
   */
  detach(client: Client): boolean {
    const session = client.session;
    if (session === undefined || session.client !== client) return false;
    session.client = undefined;
    const now = Date.now();
    session.disconnectedAt = now;
    const will = session.will;
    session.will = undefined;
    if (will !== undefined) {
      const delay = will.properties?.willDelayInterval ?? 0;
      if (delay === 0 || session.expiryInterval === 0) this.#deps.publishWill(session.clientId, will);
      else {
        // [MQTT-3.1.3-9] published after the delay or when the session ends, whichever is first
        session.pendingWill = will;
        session.willDueAt = now + Math.min(delay, session.expiryInterval) * 1000;
        this.#timed.add(session);
      }
    }
    if (session.expiryInterval === 0) {
      this.end(session);
      return true;
    }
    if (session.expiryInterval !== NEVER_EXPIRES) {
      session.expiresAt = now + session.expiryInterval * 1000;
      this.#timed.add(session);
    }
    this.#deps.persistence.sessionChanged(session);
    return false;
  }

  /** Ends a session: subscriptions, queue and in-flight messages go; a pending will is sent. */
  end(session: Session): void {
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
    this.#deps.subscriptions.removeClient(session.clientId);
    this.#timed.delete(session);
    const dropped = this.#deps.hooks.on.onQosDropped;
    for (const entry of session.inflight.values()) {
      for (const h of dropped) h.onQosDropped!(session.clientId, entry.packetId, entry.delivery.message);
    }
    session.inflight.clear();
    session.queue.clear();
    session.queuedBytes = 0;
    this.#deps.persistence.sessionEnded(session);
    const will = session.pendingWill;
    if (will !== undefined) {
      session.pendingWill = undefined;
      this.#deps.publishWill(session.clientId, will);
    }
  }

  /**
   * Forgets an offline session without ending it: it goes on elsewhere (another cluster node took
   * it over), so the store keeps it, no will is published and no expiry runs here.
   */
  forget(session: Session): void {
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
    this.#deps.subscriptions.removeClient(session.clientId);
    this.#timed.delete(session);
  }

  /**
   * Publishes the will of every connected session now, as their connections are about to be closed
   * by a shutdown (so live subscribers receive them before they are disconnected themselves).
   */
  publishConnectedWills(): void {
    for (const session of this.#sessions.values()) {
      const will = session.will;
      if (session.client === undefined || will === undefined) continue;
      session.will = undefined;
      this.#deps.publishWill(session.clientId, will);
    }
  }

  /** Publishes the wills waiting for their delay (a broker shutting down owes them now). */
  publishPendingWills(): void {
    for (const session of this.#timed) {
      const will = session.pendingWill;
      if (will === undefined) continue;
      session.pendingWill = undefined;
      this.#deps.publishWill(session.clientId, will);
    }
  }

  /** Publishes the wills that are due and ends the sessions that expired. */
  sweep(now: number): void {
    for (const session of this.#timed) {
      if (session.pendingWill !== undefined && session.willDueAt <= now) {
        const will = session.pendingWill;
        session.pendingWill = undefined;
        this.#deps.publishWill(session.clientId, will);
        if (session.expiresAt === 0 || session.expiresAt > now)
          this.#deps.persistence.sessionChanged(session);
      }
      if (session.expiresAt !== 0 && session.expiresAt <= now && session.client === undefined) {
        session.expiresAt = 0;
        this.end(session);
        for (const h of this.#deps.hooks.on.onClientExpired) h.onClientExpired!(session.clientId);
      }
      if (session.pendingWill === undefined && session.expiresAt === 0) this.#timed.delete(session);
    }
  }

  /**
   * Adds a session read from storage, offline. Its expiry counts from `disconnectedAt`; a will it
   * still owes is published by the first sweep when due, or when the session expired meanwhile (after
   * loading, so restored subscribers receive it). Returns undefined for a session already expired
   * with nothing owed.
   */
  restore(
    clientId: string,
    protocolVersion: ProtocolVersion,
    expiryInterval: number,
    disconnectedAt: number,
    pendingWill: { will: Will; dueAt: number } | undefined,
    now: number,
  ): Session | undefined {
    const session = new Session(clientId, protocolVersion);
    session.expiryInterval = expiryInterval;
    session.disconnectedAt = disconnectedAt;
    if (pendingWill !== undefined) {
      session.pendingWill = pendingWill.will;
      session.willDueAt = pendingWill.dueAt;
      this.#timed.add(session);
    }
    if (expiryInterval !== NEVER_EXPIRES) {
      session.expiresAt = disconnectedAt + expiryInterval * 1000;
      if (session.expiresAt <= now && pendingWill === undefined) return undefined;
      this.#timed.add(session);
    }
    this.#sessions.set(clientId, session);
    return session;
  }
}
