import type { Reader } from './validate.js';

type Path = (string | number)[];
type Raw = Record<string, unknown>;

/** What a backend hook does when its service fails: see `FailMode` in @x/broker-auth. */
export const FailModes = ['closed', 'open', 'next'] as const;
export type FailModeName = (typeof FailModes)[number];

/** The bounded cache of a backend's answers (keys are SHA-256 digests: no password is kept). */
export interface BackendCacheConfig {
  /** Default 10 000. */
  maxEntries?: number;
  /** Default 4 MiB. */
  maxBytes?: number;
  /** Default 30 000. */
  ttlMs?: number;
}

/** Settings every auth backend takes. */
export interface BackendCommon {
  /** Give up on the service after this many ms; then `failMode` applies. Default 5000. */
  timeoutMs?: number;
  /** `closed` (default): CONNACK 0x88 Server unavailable; `open`: accept; `next`: the next source decides. */
  failMode?: FailModeName;
  /** Answer cache; `false` for none. Default: on for `http`, off for the others. */
  cache?: BackendCacheConfig | false;
  /** Largest ACL one client may get. Default 1000. */
  maxAclEntries?: number;
}

export interface HttpAuthConfig extends BackendCommon {
  /** Where each CONNECT's credentials are POSTed as JSON (@x/broker-auth-http `authUrl`). */
  url: string;
  /** Where an accepted client's ACL is asked, when the first answer has none. */
  aclUrl?: string;
  /** Extra request headers (an API key): masked by --print-config. */
  headers?: Record<string, string>;
  /** Largest answer read, in bytes. Default 65 536. */
  maxResponseBytes?: number;
}

export interface RedisAuthConfig extends BackendCommon {
  /** Default redis://127.0.0.1:6379. */
  url?: string;
  /** Default `mqtt:user:%u`. */
  userKey?: string;
  /** Default `mqtt:acl:%u`. */
  aclKey?: string;
  /** Default `mqtt:acl:%all`. */
  patternsKey?: string;
}

export interface PostgresAuthConfig extends BackendCommon {
  /** Connection string; default the `PG*` environment variables. */
  url?: string;
  /** Default `SELECT password, superuser FROM mqtt_users WHERE username = $1`. */
  userQuery?: string;
  /** Default `SELECT topic, access FROM mqtt_acl WHERE username = $1 OR username IS NULL`; null for none. */
  aclQuery?: string | null;
}

export interface JwtAuthConfig extends BackendCommon {
  /** Shared HS256/384/512 secret, inline (masked by --print-config). */
  secret?: string;
  /** File whose first line is the shared secret. */
  secretFile?: string;
  /** PEM public key (SPKI) file. */
  publicKeyFile?: string;
  /** JWKS file (`{ "keys": [...] }`), reread on SIGHUP. */
  jwksFile?: string;
  algorithms?: string[];
  issuer?: string;
  audience?: string;
  /** Default `sub`; null to not compare with the user name. */
  usernameClaim?: string | null;
  clientIdClaim?: string;
  /** Default `acl`. */
  aclClaim?: string;
  /** Default 0. */
  clockToleranceSec?: number;
  /** Default true. */
  requireExpiry?: boolean;
}

/** The backends under `auth:`, each asked in {@link BACKEND_ORDER} before the ledger. */
export interface AuthBackendsConfig {
  /** A Mosquitto `password_file` (`mosquitto_passwd` output), reloaded on SIGHUP. */
  passwordFile?: string;
  /** A Mosquitto `acl_file`, reloaded on SIGHUP. */
  aclFile?: string;
  jwt?: JwtAuthConfig;
  http?: HttpAuthConfig;
  redis?: RedisAuthConfig;
  postgres?: PostgresAuthConfig;
}

/** The order the backends are asked in (after the Mosquitto files, before the ledger). */
export const BACKEND_ORDER = ['jwt', 'http', 'redis', 'postgres'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

/** The `auth:` keys this file reads. */
export const AUTH_BACKEND_KEYS = ['passwordFile', 'aclFile', ...BACKEND_ORDER] as const;

const COMMON_KEYS = ['timeoutMs', 'failMode', 'cache', 'maxAclEntries'] as const;
const KEYS = {
  http: ['url', 'aclUrl', 'headers', 'maxResponseBytes', ...COMMON_KEYS],
  redis: ['url', 'userKey', 'aclKey', 'patternsKey', ...COMMON_KEYS],
  postgres: ['url', 'userQuery', 'aclQuery', ...COMMON_KEYS],
  jwt: [
    'secret',
    'secretFile',
    'publicKeyFile',
    'jwksFile',
    'algorithms',
    'issuer',
    'audience',
    'usernameClaim',
    'clientIdClaim',
    'aclClaim',
    'clockToleranceSec',
    'requireExpiry',
    ...COMMON_KEYS,
  ],
} as const;

function readCommon(r: Reader, raw: Raw, path: Path, out: BackendCommon): void {
  const timeoutMs = r.integer(raw, 'timeoutMs', path, 1, 600_000);
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  const failMode = r.choice(raw, 'failMode', path, FailModes);
  if (failMode !== undefined) out.failMode = failMode;
  const maxAclEntries = r.integer(raw, 'maxAclEntries', path, 1, 1_000_000);
  if (maxAclEntries !== undefined) out.maxAclEntries = maxAclEntries;
  if (raw.cache === false) out.cache = false;
  else if (raw.cache !== undefined) {
    const cachePath = [...path, 'cache'];
    const cache = r.object(raw.cache, cachePath, ['maxEntries', 'maxBytes', 'ttlMs'], 'cache (or false)');
    if (cache) {
      const result: BackendCacheConfig = {};
      const maxEntries = r.integer(cache, 'maxEntries', cachePath, 1, 10_000_000);
      const maxBytes = r.integer(cache, 'maxBytes', cachePath, 1024, 2 ** 34);
      const ttlMs = r.integer(cache, 'ttlMs', cachePath, 1, 86_400_000);
      if (maxEntries !== undefined) result.maxEntries = maxEntries;
      if (maxBytes !== undefined) result.maxBytes = maxBytes;
      if (ttlMs !== undefined) result.ttlMs = ttlMs;
      out.cache = result;
    }
  }
}

function readUrl(r: Reader, raw: Raw, path: Path, schemes: readonly string[]): string | undefined {
  const url = r.string(raw, 'url', path);
  if (url === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !schemes.includes(parsed.protocol)) {
    // Never quote the URL: it may carry a password.
    r.fail([...path, 'url'], `url must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL`);
    return undefined;
  }
  return url;
}

function copyStrings<T extends object>(
  r: Reader,
  raw: Raw,
  path: Path,
  keys: readonly string[],
  out: T,
): void {
  for (const key of keys) {
    const value = r.string(raw, key, path);
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
}

function readHttp(r: Reader, raw: Raw, path: Path): HttpAuthConfig | undefined {
  const url = readUrl(r, raw, path, ['http:', 'https:']);
  if (raw.url === undefined) r.fail(path, 'needs `url` (where credentials are POSTed)');
  const out: HttpAuthConfig = { url: url ?? '' };
  if (raw.aclUrl !== undefined) {
    const aclUrl = readUrl(r, { url: raw.aclUrl }, path, ['http:', 'https:']);
    if (aclUrl !== undefined) out.aclUrl = aclUrl;
  }
  if (raw.headers !== undefined) {
    const headers = raw.headers;
    if (
      typeof headers !== 'object' ||
      headers === null ||
      Array.isArray(headers) ||
      !Object.values(headers).every((v) => typeof v === 'string')
    ) {
      r.fail([...path, 'headers'], 'headers must be a mapping of header names to strings');
    } else out.headers = headers as Record<string, string>;
  }
  const maxResponseBytes = r.integer(raw, 'maxResponseBytes', path, 64, 16_777_216);
  if (maxResponseBytes !== undefined) out.maxResponseBytes = maxResponseBytes;
  return out;
}

function readRedis(r: Reader, raw: Raw, path: Path): RedisAuthConfig {
  const out: RedisAuthConfig = {};
  const url = readUrl(r, raw, path, ['redis:', 'rediss:']);
  if (url !== undefined) out.url = url;
  copyStrings(r, raw, path, ['userKey', 'aclKey', 'patternsKey'], out);
  return out;
}

function readPostgres(r: Reader, raw: Raw, path: Path): PostgresAuthConfig {
  const out: PostgresAuthConfig = {};
  const url = readUrl(r, raw, path, ['postgres:', 'postgresql:']);
  if (url !== undefined) out.url = url;
  for (const key of ['userQuery', 'aclQuery'] as const) {
    if (key === 'aclQuery' && raw.aclQuery === null) {
      out.aclQuery = null;
      continue;
    }
    const sql = r.string(raw, key, path);
    if (sql === undefined) continue;
    // The backend passes four parameters, always: a fifth cannot be bound.
    if ([...sql.matchAll(/\$(\d+)/g)].some((m) => Number(m[1]) > 4 || Number(m[1]) < 1)) {
      r.fail([...path, key], `${key} may use $1 (user name), $2 (client id), $3 (address), $4 (listener)`);
    } else out[key] = sql;
  }
  return out;
}

function readJwt(r: Reader, raw: Raw, path: Path): JwtAuthConfig {
  const out: JwtAuthConfig = {};
  copyStrings(
    r,
    raw,
    path,
    ['secret', 'secretFile', 'publicKeyFile', 'jwksFile', 'issuer', 'audience', 'clientIdClaim', 'aclClaim'],
    out,
  );
  const keys = ['secret', 'secretFile', 'publicKeyFile', 'jwksFile'].filter((k) => raw[k] !== undefined);
  if (keys.length !== 1) {
    r.fail(path, 'needs exactly one of secret, secretFile, publicKeyFile, jwksFile');
  }
  if (raw.usernameClaim === null) out.usernameClaim = null;
  else copyStrings(r, raw, path, ['usernameClaim'], out);
  if (raw.algorithms !== undefined) {
    const list = raw.algorithms;
    if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string' && a !== '')) {
      r.fail([...path, 'algorithms'], 'algorithms must be a list like [RS256] or [HS256, HS512]');
    } else out.algorithms = list as string[];
  }
  const tolerance = r.integer(raw, 'clockToleranceSec', path, 0, 86_400);
  if (tolerance !== undefined) out.clockToleranceSec = tolerance;
  const requireExpiry = r.boolean(raw, 'requireExpiry', path);
  if (requireExpiry !== undefined) out.requireExpiry = requireExpiry;
  return out;
}

/** Reads the backend keys of `auth:` (the caller has checked that no other key is there). */
export function readAuthBackends(r: Reader, raw: Raw): AuthBackendsConfig {
  const out: AuthBackendsConfig = {};
  for (const key of ['passwordFile', 'aclFile'] as const) {
    const file = r.string(raw, key, ['auth']);
    if (file !== undefined) out[key] = file;
  }
  for (const name of BACKEND_ORDER) {
    if (raw[name] === undefined) continue;
    const path = ['auth', name];
    const section = r.object(raw[name], path, KEYS[name], `auth.${name}`);
    if (!section) continue;
    const config =
      name === 'http'
        ? readHttp(r, section, path)
        : name === 'redis'
          ? readRedis(r, section, path)
          : name === 'postgres'
            ? readPostgres(r, section, path)
            : readJwt(r, section, path);
    if (config === undefined) continue;
    readCommon(r, section, path, config);
    (out as Record<string, unknown>)[name] = config;
  }
  return out;
}

/** The files the auth sources read, with their config path, to check and resolve at start-up. */
export function authFiles(auth: AuthBackendsConfig): { path: (string | number)[]; file: string }[] {
  const files: { path: (string | number)[]; file: string }[] = [];
  if (auth.passwordFile) files.push({ path: ['auth', 'passwordFile'], file: auth.passwordFile });
  if (auth.aclFile) files.push({ path: ['auth', 'aclFile'], file: auth.aclFile });
  for (const key of ['secretFile', 'publicKeyFile', 'jwksFile'] as const) {
    const file = auth.jwt?.[key];
    if (file) files.push({ path: ['auth', 'jwt', key], file });
  }
  return files;
}

/** Rewrites each auth file name with `map` (resolving relative names against the config's folder). */
export function mapAuthFiles(auth: AuthBackendsConfig, map: (file: string) => string): void {
  if (auth.passwordFile) auth.passwordFile = map(auth.passwordFile);
  if (auth.aclFile) auth.aclFile = map(auth.aclFile);
  const jwt = auth.jwt;
  if (jwt) {
    for (const key of ['secretFile', 'publicKeyFile', 'jwksFile'] as const) {
      const file = jwt[key];
      if (file) jwt[key] = map(file);
    }
  }
}

/** Masks the credentials in the backend settings (a copy the caller owns) for printing. */
export function maskAuthBackends(auth: AuthBackendsConfig): void {
  const maskUrl = (url: string) => url.replace(/\/\/([^@/]*)@/, '//***@');
  if (auth.http) {
    auth.http.url = maskUrl(auth.http.url);
    if (auth.http.aclUrl) auth.http.aclUrl = maskUrl(auth.http.aclUrl);
    if (auth.http.headers) {
      auth.http.headers = Object.fromEntries(Object.keys(auth.http.headers).map((name) => [name, '***']));
    }
  }
  if (auth.redis?.url) auth.redis.url = maskUrl(auth.redis.url);
  if (auth.postgres?.url) auth.postgres.url = maskUrl(auth.postgres.url);
  if (auth.jwt?.secret !== undefined) auth.jwt.secret = '***';
}

/** Whether any source other than the ledger decides who may connect. */
export function hasAuthSources(auth: AuthBackendsConfig): boolean {
  return auth.passwordFile !== undefined || BACKEND_ORDER.some((name) => auth[name] !== undefined);
}
