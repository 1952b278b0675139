import type { SessionSubscription, StoredSession } from '@x/broker';
import { encodeSession, encodeSubscription } from './records.js';
import type { StoreKeys } from './redis-keys.js';
import type { WriteBatch } from './write-batch.js';

/** What one session's own records (its `clients` field, its subscriptions) went through. */
interface SessionChanges {
  /** Every key of the session was deleted first: the session ended, or started anew. */
  cleared: boolean;
  /** The record to write; null: the record is deleted; undefined: not changed. */
  session: StoredSession | null | undefined;
  /** Subscriptions to write; null: deleted. */
  subscriptions: Map<string, SessionSubscription | null>;
}

/**
 * Session-level changes (session records and subscriptions), folded per session, kept until Redis
 * confirms them. The broker records a session's disconnection, expiry, will or SUBSCRIBE once and
 * never again: a commit that failed (or changes recorded while Redis was unreachable) would lose
 * them for good, so the store writes them again, in front of the newer changes, at the next commit
 * that reaches Redis.
 *
 * Messages (queued, in flight, retained) are not kept here: a publish whose commit failed is
 * refused, and its publisher sends it again.
 */
export class SessionLedger {
  readonly #clients = new Map<string, SessionChanges>();

  get empty(): boolean {
    return this.#clients.size === 0;
  }

  #entry(clientId: string): SessionChanges {
    let entry = this.#clients.get(clientId);
    if (entry === undefined) {
      entry = { cleared: false, session: undefined, subscriptions: new Map() };
      this.#clients.set(clientId, entry);
    }
    return entry;
  }

  /** The session's keys are deleted before what follows (a session new to Redis, or ended). */
  clear(clientId: string): void {
    this.#clients.set(clientId, { cleared: true, session: null, subscriptions: new Map() });
  }

  saveSession(session: StoredSession): void {
    this.#entry(session.clientId).session = session;
  }

  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.#entry(clientId).subscriptions.set(subscription.topicFilter, subscription);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#entry(clientId).subscriptions.set(topicFilter, null);
  }

  /** Drops what is kept for a session another node took over. */
  forget(clientId: string): void {
    this.#clients.delete(clientId);
  }

  /** Empties the ledger and returns what it held. */
  take(): SessionLedger {
    const taken = new SessionLedger();
    for (const [clientId, entry] of this.#clients) taken.#clients.set(clientId, entry);
    this.#clients.clear();
    return taken;
  }

  /** Folds `later` (recorded after everything here) into this ledger: the later change wins. */
  append(later: SessionLedger): void {
    for (const [clientId, theirs] of later.#clients) {
      const mine = this.#clients.get(clientId);
      if (mine === undefined || theirs.cleared) {
        this.#clients.set(clientId, theirs);
        continue;
      }
      if (theirs.session !== undefined) mine.session = theirs.session;
      for (const [filter, sub] of theirs.subscriptions) mine.subscriptions.set(filter, sub);
    }
  }

  /** Forgets what `written` (newer, confirmed by Redis) has replaced. */
  supersede(written: SessionLedger): void {
    for (const [clientId, theirs] of written.#clients) {
      const mine = this.#clients.get(clientId);
      if (mine === undefined) continue;
      if (theirs.cleared) {
        this.#clients.delete(clientId);
        continue;
      }
      if (theirs.session !== undefined) mine.session = undefined;
      for (const filter of theirs.subscriptions.keys()) mine.subscriptions.delete(filter);
      if (!mine.cleared && mine.session === undefined && mine.subscriptions.size === 0)
        this.#clients.delete(clientId);
    }
  }

  /** Records every kept change into `batch`, as the change methods would have. */
  writeTo(batch: WriteBatch, keys: StoreKeys): void {
    for (const [clientId, entry] of this.#clients) {
      if (entry.cleared) {
        for (const key of keys.sessionKeys(clientId)) batch.del(clientId, key);
        if (entry.session === null) batch.hdel('clients', keys.clients, clientId);
      }
      if (entry.session != null) batch.hset('clients', keys.clients, clientId, encodeSession(entry.session));
      for (const [filter, sub] of entry.subscriptions) {
        if (sub === null) batch.hdel(clientId, keys.subs(clientId), filter);
        else batch.hset(clientId, keys.subs(clientId), filter, encodeSubscription(sub));
      }
    }
  }
}
