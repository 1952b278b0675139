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
import pg from 'pg';

/** Options of {@link PostgresAuthBackend}. */
export interface PostgresAuthBackendOptions {
  /**
   * A `pg.Pool` you own, or a connection string / pool config (the backend makes the pool and ends
   * it when the broker stops). Default: the `PG*` environment variables, as `pg` reads them.
   */
  pool?: pg.Pool | string | pg.PoolConfig;
  /**
   * Returns at most one row for a user: a `password` column (a stored hash, see the README) and
   * optionally a boolean `superuser` column. No row: the user is unknown here and the next hook
   * decides. Parameters: `$1` user name, `$2` client id, `$3` remote address, `$4` listener.
   * Default `SELECT password, superuser FROM mqtt_users WHERE username = $1`.
   */
  userQuery?: string;
  /**
   * Returns a user's ACL: `topic` (a filter, `%u` / `%c` allowed) and `access` (`read`, `write`,
   * `readwrite`, `deny`, or 1, 2, 3, 0) columns; same parameters. Default
   * `SELECT topic, access FROM mqtt_acl WHERE username = $1 OR username IS NULL` (rows without a
   * user name apply to everyone). `null` to take no ACL from PostgreSQL.
   */
  aclQuery?: string | null;
  /** Most ACL rows read for one client (the query runs under a LIMIT); more is a failure. Default 1 000. */
  maxAclEntries?: number;
}

const USER_QUERY = 'SELECT password, superuser FROM mqtt_users WHERE username = $1';
const ACL_QUERY = 'SELECT topic, access FROM mqtt_acl WHERE username = $1 OR username IS NULL';

/**
 * Wraps a configured SELECT so that it always takes the same four text parameters (PostgreSQL
 * refuses a parameter the statement leaves unused, "could not determine data type of parameter")
 * and returns at most `limit` rows. The query runs as a subquery: no text is spliced into it.
 */
export function wrapQuery(sql: string, limit: number): string {
  for (const match of sql.matchAll(/\$(\d+)/g)) {
    if (Number(match[1]) > 4)
      throw new TypeError(`${sql}: only $1 (user name) to $4 (listener) are available`);
  }
  // A trailing semicolon would end the wrapping SELECT early.
  const inner = sql.trim().replace(/;+$/, '');
  return `SELECT q.* FROM (${inner}) AS q, (SELECT $1::text, $2::text, $3::text, $4::text) AS params LIMIT ${limit}`;
}

/**
 * An {@link AuthBackend} asking PostgreSQL with your SQL, always as parameterised queries: no
 * user-supplied text is ever spliced into SQL. Passwords are checked here, never sent to the server.
 */
export class PostgresAuthBackend implements AuthBackend {
  readonly name = 'postgres';
  readonly pool: pg.Pool;
  readonly #owned: boolean;
  readonly #userQuery: string;
  readonly #aclQuery: string | undefined;
  readonly #maxAcl: number;

  constructor(options: PostgresAuthBackendOptions = {}) {
    const given = options.pool;
    this.#owned = !(given instanceof pg.Pool);
    const defaults: pg.PoolConfig = { max: 10, connectionTimeoutMillis: 2_000, statement_timeout: 5_000 };
    this.pool =
      given instanceof pg.Pool
        ? given
        : new pg.Pool(
            typeof given === 'string' ? { ...defaults, connectionString: given } : { ...defaults, ...given },
          );
    // An idle client losing its server emits 'error' on the pool; unhandled, it would end the process.
    // The next query fails instead, and the hook logs it.
    if (this.#owned) this.pool.on('error', () => undefined);
    this.#userQuery = wrapQuery(options.userQuery ?? USER_QUERY, 1);
    this.#maxAcl = options.maxAclEntries ?? 1_000;
    const acl = options.aclQuery === undefined ? ACL_QUERY : options.aclQuery;
    this.#aclQuery = acl === null ? undefined : wrapQuery(acl, this.#maxAcl + 1);
  }

  async check(request: AuthRequest): Promise<BackendVerdict> {
    if (request.username === undefined) return { allowed: undefined };
    const params = [request.username, request.clientId, request.remoteAddress, request.listener];
    const users = await this.pool.query(this.#userQuery, params);
    const row = users.rows[0] as { password?: unknown; superuser?: unknown } | undefined;
    if (row === undefined) return { allowed: undefined };
    if (typeof row.password !== 'string') {
      throw new Error('userQuery must return a text column named "password"');
    }
    if (!(await verifyPassword(request.password, row.password))) return { allowed: false };
    if (row.superuser === true) return { allowed: true, acl: 'all' };
    if (this.#aclQuery === undefined) return { allowed: true };
    const acl = await this.pool.query(this.#aclQuery, params);
    if (acl.rows.length > this.#maxAcl) throw new Error(`more than ${this.#maxAcl} ACL rows (maxAclEntries)`);
    return { allowed: true, acl: acl.rows.map(aclEntry) };
  }

  async close(): Promise<void> {
    if (this.#owned) await this.pool.end();
  }
}

function aclEntry(row: { topic?: unknown; access?: unknown }, index: number): AclEntry {
  const access = parseAccess(row.access);
  if (typeof row.topic !== 'string' || !validAclFilter(row.topic) || access === undefined) {
    throw new Error(
      `aclQuery row ${index}: needs a "topic" filter and an "access" of read, write, readwrite or deny`,
    );
  }
  return { filter: row.topic, access };
}

/** Options of {@link postgresAuthHook}: the backend's and the hook's. */
export type PostgresAuthHookOptions = PostgresAuthBackendOptions & Omit<BackendAuthHookOptions, 'backend'>;

/** A hook authenticating against PostgreSQL (see {@link PostgresAuthBackend}); no result cache unless asked. */
export function postgresAuthHook(options: PostgresAuthHookOptions = {}): BackendAuthHook {
  const { pool, userQuery, aclQuery, ...hook } = options;
  const backend: PostgresAuthBackendOptions = {};
  if (pool !== undefined) backend.pool = pool;
  if (userQuery !== undefined) backend.userQuery = userQuery;
  if (aclQuery !== undefined) backend.aclQuery = aclQuery;
  if (hook.maxAclEntries !== undefined) backend.maxAclEntries = hook.maxAclEntries;
  return new BackendAuthHook({ ...hook, backend: new PostgresAuthBackend(backend) });
}
