/**
 * The logger the broker writes to. Its shape is pino's (`logger.warn({ clientId }, 'message')`), so a
 * pino instance can be passed as is.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A dependency-free logger writing one JSON line per entry to stderr at or above `level`. */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const min = levels[level];
  const write = (name: LogLevel) => (fields: object, message: string) => {
    if (levels[name] < min) return;
    process.stderr.write(`${JSON.stringify({ level: name, time: Date.now(), msg: message, ...fields })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * A budget of log lines per second, so a storm (malformed input, drops under overload) cannot flood
 * the log; the next line written says how many were left out.
 */
export class LogBudget {
  #windowStart = 0;
  #used = 0;
  #suppressed = 0;
  readonly perSecond: number;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
  }

  /** -1 when this line must be left out, else how many were left out before it. */
  take(now: number): number {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.perSecond) {
      this.#suppressed++;
      return -1;
    }
    this.#used++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
