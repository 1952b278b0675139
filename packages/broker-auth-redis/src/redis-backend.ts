import {
  type AclEntry,
  type AuthBackend,
  type AuthRequest,
  BackendAuthHook,
  type BackendAuthHookOptions,
  type BackendVerdict,
  parseAccess,
  validAclFilter,
  verifyPassword,
} from '@x/broker-auth';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link RedisAuthBackend}. */
export interface RedisAuthBackendOptions {
  /**
   * A connected ioredis client (the caller closes it), or a `redis://` URL / ioredis options (the
   * backend connects, and closes when the broker stops). Default `redis://127.0.0.1:6379`.
   */
  redis?: Redis | string | RedisOptions;
  /**
   * Key of a user's hash; `%u` is the user name, `%c` the client id. Fields: `password` (a hash
   * `hashPassword` writes, a `mosquitto_passwd` hash, bcrypt, or plain text) and optionally
   * `superuser` (`1` or `true`: no ACL restriction). Default `mqtt:user:%u`.
   */
  userKey?: string;
  /**
   * Key of a user's ACL hash: field = topic filter (`%u`, `%c` allowed), value = `read`, `write`,
   * `readwrite` or `deny` (or 1, 2, 3, 0). Default `mqtt:acl:%u`.
   */
  aclKey?: string;
  /** Key of a hash of ACL entries every user gets (patterns with `%u` / `%c`). Default `mqtt:acl:%all`. */
  patternsKey?: string;
  /** Most ACL entries (own plus patterns) read for one client; more is a failure. Default 1 000. */
  maxAclEntries?: number;
}

/**
 * One round trip reads the user, the ACL and the patterns, and refuses (without sending them) an
 * ACL larger than the limit, so a runaway hash cannot swell the broker.
 */
const READ_USER = `
local n = redis.call('HLEN', KEYS[2]) + redis.call('HLEN', KEYS[3])
if n > tonumber(ARGV[1]) then return redis.error_reply('ACL of ' .. n .. ' entries over maxAclEntries') end
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`;

function fill(template: string, request: AuthRequest): string {
  // One pass: a user name holding `%c` is not expanded again.
  return template.replace(/%[uc]/g, (placeholder) =>
    placeholder === '%u' ? (request.username ?? '') : request.clientId,
  );
}

/** `[k1, v1, k2, v2, …]` (HGETALL as the script returns it) → pairs. */
function pairs(flat: unknown): [string, string][] {
  if (!Array.isArray(flat)) return [];
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), String(flat[i + 1])]);
  return out;
}

function aclEntries(flat: unknown, key: string): AclEntry[] {
  return pairs(flat).map(([filter, value]) => {
    const access = parseAccess(value);
    if (!validAclFilter(filter) || access === undefined) {
      throw new Error(
        `ACL hash ${key}: "${filter}" → "${value}" is not a topic filter with read, write, readwrite or deny`,
      );
    }
    return { filter, access };
  });
}

/**
 * An {@link AuthBackend} reading users and ACLs from Redis hashes. A user without a `password`
 * field (or a client without a user name) is unknown here: the next hook decides.
 */
export class RedisAuthBackend implements AuthBackend {
  readonly name = 'redis';
  readonly redis: Redis;
  readonly #owned: boolean;
  readonly #userKey: string;
  readonly #aclKey: string;
  readonly #patternsKey: string;
  readonly #maxAcl: number;
  /** Set once connected: until then a CONNECT waits for the first connection (outages fail fast). */
  #ready = false;

  constructor(options: RedisAuthBackendOptions = {}) {
    const given = options.redis ?? 'redis://127.0.0.1:6379';
    this.#owned = !(given instanceof Redis);
    // Fail a command fast while Redis is away (the hook's fail mode answers) rather than queue it.
    const defaults: RedisOptions = {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      enableOfflineQueue: false,
    };
    this.redis =
      given instanceof Redis
        ? given
        : typeof given === 'string'
          ? new Redis(given, defaults)
          : new Redis({ ...defaults, ...given });
    // Connection errors surface through check() and the hook's rate-limited log; an 'error' event
    // without a listener would print every reconnection attempt.
    if (this.#owned) this.redis.on('error', () => undefined);
    this.#ready = this.redis.status === 'ready';
    if (!this.#ready) this.redis.once('ready', () => (this.#ready = true));
    this.#userKey = options.userKey ?? 'mqtt:user:%u';
    this.#aclKey = options.aclKey ?? 'mqtt:acl:%u';
    this.#patternsKey = options.patternsKey ?? 'mqtt:acl:%all';
    this.#maxAcl = options.maxAclEntries ?? 1_000;
  }

  async check(request: AuthRequest, signal: AbortSignal): Promise<BackendVerdict> {
    if (request.username === undefined) return { allowed: undefined };
    if (!this.#ready) await this.#firstConnection(signal);
    const aclKey = fill(this.#aclKey, request);
    const [user, own, patterns] = (await this.redis.eval(
      READ_USER,
      3,
      fill(this.#userKey, request),
      aclKey,
      this.#patternsKey,
      this.#maxAcl,
    )) as [unknown, unknown, unknown];
    const fields = new Map(pairs(user));
    const stored = fields.get('password');
    if (stored === undefined) return { allowed: undefined };
    if (!(await verifyPassword(request.password, stored))) return { allowed: false };
    const superuser = fields.get('superuser');
    if (superuser === '1' || superuser === 'true') return { allowed: true, acl: 'all' };
    return { allowed: true, acl: [...aclEntries(own, aclKey), ...aclEntries(patterns, this.#patternsKey)] };
  }

  #firstConnection(signal: AbortSignal): Promise<void> {
    if (this.redis.status === 'wait') this.redis.connect().catch(() => undefined);
    return new Promise((resolve, reject) => {
      const done = () => {
        this.redis.off('ready', done);
        signal.removeEventListener('abort', done);
        if (this.#ready) resolve();
        else reject(new Error(`Redis not connected (${this.redis.status})`));
      };
      this.redis.once('ready', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.#owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Options of {@link redisAuthHook}: the backend's and the hook's. */
export type RedisAuthHookOptions = RedisAuthBackendOptions & Omit<BackendAuthHookOptions, 'backend'>;

/** A hook authenticating against Redis (see {@link RedisAuthBackend}); no result cache unless asked. */
export function redisAuthHook(options: RedisAuthHookOptions = {}): BackendAuthHook {
  const { redis, userKey, aclKey, patternsKey, ...hook } = options;
  const backend: RedisAuthBackendOptions = {};
  if (redis !== undefined) backend.redis = redis;
  if (userKey !== undefined) backend.userKey = userKey;
  if (aclKey !== undefined) backend.aclKey = aclKey;
  if (patternsKey !== undefined) backend.patternsKey = patternsKey;
  if (hook.maxAclEntries !== undefined) backend.maxAclEntries = hook.maxAclEntries;
  return new BackendAuthHook({ ...hook, backend: new RedisAuthBackend(backend) });
}
