import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** How late an idle process woke up during one run, in ms (stall-probe.mjs). */
export interface Stalls {
  p99: number;
  p999: number;
  max: number;
  count: number;
}

/**
 * Runs stall-probe.mjs beside the latency rows: a process with nothing to do but wake up every
 * millisecond, so how late it wakes up is the machine's own scheduling delay at that moment (other
 * processes, the hypervisor), which every process on it pays, the broker under test included.
 */
export class StallProbe {
  readonly #child: ChildProcess;
  #latest: Stalls | undefined;

  constructor() {
    this.#child = fork(fileURLToPath(new URL('./stall-probe.mjs', import.meta.url)), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message) => {
      if (typeof message === 'object') this.#latest = message as Stalls;
    });
  }

  /** Starts a new measurement; resolves once the probe has cleared what it saw before (or in 2 s). */
  async reset(): Promise<void> {
    this.#latest = undefined;
    if (!this.#child.connected) return;
    let onMessage: ((message: unknown) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      onMessage = (message: unknown) => {
        if (message === 'reset') resolve();
      };
      this.#child.on('message', onMessage);
      timer = setTimeout(resolve, 2_000);
      this.#child.send('reset');
    });
    clearTimeout(timer);
    if (onMessage) this.#child.off('message', onMessage);
  }

  /** What the probe saw since the last reset (its last report: at most 100 ms old). */
  get latest(): Stalls | undefined {
    return this.#latest;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill();
    await exited;
  }
}
