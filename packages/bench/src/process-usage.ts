import { readFileSync } from 'node:fs';

/** CPU time and resident memory of a process at one moment, from Linux's /proc. */
export interface ProcessSample {
  /** User + system CPU time of every thread, in milliseconds. */
  cpuMs: number;
  /** Resident set size in bytes (`VmRSS`). */
  rssBytes: number;
}

/** What a broker process used while one scenario ran against it. */
export interface ProcessUsage {
  pid: number;
  /** CPU time (user + system, every thread) spent during the run, in milliseconds. */
  cpuMs: number;
  rssBeforeBytes: number;
  /** The largest RSS seen while the run went on (sampled every `intervalMs`, and at both ends). */
  rssPeakBytes: number;
  rssAfterBytes: number;
}

/**
 * /proc/<pid>/stat counts CPU time in clock ticks of USER_HZ, which Linux fixes at 100 per second
 * for user space whatever the kernel's own tick rate is.
 */
const TICKS_PER_SECOND = 100;

/** Parses the text of /proc/<pid>/stat and /proc/<pid>/status. */
export function parseProcessSample(stat: string, status: string): ProcessSample {
  // The command name (field 2) is in parentheses and may itself contain spaces and ')'; the fields
  // after the last ')' start with the state (field 3), so utime (14) and stime (15) are 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!Number.isFinite(ticks)) throw new Error('unexpected /proc/<pid>/stat format');
  return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}

/** Reads a process's CPU time and RSS; null when /proc has no such process (or no /proc at all). */
export function sampleProcess(pid: number): ProcessSample | null {
  try {
    return parseProcessSample(
      readFileSync(`/proc/${pid}/stat`, 'utf8'),
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
  } catch {
    return null;
  }
}

/**
 * Samples a process while something runs: CPU time at both ends, RSS at both ends and every
 * `intervalMs` in between for the peak. `stop()` returns null when the process could not be read
 * at the start or the end (it exited, or this is not Linux).
 */
export class ProcessWatcher {
  readonly #pid: number;
  readonly #before: ProcessSample | null;
  readonly #timer: NodeJS.Timeout;
  #peak: number;

  /** Starts watching `pid` (sampling RSS every `intervalMs`, default 100). */
  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#before = sampleProcess(pid);
    this.#peak = this.#before?.rssBytes ?? 0;
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    // The sampler must never keep a finished program alive.
    this.#timer.unref();
  }

  #sample(): ProcessSample | null {
    const now = sampleProcess(this.#pid);
    if (now && now.rssBytes > this.#peak) this.#peak = now.rssBytes;
    return now;
  }

  /** Stops sampling and returns what the process used since the watcher started. */
  stop(): ProcessUsage | null {
    clearInterval(this.#timer);
    const after = this.#sample();
    if (!this.#before || !after) return null;
    return {
      pid: this.#pid,
      cpuMs: after.cpuMs - this.#before.cpuMs,
      rssBeforeBytes: this.#before.rssBytes,
      rssPeakBytes: this.#peak,
      rssAfterBytes: after.rssBytes,
    };
  }
}
