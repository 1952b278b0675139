import type { StatsSample } from '@x/broker-http/api-types';
import type { Api } from './api.ts';

/** 15 minutes at one sample a second, as the server keeps. */
const KEEP = 900;

type Listener = (samples: readonly StatsSample[]) => void;

/**
 * The tab's one stats stream: every chart and figure reads from it, so opening pages costs no
 * polling. Reconnects after a failure; `stop()` ends it (logout).
 */
export class StatsFeed {
  readonly #api: Api;
  readonly #listeners = new Set<Listener>();
  readonly #abort = new AbortController();
  #samples: StatsSample[] = [];
  /** False while the stream is down. */
  connected = false;

  constructor(api: Api) {
    this.#api = api;
    void this.#run();
  }

  get samples(): readonly StatsSample[] {
    return this.#samples;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    listener(this.#samples);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    this.#abort.abort();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener(this.#samples);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await this.#api.stream(
          'stream/stats',
          {},
          ({ event, data }) => {
            this.connected = true;
            if (event === 'history') this.#samples = (JSON.parse(data) as StatsSample[]).slice(-KEEP);
            else if (event === 'sample') {
              this.#samples = [...this.#samples.slice(1 - KEEP), JSON.parse(data) as StatsSample];
            }
            this.#emit();
          },
          signal,
        );
      } catch {
        // Shown as "reconnecting"; the loop tries again.
      }
      this.connected = false;
      this.#emit();
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}
