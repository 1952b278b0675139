import { availableParallelism } from 'node:os';
import { ReasonCode } from '@x/packets';
import type { Client } from './client.js';
import type { AuthOutcome, MaybePromise } from './hooks.js';
import { LogBudget, type Logger } from './logger.js';

/** Exponential back-off after failed logins, for one key (a remote address or a user name). */
export interface BackoffOptions {
  /** Failures forgiven before refusals are delayed. Default 5 per address, 3 per user name. */
  freeFailures?: number;
  /** Delay of the refusal after the first failure past the free ones, doubled for each further one, in ms. Default 250. */
  baseDelay?: number;
  /** Longest delay of a refusal, in ms; keep it below `connectTimeout`. Default 5000. */
  maxDelay?: number;
}

/**
 * Throttling of password guessing. Every CONNECT that carries a user name or password goes through
 * it before the `onConnectAuthenticate` hooks run, whatever those hooks are.
 */
export interface AuthThrottleOptions {
  /**
   * Credential checks run at once. Default: the number of CPUs, at most 4. Node hashes (scrypt,
   * PBKDF2) on 4 libuv threads sharing the CPUs, so more at once only wait there, out of reach of
   * the ordering below, and each scrypt check at the default cost holds 32 MiB while it runs.
   */
  maxConcurrent?: number;
  /**
   * CONNECTs waiting for a check. When full, the most suspect one (user name, then address, with the
   * most recent failures) is refused with 0x89 Server busy (v3: return code 3). Default 1000.
   */
  maxWaiting?: number;
  /** Back-off per remote address. */
  perAddress?: BackoffOptions;
  /** Back-off per user name. */
  perUser?: BackoffOptions;
  /** Milliseconds without a failure after which an address's or user name's count is forgotten. Default 900 000. */
  forgetAfter?: number;
  /** Addresses, and user names, remembered (each); the least recently failed are forgotten first. Default 10 000. */
  maxTracked?: number;
}

export type ResolvedAuthThrottle = Required<Omit<AuthThrottleOptions, 'perAddress' | 'perUser'>> & {
  perAddress: Required<BackoffOptions>;
  perUser: Required<BackoffOptions>;
};

export function resolveAuthThrottle(
  options: AuthThrottleOptions | false | undefined,
): ResolvedAuthThrottle | false {
  if (options === false) return false;
  const o = options ?? {};
  const backoff = (b: BackoffOptions | undefined, free: number): Required<BackoffOptions> => ({
    freeFailures: b?.freeFailures ?? free,
    baseDelay: b?.baseDelay ?? 250,
    maxDelay: b?.maxDelay ?? 5000,
  });
  return {
    maxConcurrent: o.maxConcurrent ?? Math.min(4, availableParallelism()),
    maxWaiting: o.maxWaiting ?? 1000,
    perAddress: backoff(o.perAddress, 5),
    perUser: backoff(o.perUser, 3),
    forgetAfter: o.forgetAfter ?? 900_000,
    maxTracked: o.maxTracked ?? 10_000,
  };
}

type Check = () => MaybePromise<AuthOutcome | undefined>;
type Verdict = MaybePromise<AuthOutcome | undefined>;

interface Waiter {
  client: Client;
  username: string | undefined;
  check: Check;
  resolve(outcome: AuthOutcome | undefined): void;
}

const BUSY: AuthOutcome = { ok: false, reasonCode: ReasonCode.ServerBusy, reasonString: 'server busy' };

/** Failed-login lines: at most 10 a second over the whole process (a guessing storm). */
const failureLog = new LogBudget(10);

/**
 * Failure counts per key, forgotten after a quiet period. The map's order is the order of the last
 * failure, so the first entry is always the one to forget when the map is full.
 */
class FailureCounts {
  readonly #counts = new Map<string, { failures: number; last: number }>();
  readonly #max: number;
  readonly #forgetAfter: number;

  constructor(max: number, forgetAfter: number) {
    this.#max = max;
    this.#forgetAfter = forgetAfter;
  }

  get(key: string | undefined, now: number): number {
    if (key === undefined) return 0;
    const entry = this.#counts.get(key);
    if (entry === undefined) return 0;
    if (now - entry.last > this.#forgetAfter) {
      this.#counts.delete(key);
      return 0;
    }
    return entry.failures;
  }

  /** Counts one more failure and returns the count. */
  add(key: string, now: number): number {
    const failures = this.get(key, now) + 1;
    this.#counts.delete(key);
    this.#counts.set(key, { failures, last: now });
    if (this.#counts.size > this.#max) {
      const oldest = this.#counts.keys().next().value as string;
      this.#counts.delete(oldest);
    }
    return failures;
  }

  clear(key: string | undefined): void {
    if (key !== undefined) this.#counts.delete(key);
  }
}

/**
 * The host part of a `host:port` remote address (`[v6]:port`, `unix:3` and `memory:3` give `[v6]`,
 * `unix`, `memory`): every connection from one machine shares one count.
 */
function hostOf(remoteAddress: string): string {
  return remoteAddress.replace(/:\d+$/, '');
}

/** The delay owed after `failures` failures: none for the free ones, then doubling up to the cap. */
function backoffDelay(failures: number, b: Required<BackoffOptions>): number {
  const over = failures - b.freeFailures;
  if (over <= 0) return 0;
  return Math.min(b.baseDelay * 2 ** Math.min(over - 1, 30), b.maxDelay);
}

/**
 * Caps concurrent credential checks and slows repeated failures. A success is never delayed, so a
 * legitimate user behind the same address as a guesser logs in as fast as the checks allow; a
 * failure's refusal is held back by the back-off of its address or user name (the larger), so each
 * guessing connection gets its answer later and later. Waiting CONNECTs are served least suspect
 * first: a user name with no recent failures overtakes the name being guessed.
 */
export class AuthThrottle {
  readonly #options: ResolvedAuthThrottle;
  readonly #log: Logger;
  readonly #addresses: FailureCounts;
  readonly #users: FailureCounts;
  readonly #waiting: Waiter[] = [];
  #running = 0;

  constructor(options: ResolvedAuthThrottle, log: Logger) {
    this.#options = options;
    this.#log = log;
    this.#addresses = new FailureCounts(options.maxTracked, options.forgetAfter);
    this.#users = new FailureCounts(options.maxTracked, options.forgetAfter);
  }

  /** Checks running now. */
  get running(): number {
    return this.#running;
  }

  /** CONNECTs waiting for a check. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `check` for this client's CONNECT within the limits; a refusal may come late. */
  run(client: Client, username: string | undefined, check: Check): Verdict {
    if (this.#running < this.#options.maxConcurrent) return this.#start(client, username, check);
    return new Promise((resolve) => {
      const waiter: Waiter = { client, username, check, resolve };
      if (this.#waiting.length >= this.#options.maxWaiting && !this.#makeRoom(waiter)) {
        resolve(BUSY);
        return;
      }
      this.#waiting.push(waiter);
    });
  }

  #start(client: Client, username: string | undefined, check: Check): Verdict {
    this.#running++;
    let outcome: Verdict;
    try {
      outcome = check();
    } catch (error) {
      this.#release();
      throw error;
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (result) => {
          this.#release();
          return this.#verdict(client, username, result);
        },
        (error: unknown) => {
          this.#release();
          throw error;
        },
      );
    }
    this.#release();
    return this.#verdict(client, username, outcome);
  }

  #release(): void {
    this.#running--;
    while (this.#running < this.#options.maxConcurrent) {
      const next = this.#takeLeastSuspect();
      if (next === undefined) return;
      if (next.client.state === 'closed') {
        next.resolve(undefined);
        continue;
      }
      // A check that throws is the hooks' failure: the verdict is "not authorized", not a crash.
      let verdict: Verdict;
      try {
        verdict = this.#start(next.client, next.username, next.check);
      } catch {
        verdict = false;
      }
      Promise.resolve(verdict).then(next.resolve, () => next.resolve(false));
    }
  }

  /** Lower is served first: recent failures of the user name, then of the address. */
  #suspicion(w: Waiter, now: number): number {
    return (
      this.#users.get(w.username, now) * 1_000_000 + this.#addresses.get(hostOf(w.client.remoteAddress), now)
    );
  }

  #takeLeastSuspect(): Waiter | undefined {
    const waiting = this.#waiting;
    if (waiting.length === 0) return undefined;
    const now = Date.now();
    let best = 0;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let i = 0; i < waiting.length; i++) {
      const score = waiting[i]!.client.state === 'closed' ? -1 : this.#suspicion(waiting[i]!, now);
      if (score < bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return waiting.splice(best, 1)[0];
  }

  /** The queue is full: drops closed waiters, else refuses the most suspect one if it is worse than `w`. */
  #makeRoom(w: Waiter): boolean {
    const waiting = this.#waiting;
    const open = waiting.filter((x) => x.client.state !== 'closed');
    for (const x of waiting) if (x.client.state === 'closed') x.resolve(undefined);
    waiting.length = 0;
    waiting.push(...open);
    if (waiting.length < this.#options.maxWaiting) return true;
    const now = Date.now();
    let worst = 0;
    let worstScore = -1;
    for (let i = 0; i < waiting.length; i++) {
      const score = this.#suspicion(waiting[i]!, now);
      if (score >= worstScore) {
        worst = i;
        worstScore = score;
      }
    }
    if (worstScore <= this.#suspicion(w, now)) return false;
    waiting.splice(worst, 1)[0]!.resolve(BUSY);
    return true;
  }

  /** Counts a failure (and delays its answer) or forgets the user name's failures on success. */
  #verdict(client: Client, username: string | undefined, outcome: AuthOutcome | undefined): Verdict {
    const failed =
      outcome === undefined ||
      outcome === false ||
      (typeof outcome === 'object' && 'ok' in outcome && !outcome.ok);
    if (!failed) {
      // A completed login clears the user name's count; an enhanced-auth challenge is not one yet.
      if (!(typeof outcome === 'object' && 'continue' in outcome)) this.#users.clear(username);
      return outcome;
    }
    const now = Date.now();
    const o = this.#options;
    const addressFailures = this.#addresses.add(hostOf(client.remoteAddress), now);
    const userFailures = username === undefined ? 0 : this.#users.add(username, now);
    const delay = Math.max(
      backoffDelay(addressFailures, o.perAddress),
      backoffDelay(userFailures, o.perUser),
    );
    const suppressed = failureLog.take(now);
    if (suppressed >= 0) {
      this.#log.warn(
        {
          clientId: client.id,
          remote: client.remoteAddress,
          username,
          addressFailures,
          userFailures,
          delay,
          ...(suppressed ? { suppressed } : {}),
        },
        'authentication failed',
      );
    }
    if (delay === 0) return outcome;
    return new Promise((resolve) => setTimeout(resolve, delay, outcome).unref());
  }
}
