/** What the keep-alive needs from the connection it watches. */
export interface KeepaliveHooks {
  /** Send a PINGREQ now. */
  ping(): void;
  /** Nothing arrived within the ping timeout after a PINGREQ: the connection is dead. */
  dead(): void;
}

/** A monotonic clock in milliseconds (`performance.now()` in Node and browsers). */
export type Clock = () => number;

const defaultClock: Clock = () => globalThis.performance.now();

/**
 * Keep-alive with a single timer and elapsed-time checks.
 *
 * Browsers throttle timers in background tabs (Chrome: once a minute), so counting timer ticks
 * would declare a healthy connection dead, or wait far too long. Each time the timer fires,
 * whenever that is, the decision is made from timestamps alone:
 *
 *   ping outstanding and something arrived since   → answered, carry on
 *   ping outstanding for ≥ timeout, nothing arrived → dead
 *   nothing sent, or nothing received, for ≥ interval → send PINGREQ
 *
 * Sending and receiving only store a timestamp (no timer churn on the hot path); the timer is
 * re-armed for the next moment a decision is due.
 */
export class Keepalive {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #hooks: KeepaliveHooks;
  readonly #clock: Clock;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSent: number;
  #lastReceived: number;
  #pingSentAt = -1;

  /**
   * @param intervalMs the negotiated Keep Alive in milliseconds (0 turns keep-alive off).
   * @param timeoutMs how long a PINGREQ may stay unanswered.
   */
  constructor(intervalMs: number, timeoutMs: number, hooks: KeepaliveHooks, clock: Clock = defaultClock) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
    this.#clock = clock;
    this.#lastSent = this.#lastReceived = clock();
  }

  start(): void {
    if (this.#intervalMs > 0) this.#arm(this.#intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Call after bytes were handed to the transport. */
  sent(): void {
    this.#lastSent = this.#clock();
  }

  /** Call when bytes arrived. */
  received(): void {
    this.#lastReceived = this.#clock();
  }

  /** True while a PINGREQ is waiting for an answer. */
  get pinging(): boolean {
    return this.#pingSentAt >= 0;
  }

  /** Runs the decision now (the timer calls it; tests may too). */
  check(): void {
    this.#timer = undefined;
    const now = this.#clock();
    if (this.#pingSentAt >= 0) {
      if (this.#lastReceived >= this.#pingSentAt) {
        this.#pingSentAt = -1;
      } else if (now - this.#pingSentAt >= this.#timeoutMs) {
        this.#hooks.dead();
        return;
      } else {
        this.#arm(this.#pingSentAt + this.#timeoutMs - now);
        return;
      }
    }
    // [MQTT-3.1.2-23] at most Keep Alive between two packets sent; the receive side check finds a
    // dead connection even for a client that only publishes.
    const due = Math.min(this.#lastSent, this.#lastReceived) + this.#intervalMs;
    if (now >= due) {
      this.#pingSentAt = this.#lastSent = now;
      this.#hooks.ping();
      this.#arm(this.#timeoutMs);
    } else {
      this.#arm(due - now);
    }
  }

  #arm(ms: number): void {
    const timer = setTimeout(() => this.check(), Math.max(1, Math.ceil(ms)));
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }
}
