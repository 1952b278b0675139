import type { ClusterContext } from './context.js';

/**
 * Ids of the messages from other nodes each session was given, so that a copy routed twice reaches
 * it once. Twice happens when a node dies after routing a stream batch (committed) but before
 * acknowledging it: the batch is routed again by the restarted node or the survivor that adopts it.
 * For QoS 2 the ids are kept in Redis too (`cluster:seen:<client>`), written by the same commit as
 * the delivery, and read when a session is loaded; QoS 1 ids are kept in memory for sessions that
 * just moved here (a handoff copy may follow the direct one). At most `limit` ids per session: a
 * batch read from a stream holds at most 256 entries, and only the last one can come back.
 */
export class DeliveredIds {
  readonly #ctx: ClusterContext;
  readonly #limit: number;
  readonly #bySession = new Map<string, Set<string>>();

  constructor(ctx: ClusterContext, limit = 512) {
    this.#ctx = ctx;
    this.#limit = limit;
  }

  /** Reads what a session loaded here was given on its previous node. */
  async load(clientId: string): Promise<void> {
    const ids = await this.#ctx.redis().zrange(this.#ctx.keys.seen(clientId), 0, -1);
    if (ids.length > 0) this.#bySession.set(clientId, new Set(ids));
  }

  /**
   * True the first time a session is given a message id (recorded then; `durable`: in Redis too,
   * as a write the next commit waits for), false after.
   */
  first(clientId: string, id: string, durable: boolean): boolean {
    let ids = this.#bySession.get(clientId);
    if (ids === undefined) {
      ids = new Set();
      this.#bySession.set(clientId, ids);
    } else if (ids.has(id)) return false;
    ids.add(id);
    if (ids.size > this.#limit) ids.delete(ids.values().next().value!);
    if (durable) {
      const key = this.#ctx.keys.seen(clientId);
      const limit = this.#limit;
      this.#ctx.write((r) =>
        Promise.all([r.zadd(key, Date.now(), id), r.zremrangebyrank(key, 0, -limit - 1)]),
      );
    }
    return true;
  }

  /** The session left this node (its next node reads the ids from Redis). */
  release(clientId: string): void {
    this.#bySession.delete(clientId);
  }

  /** The session ended: nothing to remember. */
  forget(clientId: string): void {
    this.#bySession.delete(clientId);
    this.#ctx.write((r) => r.del(this.#ctx.keys.seen(clientId)));
  }
}
