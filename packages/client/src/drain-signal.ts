/**
 * One promise for the connection's next 'drain', shared by every QoS 0 publish that found the
 * connection congested: a burst of such publishes costs one promise, not one each.
 */
export class DrainSignal {
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  /** Settles at the next `release()`. */
  wait(): Promise<void> {
    if (!this.#promise) {
      this.#promise = new Promise((resolve) => {
        this.#resolve = resolve;
      });
    }
    return this.#promise;
  }

  /** The connection drained, or is gone: nothing is left to wait for. */
  release(): void {
    const resolve = this.#resolve;
    this.#promise = this.#resolve = undefined;
    resolve?.();
  }
}
