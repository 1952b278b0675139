import { readFile } from 'node:fs/promises';
import type { AuthOutcome, ClientInfo, Hook, Logger } from '@x/broker';
import {
  type BackendAuthHook,
  type BackendAuthHookOptions,
  type ExpiryBroker,
  type Ledger,
  LedgerHook,
  MosquittoFileError,
  MosquittoFileHook,
} from '@x/broker-auth';
import type { ConnectPacket } from '@x/packets';
import {
  BACKEND_ORDER,
  type BackendCommon,
  type BackendName,
  hasAuthSources,
  type JwtAuthConfig,
} from './config/auth-backends.js';
import type { Config } from './config/types.js';

/** An auth source that cannot start (unreadable or malformed file, bad key): one line, exit 2. */
export class AuthSourceError extends Error {
  readonly code = 'AUTH_SOURCE_INVALID';
}

/** One line for a Mosquitto file error (which lists every bad line): the first, and how many more. */
function oneLine(error: unknown): string {
  if (error instanceof MosquittoFileError) {
    // Its message is `invalid FILE:` and then one `FILE:LINE: why` line per problem.
    const first = error.message.split('\n')[1]?.trim() ?? error.message;
    const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
    return `invalid ${first}${more}`;
  }
  return (error as Error).message.split('\n')[0] ?? String(error);
}

/**
 * The ledger as the last link of a chain: when other sources (a password file, a backend) decide who
 * may connect and the ledger has no auth rules, a client none of them accepted is refused, except a
 * client without a user name when anonymous access is on. (A bare `LedgerHook` without rules lets
 * every client in when anonymous access is on, which would bypass the sources before it.)
 */
class LastLedgerHook extends LedgerHook {
  readonly #log: Logger;

  constructor(ledger: Ledger, allowAnonymous: boolean, checkDelivery: boolean, log: Logger) {
    super({ ledger, allowAnonymous, checkDelivery, logger: log });
    this.#log = log;
  }

  override onConnectAuthenticate(
    client: ClientInfo,
    packet: ConnectPacket,
  ): AuthOutcome | Promise<AuthOutcome> {
    if (this.ledger.hasAuthRules) return super.onConnectAuthenticate(client, packet);
    if (client.username === undefined && this.allowAnonymous) return true;
    const credentials = client.username !== undefined || packet.password !== undefined;
    this.#log.info(
      { clientId: client.id, username: client.username, remote: client.remoteAddress },
      'CONNECT refused: no auth source accepted the client',
    );
    return { ok: false, reasonCode: credentials ? 0x86 : 0x87 };
  }
}

/** The hooks deciding who may connect and what each client may do, in the order they are asked. */
export interface AuthChain {
  /** Mosquitto files, then jwt, http, redis, postgres, then the ledger. */
  readonly hooks: Hook[];
  /** What is on, in order, for the start-up line (`password_file (3 users)`, `redis`, `ledger (2 rules)`). */
  describe(): string[];
  /** Rereads the Mosquitto files and the JWKS / key file; throws a one-line error and keeps the old ones. */
  reload(): Promise<void>;
  /** Lets the JWT hook disconnect clients whose token expires (DISCONNECT 0x87 in v5). */
  attach(broker: ExpiryBroker): void;
}

function hookOptions(common: BackendCommon, checkDelivery: boolean, log: Logger) {
  const options: Omit<BackendAuthHookOptions, 'backend'> = { checkDelivery, logger: log };
  if (common.timeoutMs !== undefined) options.timeoutMs = common.timeoutMs;
  if (common.failMode !== undefined) options.failMode = common.failMode;
  if (common.cache !== undefined) options.cache = common.cache;
  if (common.maxAclEntries !== undefined) options.maxAclEntries = common.maxAclEntries;
  return options;
}

/** Strips what is ours (file names, the common settings) off a config section, keeping the package's options. */
function without<T extends object, K extends keyof T>(section: T, keys: readonly K[]): Omit<T, K> {
  const copy = { ...section };
  for (const key of keys) delete copy[key];
  return copy;
}

const COMMON = ['timeoutMs', 'failMode', 'cache', 'maxAclEntries'] as const;

async function jwtKey(jwt: JwtAuthConfig): Promise<{ secret?: string; publicKey?: string }> {
  if (jwt.secretFile !== undefined) {
    const secret = (await readFile(jwt.secretFile, 'utf8')).split(/\r?\n/)[0] ?? '';
    if (secret === '') throw new Error('the first line is empty');
    return { secret };
  }
  if (jwt.publicKeyFile !== undefined) return { publicKey: await readFile(jwt.publicKeyFile, 'utf8') };
  return {};
}

/**
 * Builds the backend hook `name` from its config section. The packages are imported here, only when
 * configured, so a broker without them never loads ioredis, pg or jose.
 */
async function backendHook(name: BackendName, config: Config, log: Logger): Promise<BackendAuthHook> {
  const checkDelivery = config.auth.checkDelivery ?? true;
  switch (name) {
    case 'http': {
      const http = config.auth.http;
      if (!http) break;
      const { httpAuthHook } = await import('@x/broker-auth-http');
      const { url, ...rest } = without(http, COMMON);
      return httpAuthHook({ ...rest, authUrl: url, ...hookOptions(http, checkDelivery, log) });
    }
    case 'redis': {
      const redis = config.auth.redis;
      if (!redis) break;
      const { redisAuthHook } = await import('@x/broker-auth-redis');
      const { url, ...rest } = without(redis, COMMON);
      return redisAuthHook({
        ...rest,
        ...(url !== undefined ? { redis: url } : {}),
        ...hookOptions(redis, checkDelivery, log),
      });
    }
    case 'postgres': {
      const postgres = config.auth.postgres;
      if (!postgres) break;
      const { postgresAuthHook } = await import('@x/broker-auth-postgres');
      const { url, ...rest } = without(postgres, COMMON);
      return postgresAuthHook({
        ...rest,
        ...(url !== undefined ? { pool: url } : {}),
        ...hookOptions(postgres, checkDelivery, log),
      });
    }
    case 'jwt': {
      const jwt = config.auth.jwt;
      if (!jwt) break;
      const { jwtAuthHook } = await import('@x/broker-auth-jwt');
      const rest = without(jwt, [...COMMON, 'secretFile', 'publicKeyFile']);
      const hook = jwtAuthHook({ ...rest, ...(await jwtKey(jwt)), ...hookOptions(jwt, checkDelivery, log) });
      // A bad key or JWKS file stops the start, not the first CONNECT.
      await hook.backend.load();
      return hook;
    }
  }
  throw new Error(`auth.${name} is not configured`);
}

/**
 * The auth sources in their documented order: Mosquitto's `password_file`/`acl_file`, then the
 * backends (jwt, http, redis, postgres), then the ledger (auth rules, anonymous access). The first
 * source with a verdict decides; a source that does not know the client passes it on.
 */
export async function createAuthChain(
  config: Config,
  ledger: Ledger,
  allowAnonymous: boolean,
  log: Logger,
): Promise<AuthChain> {
  const { auth } = config;
  const checkDelivery = auth.checkDelivery ?? true;
  const hooks: Hook[] = [];
  let files: MosquittoFileHook | undefined;
  if (auth.passwordFile !== undefined || auth.aclFile !== undefined) {
    files = new MosquittoFileHook({
      ...(auth.passwordFile !== undefined ? { passwordFile: auth.passwordFile } : {}),
      ...(auth.aclFile !== undefined ? { aclFile: auth.aclFile } : {}),
      checkDelivery,
      logger: log,
    });
    try {
      await files.load();
    } catch (error) {
      throw new AuthSourceError(oneLine(error));
    }
    hooks.push(files);
  }
  const backends: BackendAuthHook[] = [];
  for (const name of BACKEND_ORDER) {
    if (auth[name] === undefined) continue;
    try {
      backends.push(await backendHook(name, config, log));
    } catch (error) {
      throw new AuthSourceError(`auth.${name}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  hooks.push(...backends);
  hooks.push(
    hasAuthSources(auth)
      ? new LastLedgerHook(ledger, allowAnonymous, checkDelivery, log)
      : new LedgerHook({ ledger, allowAnonymous, checkDelivery, logger: log }),
  );
  const jwt = backends.find((hook) => hook.backend.name === 'jwt') as
    | (BackendAuthHook & { backend: { load(): Promise<void> } })
    | undefined;

  return {
    hooks,
    describe() {
      const on: string[] = [];
      if (auth.passwordFile !== undefined) on.push(`password_file (${files?.users ?? 0} users)`);
      if (auth.aclFile !== undefined) on.push('acl_file');
      for (const hook of backends) on.push(`${hook.backend.name} (fail ${hook.failMode})`);
      const rules = ledger.rules.auth?.length ?? 0;
      on.push(`ledger (${rules} auth rule${rules === 1 ? '' : 's'})`);
      return on;
    },
    async reload() {
      try {
        await files?.load();
      } catch (error) {
        throw new AuthSourceError(oneLine(error));
      }
      try {
        await jwt?.backend.load();
      } catch (error) {
        throw new AuthSourceError(`auth.jwt: ${(error as Error).message.split('\n')[0]}`);
      }
    },
    attach(broker) {
      jwt?.disconnectOnExpiry(broker);
    },
  };
}
