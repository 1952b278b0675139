import {
  type AclEntry,
  type AuthBackend,
  type AuthRequest,
  BackendAuthHook,
  type BackendAuthHookOptions,
  type BackendVerdict,
  parseAccess,
  validAclFilter,
} from '@x/broker-auth';
import { HttpAuthError, readJson } from './read-json.js';

/** Options of {@link HttpAuthBackend}. */
export interface HttpAuthBackendOptions {
  /**
   * Receives each CONNECT's credentials as a JSON POST (see the README for the body) and answers
   * `{ "result": "allow" | "deny" | "ignore", "acl"?: […], "superuser"?: true }`, or status 401/403
   * for deny. `ignore` leaves the decision to the next hook.
   */
  authUrl: string | URL;
  /**
   * Asked for an accepted client's ACL (`{ "acl": [{ "topic", "access" }], "superuser"?: true }`).
   * Default: none; the ACL then comes from the auth answer, and without one there, the next ACL hook
   * decides.
   */
  aclUrl?: string | URL;
  /** Extra request headers (an API key for the service, for instance). */
  headers?: Record<string, string>;
  /** Largest answer read, in bytes. Default 65 536. */
  maxResponseBytes?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function passwordFields(password: Uint8Array | undefined): Record<string, string | null> {
  if (password === undefined) return { password: null };
  try {
    return { password: decoder.decode(password), passwordEncoding: 'utf8' };
  } catch {
    // MQTT passwords are binary data: one that is not UTF-8 goes as base64.
    return { password: Buffer.from(password).toString('base64'), passwordEncoding: 'base64' };
  }
}

/** Reads `[{ "topic": "a/#", "access": "read" }, …]` from an answer; throws on anything else. */
export function aclFromJson(value: unknown, url: string): AclEntry[] {
  if (!Array.isArray(value)) throw new HttpAuthError(`${url}: "acl" must be a list`);
  return value.map((item: unknown, index) => {
    const entry = item as { topic?: unknown; access?: unknown } | null;
    const access = parseAccess(entry?.access);
    if (typeof entry?.topic !== 'string' || !validAclFilter(entry.topic) || access === undefined) {
      throw new HttpAuthError(
        `${url}: acl[${index}] must be { "topic": <topic filter>, "access": "read" | "write" | "readwrite" | "deny" }`,
      );
    }
    return { filter: entry.topic, access };
  });
}

function aclOf(body: Record<string, unknown>, url: string): BackendVerdict['acl'] {
  if (body.superuser === true) return 'all';
  return body.acl === undefined || body.acl === null ? undefined : aclFromJson(body.acl, url);
}

/**
 * An {@link AuthBackend} asking a web service: credentials and ACLs as JSON POSTs (`fetch`, so
 * connections are kept alive). Anything but a well-formed answer (a network error, a timeout, a
 * 5xx, a body that is not JSON or too large) is a failure, and the hook's fail mode decides.
 */
export class HttpAuthBackend implements AuthBackend {
  readonly name = 'http';
  readonly #authUrl: string;
  readonly #aclUrl: string | undefined;
  readonly #headers: Record<string, string>;
  readonly #maxBytes: number;

  constructor(options: HttpAuthBackendOptions) {
    this.#authUrl = String(options.authUrl);
    this.#aclUrl = options.aclUrl === undefined ? undefined : String(options.aclUrl);
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    this.#maxBytes = options.maxResponseBytes ?? 65_536;
  }

  async check(request: AuthRequest, signal: AbortSignal): Promise<BackendVerdict> {
    const who = {
      clientId: request.clientId,
      username: request.username ?? null,
      remoteAddress: request.remoteAddress,
      listener: request.listener,
      protocolVersion: request.protocolVersion,
    };
    const response = await this.#post(this.#authUrl, { ...who, ...passwordFields(request.password) }, signal);
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      return { allowed: false };
    }
    const body = await this.#answer(response, this.#authUrl);
    if (body.result === 'deny') return { allowed: false };
    if (body.result === 'ignore') return { allowed: undefined };
    if (body.result !== 'allow') {
      throw new HttpAuthError(`${this.#authUrl}: "result" must be "allow", "deny" or "ignore"`);
    }
    let acl = aclOf(body, this.#authUrl);
    if (this.#aclUrl !== undefined && acl === undefined) {
      acl =
        aclOf(await this.#answer(await this.#post(this.#aclUrl, who, signal), this.#aclUrl), this.#aclUrl) ??
        [];
    }
    return { allowed: true, acl };
  }

  async #post(url: string, body: object, signal: AbortSignal): Promise<Response> {
    // A redirect would carry the password to wherever it points: it counts as a failure instead.
    return fetch(url, {
      method: 'POST',
      headers: this.#headers,
      body: JSON.stringify(body),
      signal,
      redirect: 'error',
    });
  }

  async #answer(response: Response, url: string): Promise<Record<string, unknown>> {
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel();
      throw new HttpAuthError(`${url} answered HTTP ${response.status}`);
    }
    const body = await readJson(response, this.#maxBytes, url);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpAuthError(`${url} must answer a JSON object`);
    }
    return body as Record<string, unknown>;
  }
}

/** Options of {@link httpAuthHook}: the backend's and the hook's. */
export type HttpAuthHookOptions = HttpAuthBackendOptions & Omit<BackendAuthHookOptions, 'backend'>;

/**
 * A hook asking a web service, with the result cache on by default (10 000 answers, 4 MiB, 30 s):
 * a reconnecting fleet does not turn into a request storm.
 */
export function httpAuthHook(options: HttpAuthHookOptions): BackendAuthHook {
  const { authUrl, aclUrl, headers, maxResponseBytes, ...hook } = options;
  const backendOptions: HttpAuthBackendOptions = { authUrl };
  if (aclUrl !== undefined) backendOptions.aclUrl = aclUrl;
  if (headers !== undefined) backendOptions.headers = headers;
  if (maxResponseBytes !== undefined) backendOptions.maxResponseBytes = maxResponseBytes;
  return new BackendAuthHook({ cache: {}, ...hook, backend: new HttpAuthBackend(backendOptions) });
}
