import { createHash } from 'node:crypto';
import type { AuthOutcome, Hook, Logger, Message } from '@x/broker';
import type { ConnectPacket } from '@x/packets';
import { type AclEntry, AclList } from './acl-list.js';
import type { AuthClient } from './client-view.js';
import { addressWithoutPort } from './hook.js';
import { ResultCache, type ResultCacheOptions } from './result-cache.js';

/** What a backend is asked at CONNECT time. */
export interface AuthRequest {
  clientId: string;
  username: string | undefined;
  /** The CONNECT password, as sent. A credential: backends must never log it. */
  password: Uint8Array | undefined;
  /** Remote address without port; empty for Unix sockets and in-memory connections. */
  remoteAddress: string;
  listener: string;
  protocolVersion: number;
}

/** A backend's answer for one CONNECT. */
export interface BackendVerdict {
  /**
   * `true` accepts, `false` refuses (Bad User Name or Password), `undefined` means this backend does
   * not know the client: the next hook decides (and the broker refuses when none does).
   */
  allowed: boolean | undefined;
  /**
   * The client's ACL (Mosquitto semantics, see `AclList`), `'all'` for a superuser, or undefined
   * for no ACL verdicts from this backend (the next ACL hook decides).
   */
  acl?: readonly AclEntry[] | 'all' | undefined;
  /** Epoch ms after which the verdict lapses (a token's expiry): every ACL check refuses after it. */
  expiresAt?: number | undefined;
  /** Why a refusal was made (`token expired`), for the log; never a credential. */
  reason?: string | undefined;
}

/** A remote source of credentials and ACLs: HTTP, Redis, PostgreSQL, JWT… */
export interface AuthBackend {
  /** A short name for logs and per-connection data (`http`, `redis`, `postgres`, `jwt`). */
  readonly name: string;
  /**
   * Answers for one CONNECT. Rejects when the backend cannot be reached or answers nonsense; the
   * hook then applies its fail mode. `signal` aborts when the hook's timeout passes.
   */
  check(request: AuthRequest, signal: AbortSignal): Promise<BackendVerdict>;
  /** Releases connections; called when the broker stops. */
  close?(): Promise<void>;
}

/** What a {@link BackendAuthHook} does when its backend fails (unreachable, timeout, bad answer). */
export const FailMode = {
  /** Refuse the CONNECT with 0x88 Server unavailable (v3.1.1: return code 3). */
  closed: 'closed',
  /** Accept the CONNECT with no ACL restriction from this backend. */
  open: 'open',
  /** Give no verdict: the next hook decides. */
  next: 'next',
} as const;
export type FailMode = (typeof FailMode)[keyof typeof FailMode];

/** Options of {@link BackendAuthHook}. */
export interface BackendAuthHookOptions {
  backend: AuthBackend;
  /** Default `closed`. */
  failMode?: FailMode;
  /** Give up on the backend after this many ms (then the fail mode applies). Default 5 000. */
  timeoutMs?: number;
  /**
   * Cache definite answers (accepted or refused, with the ACL) per client id, user name, password
   * and remote address, bounded in entries and bytes. Keys are SHA-256 digests, so no password is
   * held. Default `false` (no cache).
   */
  cache?: ResultCacheOptions | false;
  /** Most ACL entries one client may get; a longer answer counts as a backend failure. Default 1 000. */
  maxAclEntries?: number;
  /**
   * Check read access per delivered message too (a `deny` inside a granted subscription). Then a
   * SUBSCRIBE is granted when some readable topic matches its filter; without delivery checks, only
   * when readable entries cover the whole filter. Default true.
   */
  checkDelivery?: boolean;
  /** Where refusals (`info`) and backend failures (`warn`, rate-limited) are logged. */
  logger?: Logger;
  /** At most one failure line per this many ms; the next one says how many were left out. Default 10 000. */
  logIntervalMs?: number;
}

/** What one connection holds: its ACL, fixed at CONNECT time. */
interface Held {
  acl: AclList | 'all';
  expiresAt: number;
  /** Disconnects the client at `expiresAt` (see `disconnectOnExpiry`). */
  timer?: NodeJS.Timeout;
}

/** What {@link BackendAuthHook.disconnectOnExpiry} needs of the broker: `Broker` has both. */
export interface ExpiryBroker {
  client(clientId: string): { readonly data: Record<string, unknown> } | undefined;
  kick(clientId: string, reasonCode?: number): boolean;
}

/** The longest delay `setTimeout` takes (about 24.8 days); later expiries get no timer. */
const MAX_TIMER = 2 ** 31 - 1;

interface Cached {
  allowed: boolean;
  reason: string | undefined;
  acl: readonly AclEntry[] | 'all' | undefined;
  expiresAt: number;
}

const SERVER_UNAVAILABLE = 0x88;
const NOT_AUTHORIZED = 0x87;

/**
 * Authenticates CONNECTs against an {@link AuthBackend} and enforces the ACL it returns. The broker's
 * ACL gate is synchronous, so the ACL is fetched once, with the credentials, and kept on the
 * connection (`client.data`); offline sessions keep theirs for delivery checks until they end. Chain
 * it with a `LedgerHook` or other backends: hooks run in the order added and the first verdict wins.
 * A backend failure never throws into the broker: it is logged (one line per interval) and the fail
 * mode decides.
 */
export class BackendAuthHook implements Hook {
  readonly id: string;
  readonly backend: AuthBackend;
  readonly failMode: FailMode;
  readonly #timeoutMs: number;
  readonly #cache: ResultCache<Cached> | undefined;
  readonly #maxAcl: number;
  readonly #log: Logger | undefined;
  readonly #logInterval: number;
  readonly #key: string;
  #expiryBroker: ExpiryBroker | undefined;
  #lastLog = Number.NEGATIVE_INFINITY;
  #suppressed = 0;
  /** The ACL of each session this hook authenticated, for delivery checks while it is offline. */
  readonly #sessions = new Map<string, Held>();
  readonly onAclCheckDelivery?: (
    clientId: string,
    client: AuthClient | undefined,
    message: Message,
  ) => boolean;

  constructor(options: BackendAuthHookOptions) {
    this.backend = options.backend;
    this.id = `auth-${options.backend.name}`;
    this.#key = `auth:${options.backend.name}`;
    this.failMode = options.failMode ?? FailMode.closed;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#cache =
      options.cache === false || options.cache === undefined ? undefined : new ResultCache(options.cache);
    this.#maxAcl = options.maxAclEntries ?? 1_000;
    this.#log = options.logger;
    this.#logInterval = options.logIntervalMs ?? 10_000;
    if (options.checkDelivery ?? true) {
      this.onAclCheckDelivery = (clientId, client, message) => {
        const held =
          client !== undefined ? (client.data[this.#key] as Held | undefined) : this.#sessions.get(clientId);
        if (held === undefined) return true;
        if (held.expiresAt <= Date.now()) return false;
        return held.acl === 'all' || held.acl.canRead(message.topic);
      };
    }
  }

  /** Entries and estimated bytes in the result cache (zero without one). */
  get cacheStats(): { entries: number; bytes: number } {
    return { entries: this.#cache?.size ?? 0, bytes: this.#cache?.bytes ?? 0 };
  }

  /** Forgets every cached answer (after changing users in the backend, for instance). */
  clearCache(): void {
    this.#cache?.clear();
  }

  async onConnectAuthenticate(client: AuthClient, packet: ConnectPacket): Promise<AuthOutcome | undefined> {
    const request: AuthRequest = {
      clientId: client.id,
      username: client.username,
      password: packet.password,
      remoteAddress: addressWithoutPort(client.remoteAddress),
      listener: client.listener,
      protocolVersion: client.protocolVersion,
    };
    const key = this.#cache === undefined ? '' : cacheKey(request);
    let answer = this.#cache?.get(key);
    if (answer === undefined) {
      let verdict: BackendVerdict;
      try {
        verdict = await this.#ask(request);
      } catch (error) {
        return this.#failed(client, error);
      }
      if (verdict.allowed === undefined) return undefined;
      answer = {
        allowed: verdict.allowed,
        reason: verdict.reason,
        acl: verdict.acl,
        expiresAt: verdict.expiresAt ?? Number.POSITIVE_INFINITY,
      };
      if (this.#cache !== undefined) {
        // Never cache past the verdict's own expiry.
        if (answer.expiresAt > Date.now() + this.#cache.ttlMs)
          this.#cache.set(key, answer, cachedBytes(answer));
      }
    }
    if (!answer.allowed || answer.expiresAt <= Date.now()) {
      this.#log?.info(
        {
          clientId: client.id,
          username: client.username,
          remote: client.remoteAddress,
          backend: this.backend.name,
          reason: answer.allowed ? 'expired' : answer.reason,
        },
        'CONNECT refused by the auth backend',
      );
      return { ok: false, reasonCode: 0x86 }; // Bad User Name or Password
    }
    if (answer.acl !== undefined) {
      client.data[this.#key] = {
        acl: answer.acl === 'all' ? 'all' : new AclList(answer.acl, client.id, client.username),
        expiresAt: answer.expiresAt,
      } satisfies Held;
    }
    return true;
  }

  onAclCheck(client: AuthClient, topic: string, access: 'read' | 'write'): true | number | undefined {
    const held = client.data[this.#key] as Held | undefined;
    if (held === undefined) return undefined;
    if (held.expiresAt <= Date.now()) return NOT_AUTHORIZED;
    return held.acl === 'all' ? true : held.acl.check(topic, access, this.onAclCheckDelivery !== undefined);
  }

  /**
   * Disconnects each client this hook accepted when its verdict lapses (a token's `exp`), with
   * DISCONNECT 0x87 Not authorized in v5, instead of only refusing its publishes and subscriptions
   * from then on. Pass the `Broker` (after adding the hook is fine).
   */
  disconnectOnExpiry(broker: ExpiryBroker): this {
    this.#expiryBroker = broker;
    return this;
  }

  onSessionEstablished(client: AuthClient): void {
    const held = client.data[this.#key] as Held | undefined;
    if (this.onAclCheckDelivery && held !== undefined) this.#sessions.set(client.id, held);
    else this.#sessions.delete(client.id);
    const broker = this.#expiryBroker;
    if (broker === undefined || held === undefined || !Number.isFinite(held.expiresAt)) return;
    const delay = held.expiresAt - Date.now();
    if (delay > MAX_TIMER) return;
    const clientId = client.id;
    held.timer = setTimeout(
      () => {
        // Only this connection: a client that came back with a fresh token holds another object.
        if (broker.client(clientId)?.data[this.#key] === held) broker.kick(clientId, NOT_AUTHORIZED);
      },
      Math.max(0, delay),
    );
    held.timer.unref();
  }

  onDisconnect(
    client: AuthClient,
    _reasonCode: number,
    _error: Error | undefined,
    sessionEnded: boolean,
  ): void {
    clearTimeout((client.data[this.#key] as Held | undefined)?.timer);
    if (sessionEnded) this.#sessions.delete(client.id);
  }

  onClientExpired(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  onStopped(): void {
    this.backend.close?.().catch((error: unknown) => this.#warn(error, 'closing the auth backend failed'));
  }

  async #ask(request: AuthRequest): Promise<BackendVerdict> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`no answer within ${this.#timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, this.#timeoutMs);
    });
    try {
      // The race holds even for a backend that ignores the signal.
      const verdict = await Promise.race([this.backend.check(request, controller.signal), timeout]);
      if (verdict.acl !== undefined && verdict.acl !== 'all' && verdict.acl.length > this.#maxAcl) {
        throw new Error(`${verdict.acl.length} ACL entries for one client (maxAclEntries ${this.#maxAcl})`);
      }
      return verdict;
    } finally {
      clearTimeout(timer);
    }
  }

  #failed(client: AuthClient, error: unknown): AuthOutcome | undefined {
    this.#warn(error, `auth backend ${this.backend.name} failed; failing ${this.failMode}`);
    if (this.failMode === FailMode.next) return undefined;
    if (this.failMode === FailMode.open) {
      client.data[this.#key] = { acl: 'all', expiresAt: Number.POSITIVE_INFINITY } satisfies Held;
      return true;
    }
    return { ok: false, reasonCode: SERVER_UNAVAILABLE };
  }

  /** One line per interval, so a backend outage does not flood the log. */
  #warn(error: unknown, message: string): void {
    const now = Date.now();
    if (now - this.#lastLog < this.#logInterval) {
      this.#suppressed++;
      return;
    }
    const fields: Record<string, unknown> = {
      backend: this.backend.name,
      error: error instanceof Error ? error.message : String(error),
    };
    if (this.#suppressed > 0) fields.suppressed = this.#suppressed;
    this.#lastLog = now;
    this.#suppressed = 0;
    this.#log?.warn(fields, message);
  }
}

function cacheKey(request: AuthRequest): string {
  const hash = createHash('sha256');
  for (const part of [request.clientId, request.username ?? '\0', request.remoteAddress, request.listener]) {
    hash.update(part).update('\0');
  }
  if (request.password !== undefined) hash.update('p').update(request.password);
  else hash.update('n');
  return hash.digest('base64');
}

function cachedBytes(answer: Cached): number {
  let bytes = 160; // key, slot and object overhead
  if (Array.isArray(answer.acl)) for (const entry of answer.acl) bytes += 48 + entry.filter.length * 2;
  return bytes;
}
