import type { ConnectionInfo } from './listeners/listener.js';
import type { Logger } from './logger.js';

/**
 * Logs connections refused for a limit (a listener's `maxConnections` or `connectionRate`, the
 * broker's `maxConnections`) without flooding the log: the first refusal gets a line at once, the
 * ones after it within `windowMs` are counted by reason and summed up in one line when the window
 * ends. A connection storm against a full broker would otherwise write a line per attempt. The
 * reasons are the limits' own messages, so the count of distinct ones is bounded by the listeners.
 */
export class RefusalLog {
  readonly #log: Logger;
  readonly #windowMs: number;
  /** Refusals counted since the last line, by reason. */
  readonly #counted = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, windowMs = 10_000) {
    this.#log = log;
    this.#windowMs = windowMs;
  }

  note(info: ConnectionInfo, reason: string): void {
    if (this.#timer === undefined) {
      this.#log.warn(
        { remote: info.remoteAddress, listener: info.listener, reason },
        `connection refused: ${reason}`,
      );
      this.#timer = setTimeout(this.#windowEnded, this.#windowMs).unref();
      return;
    }
    this.#counted.set(reason, (this.#counted.get(reason) ?? 0) + 1);
  }

  /** Writes what is still counted (the broker is closing). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#summarize();
  }

  readonly #windowEnded = (): void => {
    this.#timer = undefined;
    // While refusals keep coming, one line per window; after a quiet window the next is logged at once.
    if (this.#summarize()) this.#timer = setTimeout(this.#windowEnded, this.#windowMs).unref();
  };

  /** Logs the counted refusals, if any, and starts counting again. */
  #summarize(): boolean {
    if (this.#counted.size === 0) return false;
    let refused = 0;
    const reasons: Record<string, number> = {};
    for (const [reason, n] of this.#counted) {
      refused += n;
      reasons[reason] = n;
    }
    this.#counted.clear();
    this.#log.warn(
      { refused, reasons },
      `${refused} more connection${refused === 1 ? '' : 's'} refused in the last ${this.#windowMs / 1000} s`,
    );
    return true;
  }
}
