import type { Properties } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { toClientError } from './connection.js';
import { ClientErrorCode, ConnackError, MqttClientError } from './errors.js';
import type { RedirectInfo } from './options.js';
import { type Backoff, permanentRefusal } from './reconnect.js';
import type { ClientSettings } from './settings.js';
import { type Endpoint, redirectEndpoint } from './transports/transport.js';

/** What the dialer needs from its client. */
export interface DialerHost {
  /** One connection attempt (transport, CONNECT, CONNACK) to this server. */
  attempt(endpoint: Endpoint): Promise<void>;
  /** True once the client is closed: no further attempt. */
  closed(): boolean;
  /** Waiting `delay` ms before the next attempt after `error` (undefined: there will be none). */
  offline(error: Error | undefined, delay: number | undefined): void;
  /** A round of attempts starts (after the delay). */
  reconnecting(attempt: number): void;
  /** The server sent a redirect (followed or not). */
  redirect(info: RedirectInfo): void;
  report(error: MqttClientError): void;
  /** Gives up: closes the client with this error. */
  shutdown(error: Error): void;
}

/**
 * Decides where and when to connect: the servers in turn (the URL, then `servers`), the backoff
 * between rounds, and, with `retryFirstConnect`, the first connection's retries.
 *
 * A round tries every server once, starting with the one the client was last connected to (its
 * session is there); the backoff delay comes only after a whole round failed. A refusal that
 * cannot change (bad credentials, banned) ends it all.
 */
export class Dialer {
  readonly #host: DialerHost;
  readonly #backoff: Backoff | undefined;
  readonly #retryFirstConnect: boolean;
  readonly #followRedirects: boolean;
  readonly #endpoints: Endpoint[];
  /** The server last connected to (where a round starts). */
  #current = 0;
  /** The server of the attempt under way (a redirect replaces it). */
  #trying = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set while `first()` waits for a retried first connection. */
  #first: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(
    host: DialerHost,
    settings: Pick<ClientSettings, 'endpoints' | 'backoff' | 'retryFirstConnect' | 'followRedirects'>,
  ) {
    this.#host = host;
    this.#endpoints = settings.endpoints;
    this.#backoff = settings.backoff;
    this.#retryFirstConnect = settings.retryFirstConnect;
    this.#followRedirects = settings.followRedirects;
  }

  /** The server of the current (or last) connection or attempt. */
  get endpoint(): Endpoint {
    return this.#endpoints[this.#trying] as Endpoint;
  }

  /**
   * The first connection. Without `retryFirstConnect` one round: a failure closes the client and
   * rejects. With it, failed rounds are retried with the reconnect backoff; it resolves on the first
   * success and rejects on a permanent refusal (with the ConnackError), when the client is ended,
   * or when `maxAttempts` is reached (CLIENT_CLOSED).
   */
  async first(): Promise<void> {
    try {
      await this.#round();
    } catch (error) {
      if (!this.#retryFirstConnect || permanentRefusal(error as Error) || this.#host.closed()) {
        this.#host.shutdown(error as Error);
        throw error;
      }
      const connected = new Promise<void>((resolve, reject) => {
        this.#first = { resolve, reject };
      });
      this.#host.report(toClientError(error, ClientErrorCode.TRANSPORT_ERROR));
      this.#schedule(error as Error);
      await connected;
    }
  }

  /**
   * The client closed for good: no more attempts; a waiting `first()` rejects with `reason`, or
   * with `error` when that is a refusal.
   */
  stop(reason: MqttClientError, error: Error = reason): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#first;
    this.#first = undefined;
    // A refusal is more useful to the caller of connect() than "closed" wrapped around it.
    first?.reject(error instanceof ConnackError ? error : reason);
  }

  /** A connection that was up is lost: reconnect after a backoff delay, or give up. */
  connectionLost(error: Error | undefined, connectedAt: number): void {
    const backoff = this.#backoff as Backoff;
    if (Date.now() - connectedAt >= backoff.stableAfter) backoff.reset();
    this.#schedule(error);
  }

  /** Waits the next backoff delay, then runs a round; gives up when the attempts are used up. */
  #schedule(error: Error | undefined): void {
    const backoff = this.#backoff as Backoff;
    if (backoff.exhausted) {
      this.#host.offline(error, undefined);
      this.#host.shutdown(
        new MqttClientError(
          ClientErrorCode.CLIENT_CLOSED,
          `gave up after ${backoff.attempt} ${this.#first ? 'connect' : 'reconnect'} attempts`,
          { cause: error },
        ),
      );
      return;
    }
    const delay = Math.round(backoff.next());
    this.#host.offline(error, delay);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#host.reconnecting(backoff.attempt);
      this.#round().then(
        () => {
          const first = this.#first;
          this.#first = undefined;
          first?.resolve();
        },
        (failure: Error) => {
          if (this.#host.closed()) return;
          this.#host.report(toClientError(failure, ClientErrorCode.TRANSPORT_ERROR));
          if (permanentRefusal(failure)) this.#host.shutdown(failure);
          else this.#schedule(failure);
        },
      );
    }, delay);
  }

  /**
   * A CONNACK or DISCONNECT with 0x9C Use another server or 0x9D Server moved: reported, and with
   * `followRedirects` its Server Reference replaces the server that sent it.
   */
  redirected(reasonCode: number, properties: Properties | undefined): void {
    if (
      (reasonCode !== ReasonCode.UseAnotherServer && reasonCode !== ReasonCode.ServerMoved) ||
      !properties?.serverReference
    )
      return;
    const serverReference = properties.serverReference;
    this.#host.redirect({ reasonCode, serverReference, permanent: reasonCode === ReasonCode.ServerMoved });
    if (!this.#followRedirects) return;
    try {
      this.#endpoints[this.#trying] = redirectEndpoint(this.endpoint, serverReference);
      this.#current = this.#trying;
    } catch (error) {
      this.#host.report(toClientError(error));
    }
  }

  /** Tries each server once, from the current one on; throws the last failure when none answered. */
  async #round(): Promise<void> {
    const count = this.#endpoints.length;
    const start = this.#current;
    let failure: unknown;
    for (let i = 0; i < count; i++) {
      if (i > 0) this.#host.report(toClientError(failure, ClientErrorCode.TRANSPORT_ERROR));
      this.#trying = (start + i) % count;
      try {
        await this.#host.attempt(this.endpoint);
        this.#current = this.#trying;
        return;
      } catch (error) {
        failure = error;
        if (this.#host.closed() || permanentRefusal(error as Error)) break;
      }
    }
    throw failure;
  }
}
