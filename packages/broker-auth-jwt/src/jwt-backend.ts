import { readFile } from 'node:fs/promises';
import {
  Access,
  type AclEntry,
  type AuthBackend,
  type AuthRequest,
  BackendAuthHook,
  type BackendAuthHookOptions,
  type BackendVerdict,
  parseAccess,
  validAclFilter,
} from '@x/broker-auth';
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  importSPKI,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';

/** Options of {@link JwtAuthBackend}: exactly one of `secret`, `publicKey`, `jwksFile`. */
export interface JwtAuthBackendOptions {
  /** Shared secret of HS256/384/512 tokens. */
  secret?: string | Uint8Array;
  /** A PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`) of `algorithm`. */
  publicKey?: string;
  /** A JWKS file (`{ "keys": [...] }`); the token's `kid` picks the key. Read by `load()`. */
  jwksFile?: string;
  /**
   * Algorithms accepted. Default: HS256, HS384, HS512 with `secret`; `RS256` with `publicKey` (the
   * first entry is the key's algorithm); with a JWKS, what each key allows.
   */
  algorithms?: string[];
  /** Required `iss`. */
  issuer?: string | string[];
  /** Required `aud`. */
  audience?: string | string[];
  /** Seconds of clock skew allowed on `exp` and `nbf`. Default 0. */
  clockToleranceSec?: number;
  /** Refuse tokens without `exp`. Default true. */
  requireExpiry?: boolean;
  /**
   * Claim that must equal the CONNECT user name when the client sends one. Default `sub`; `null`
   * to not compare.
   */
  usernameClaim?: string | null;
  /** Claim that must equal the client id. Default none. */
  clientIdClaim?: string;
  /**
   * Claim holding the ACL: a list `[{ "topic": "a/%u/#", "access": "readwrite" }]` or an object
   * `{ "read": [...], "write": [...], "readwrite": [...], "deny": [...] }` (also `sub`, `pub`,
   * `all`). Default `acl`.
   */
  aclClaim?: string;
  /** ACL of tokens without the claim. Default none: the next ACL hook decides for them. */
  defaultAcl?: AclEntry[];
}

const OBJECT_KEYS: Record<string, Access> = {
  read: Access.read,
  sub: Access.read,
  subscribe: Access.read,
  write: Access.write,
  pub: Access.write,
  publish: Access.write,
  readwrite: Access.readwrite,
  all: Access.readwrite,
  deny: Access.deny,
};

class BadClaim extends Error {}

/** Reads an ACL claim (see {@link JwtAuthBackendOptions.aclClaim}); throws `BadClaim` when malformed. */
function aclFromClaim(value: unknown, claim: string): AclEntry[] {
  const entries: AclEntry[] = [];
  const add = (filter: unknown, access: Access | undefined) => {
    if (typeof filter !== 'string' || !validAclFilter(filter) || access === undefined) {
      throw new BadClaim(`claim "${claim}" holds a malformed ACL entry`);
    }
    entries.push({ filter, access });
  };
  if (Array.isArray(value)) {
    for (const item of value) {
      const entry = item as { topic?: unknown; access?: unknown } | null;
      add(entry?.topic, parseAccess(entry?.access));
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, filters] of Object.entries(value)) {
      const access = OBJECT_KEYS[key];
      if (access === undefined || !Array.isArray(filters))
        throw new BadClaim(`claim "${claim}": unknown key "${key}"`);
      for (const filter of filters) add(filter, access);
    }
  } else {
    throw new BadClaim(`claim "${claim}" must be a list or an object`);
  }
  return entries;
}

/** Three base64url parts: what a compact JWS looks like. Anything else is some other kind of password. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * An {@link AuthBackend} for clients whose CONNECT password is a signed JWT. A password that is not
 * shaped like one is not this backend's business (the next hook decides); a token that fails
 * verification (signature, `exp`, `nbf`, `iss`, `aud`, a claim mismatch) is refused. The token's
 * `exp` also bounds the connection: after it, every publish and subscribe is refused.
 */
export class JwtAuthBackend implements AuthBackend {
  readonly name = 'jwt';
  readonly #options: JwtAuthBackendOptions;
  #key: Uint8Array | CryptoKey | JWTVerifyGetKey | undefined;
  readonly #verify: JWTVerifyOptions;

  constructor(options: JwtAuthBackendOptions) {
    const sources = [options.secret, options.publicKey, options.jwksFile].filter((s) => s !== undefined);
    if (sources.length !== 1) throw new TypeError('give exactly one of secret, publicKey or jwksFile');
    this.#options = options;
    this.#verify = {};
    const algorithms =
      options.algorithms ??
      (options.secret !== undefined
        ? ['HS256', 'HS384', 'HS512']
        : options.publicKey !== undefined
          ? ['RS256']
          : undefined);
    if (algorithms !== undefined) this.#verify.algorithms = algorithms;
    if (options.issuer !== undefined) this.#verify.issuer = options.issuer;
    if (options.audience !== undefined) this.#verify.audience = options.audience;
    this.#verify.clockTolerance = options.clockToleranceSec ?? 0;
    if (options.requireExpiry ?? true) this.#verify.requiredClaims = ['exp'];
    if (options.secret !== undefined) {
      this.#key =
        typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    }
  }

  /** Imports the public key or (re)reads the JWKS file; a bad key or file throws and keeps the old one. */
  async load(): Promise<void> {
    const { publicKey, jwksFile } = this.#options;
    if (publicKey !== undefined)
      this.#key = await importSPKI(publicKey, this.#verify.algorithms?.[0] ?? 'RS256');
    if (jwksFile !== undefined) {
      const jwks = JSON.parse(await readFile(jwksFile, 'utf8')) as JSONWebKeySet;
      if (!Array.isArray(jwks?.keys)) throw new TypeError(`${jwksFile}: a JWKS file holds { "keys": [...] }`);
      this.#key = createLocalJWKSet(jwks);
    }
  }

  async check(request: AuthRequest): Promise<BackendVerdict> {
    if (request.password === undefined) return { allowed: undefined };
    const token = Buffer.from(request.password).toString('latin1');
    if (!COMPACT_JWS.test(token)) return { allowed: undefined };
    if (this.#key === undefined) await this.load();
    let payload: JWTPayload;
    try {
      // The union of key kinds is what jwtVerify's overloads take one at a time.
      payload = (await jwtVerify(token, this.#key as Uint8Array, this.#verify)).payload;
    } catch (error) {
      if (error instanceof errors.JOSEError) return { allowed: false, reason: error.code };
      throw error;
    }
    const { usernameClaim = 'sub', clientIdClaim, aclClaim = 'acl', defaultAcl } = this.#options;
    if (
      usernameClaim !== null &&
      request.username !== undefined &&
      payload[usernameClaim] !== request.username
    ) {
      return { allowed: false, reason: `user name is not the token's "${usernameClaim}"` };
    }
    if (clientIdClaim !== undefined && payload[clientIdClaim] !== request.clientId) {
      return { allowed: false, reason: `client id is not the token's "${clientIdClaim}"` };
    }
    let acl: AclEntry[] | undefined;
    try {
      acl = payload[aclClaim] === undefined ? defaultAcl : aclFromClaim(payload[aclClaim], aclClaim);
    } catch (error) {
      if (error instanceof BadClaim) return { allowed: false, reason: error.message };
      throw error;
    }
    return { allowed: true, acl, expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000 };
  }
}

/** Options of {@link jwtAuthHook}: the backend's and the hook's. */
export type JwtAuthHookOptions = JwtAuthBackendOptions & Omit<BackendAuthHookOptions, 'backend'>;

/**
 * A hook verifying JWT passwords (see {@link JwtAuthBackend}). Call `load()` on the result's
 * backend to read a key or JWKS file up front and again to rotate keys; otherwise the first CONNECT
 * reads it.
 */
export function jwtAuthHook(options: JwtAuthHookOptions): BackendAuthHook & { backend: JwtAuthBackend } {
  const {
    secret,
    publicKey,
    jwksFile,
    algorithms,
    issuer,
    audience,
    clockToleranceSec,
    requireExpiry,
    usernameClaim,
    clientIdClaim,
    aclClaim,
    defaultAcl,
    ...hook
  } = options;
  const backend = new JwtAuthBackend({
    ...(secret !== undefined && { secret }),
    ...(publicKey !== undefined && { publicKey }),
    ...(jwksFile !== undefined && { jwksFile }),
    ...(algorithms !== undefined && { algorithms }),
    ...(issuer !== undefined && { issuer }),
    ...(audience !== undefined && { audience }),
    ...(clockToleranceSec !== undefined && { clockToleranceSec }),
    ...(requireExpiry !== undefined && { requireExpiry }),
    ...(usernameClaim !== undefined && { usernameClaim }),
    ...(clientIdClaim !== undefined && { clientIdClaim }),
    ...(aclClaim !== undefined && { aclClaim }),
    ...(defaultAcl !== undefined && { defaultAcl }),
  });
  return new BackendAuthHook({ ...hook, backend }) as BackendAuthHook & { backend: JwtAuthBackend };
}
