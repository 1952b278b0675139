import { ConnectReturnCode, ReasonCode } from '@x/packets';
import { ConnackError } from './errors.js';

/** Reconnect policy: exponential backoff with full jitter, so a fleet of clients never reconnects in step. */
export interface ReconnectOptions {
  /** Base delay in milliseconds for the first retry. Default 1000. */
  initialDelay?: number;
  /** Upper bound of any delay in milliseconds. Default 30 000. */
  maxDelay?: number;
  /** Growth factor per failed attempt. Default 2. */
  factor?: number;
  /**
   * 'full' (default): a uniformly random delay in [0, cap]; 'equal': in [cap/2, cap];
   * 'none': exactly cap (only for tests; it synchronises clients that lost the same server).
   */
  jitter?: 'full' | 'equal' | 'none';
  /** Give up after this many consecutive failed attempts. Default Infinity. */
  maxAttempts?: number;
  /** A connection that lived this many milliseconds resets the backoff. Default 10 000. */
  stableAfter?: number;
}

/** Computes successive reconnect delays. */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: 'full' | 'equal' | 'none';
  readonly #random: () => number;
  readonly maxAttempts: number;
  readonly stableAfter: number;
  #attempt = 0;

  constructor(options: ReconnectOptions = {}, random: () => number = Math.random) {
    this.#initial = options.initialDelay ?? 1000;
    this.#max = options.maxDelay ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 'full';
    this.maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.stableAfter = options.stableAfter ?? 10_000;
    this.#random = random;
    if (!(this.#initial >= 0) || !(this.#max >= this.#initial) || !(this.#factor >= 1)) {
      throw new RangeError('reconnect: need 0 <= initialDelay <= maxDelay and factor >= 1');
    }
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** True when `maxAttempts` consecutive attempts have failed. */
  get exhausted(): boolean {
    return this.#attempt >= this.maxAttempts;
  }

  /** The delay before the next attempt; counts the attempt. */
  next(): number {
    const cap = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt);
    this.#attempt++;
    if (this.#jitter === 'none') return cap;
    if (this.#jitter === 'equal') return cap / 2 + this.#random() * (cap / 2);
    return this.#random() * cap;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** CONNACK reasons after which retrying the same connection is pointless. */
const PERMANENT_REFUSALS = new Set<number>([
  // v3.1/3.1.1 return codes
  ConnectReturnCode.UnacceptableProtocolVersion,
  ConnectReturnCode.IdentifierRejected,
  ConnectReturnCode.BadUserNameOrPassword,
  ConnectReturnCode.NotAuthorized,
  // v5 reason codes
  ReasonCode.UnsupportedProtocolVersion,
  ReasonCode.ClientIdentifierNotValid,
  ReasonCode.BadUserNameOrPassword,
  ReasonCode.NotAuthorized,
  ReasonCode.Banned,
  ReasonCode.BadAuthenticationMethod,
]);

/** True for a refusal that a reconnect would only meet again (bad credentials, banned, …). */
export function permanentRefusal(failure: Error): boolean {
  return failure instanceof ConnackError && PERMANENT_REFUSALS.has(failure.reasonCode ?? 0);
}
