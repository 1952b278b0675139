/**
 * A small typed event emitter that works the same in Node and browsers (no `node:events`).
 * Unlike Node's EventEmitter, an 'error' event without listeners is dropped rather than thrown:
 * connection errors are also reported through rejected promises and reconnects, and an unhandled
 * throw from inside a socket callback would crash the process.
 */
// biome-ignore lint/suspicious/noExplicitAny: listener signatures vary per event
type Listener = (...args: any[]) => unknown;

export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  #listeners = new Map<keyof Events, Listener[]>();

  /** Adds a listener; returns `this` for chaining. */
  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    const list = this.#listeners.get(event);
    // Copy on write: emit() iterates the array it read, so adding during an emit is safe.
    this.#listeners.set(event, list ? [...list, listener] : [listener]);
    return this;
  }

  /** Adds a listener that is removed after its first call. */
  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    const wrapper = ((...args: unknown[]) => {
      this.off(event, wrapper as Events[K]);
      return listener(...args);
    }) as Events[K];
    return this.on(event, wrapper);
  }

  /** Removes a listener added with `on()`. */
  off<K extends keyof Events>(event: K, listener: Events[K]): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const next = list.filter((l) => l !== listener);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
    return this;
  }

  /** Number of listeners for an event. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls the listeners in order; returns their return values' count (0 when there was none). */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): number {
    const list = this.#listeners.get(event);
    if (!list) return 0;
    for (const listener of list) listener(...args);
    return list.length;
  }

  /** The current listeners (a snapshot that is safe to iterate while listeners change). */
  protected listenersOf<K extends keyof Events>(event: K): readonly Events[K][] {
    return (this.#listeners.get(event) ?? []) as Events[K][];
  }
}
