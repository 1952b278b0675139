/** Steps of the undo log. */
const UNDO_ADD = 0;
const UNDO_RELEASE = 1;
const UNDO_FORGET = 2;

/**
 * Which stored group holds each QoS 1 in-flight message. The QoS 1 messages a batch puts in flight
 * for one client are written as one row of `inflight_groups` (schema.ts), keyed by the sending
 * order of its first message, instead of one row each: an online subscriber's stream then costs
 * one INSERT per commit and one DELETE once the subscriber has acknowledged the whole group, not an
 * INSERT and a DELETE per message. A group's row goes when its last live message is acknowledged;
 * until then the acknowledged ones stay in it, and a restart sends them again (QoS 1 is at least
 * once; the loader keeps only the newest message per packet id, so a reused id is never sent twice).
 *
 * The encoder changes this map while it encodes a batch, before the batch is written. Those
 * changes are undone if the write fails (`rollback`), kept once it succeeded (`keep`): the batch is
 * then encoded again, folded with later ones, from the state before it.
 */
export class InflightGroups {
  /** clientId → packetId → the order key of the group holding the live message. */
  readonly #groupOf = new Map<string, Map<number, number>>();
  /** clientId → group key → live messages in it. */
  readonly #live = new Map<string, Map<number, number>>();
  /**
   * Undo steps of the batch being written, oldest first, four slots each: the step, the client id
   * and two values (no closure per acknowledged message).
   */
  #undo: unknown[] = [];

  /** Records that `packetIds` are live in the group `key` of `clientId` (a new group, or one loaded). */
  add(clientId: string, key: number, packetIds: readonly number[]): void {
    let groups = this.#groupOf.get(clientId);
    if (groups === undefined) {
      groups = new Map();
      this.#groupOf.set(clientId, groups);
    }
    let live = this.#live.get(clientId);
    if (live === undefined) {
      live = new Map();
      this.#live.set(clientId, live);
    }
    for (const packetId of packetIds) groups.set(packetId, key);
    live.set(key, packetIds.length);
    this.#undo.push(UNDO_ADD, clientId, key, packetIds);
  }

  /**
   * The message under `packetId` is no longer live (acknowledged, or replaced). Returns the key of
   * its group when that group has no live message left (its row is to be deleted), -1 when the group
   * lives on, and undefined when no group holds the packet id (its row, if any, is a plain one).
   */
  release(clientId: string, packetId: number): number | undefined {
    const groups = this.#groupOf.get(clientId);
    const key = groups?.get(packetId);
    if (groups === undefined || key === undefined) return undefined;
    const live = this.#live.get(clientId)!;
    const count = live.get(key)! - 1;
    groups.delete(packetId);
    if (count === 0) live.delete(key);
    else live.set(key, count);
    this.#undo.push(UNDO_RELEASE, clientId, packetId, key);
    return count === 0 ? key : -1;
  }

  /** The client's stored rows are all deleted (its session ended). */
  forget(clientId: string): void {
    const groups = this.#groupOf.get(clientId);
    const live = this.#live.get(clientId);
    if (groups === undefined && live === undefined) return;
    this.#groupOf.delete(clientId);
    this.#live.delete(clientId);
    this.#undo.push(UNDO_FORGET, clientId, groups, live);
  }

  /** Whether the group `key` of `clientId` still holds a live message. */
  holds(clientId: string, key: number): boolean {
    return this.#live.get(clientId)?.has(key) ?? false;
  }

  /** The batch encoded since the last call was written: its changes stay. */
  keep(): void {
    this.#undo = [];
  }

  /** The batch encoded since the last call failed: its changes are undone. */
  rollback(): void {
    const undo = this.#undo;
    this.#undo = [];
    for (let i = undo.length - 4; i >= 0; i -= 4) {
      const clientId = undo[i + 1] as string;
      switch (undo[i]) {
        case UNDO_ADD: {
          const key = undo[i + 2] as number;
          const groups = this.#groupOf.get(clientId);
          for (const packetId of undo[i + 3] as number[])
            if (groups?.get(packetId) === key) groups.delete(packetId);
          this.#live.get(clientId)?.delete(key);
          break;
        }
        case UNDO_RELEASE: {
          const packetId = undo[i + 2] as number;
          const key = undo[i + 3] as number;
          this.#groupOf.get(clientId)?.set(packetId, key);
          const live = this.#live.get(clientId);
          live?.set(key, (live.get(key) ?? 0) + 1);
          break;
        }
        default: {
          const groups = undo[i + 2] as Map<number, number> | undefined;
          const live = undo[i + 3] as Map<number, number> | undefined;
          if (groups !== undefined) this.#groupOf.set(clientId, groups);
          if (live !== undefined) this.#live.set(clientId, live);
        }
      }
    }
  }

  /** Live messages tracked, for tests. */
  get size(): number {
    let n = 0;
    for (const groups of this.#groupOf.values()) n += groups.size;
    return n;
  }
}
