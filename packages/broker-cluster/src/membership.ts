import { randomBytes } from 'node:crypto';
import { type ClusterContext, sleep } from './context.js';
import { ClusterError } from './errors.js';

/**
 * Which nodes are in the cluster and which are alive: the node set, and each node's lease (a key
 * with a TTL its heartbeat renews). A node whose lease ran out is handed to `adopt`.
 */
export class Membership {
  readonly leaseMs: number;
  readonly #ctx: ClusterContext;
  readonly #token = randomBytes(8).toString('hex');

  constructor(ctx: ClusterContext, leaseMs: number) {
    this.#ctx = ctx;
    this.leaseMs = leaseMs;
  }

  /** Takes this node's lease; waits out that of an earlier process with the same id (killed). */
  async takeLease(): Promise<void> {
    const cmd = this.#ctx.redis();
    const key = this.#ctx.keys.lease(this.#ctx.nodeId);
    const until = Date.now() + this.leaseMs + 1000;
    while ((await cmd.set(key, this.#token, 'PX', this.leaseMs, 'NX')) !== 'OK') {
      if (Date.now() > until) {
        throw new ClusterError('NODE_ID_IN_USE', `node id '${this.#ctx.nodeId}' is held by a live node`);
      }
      await sleep(200);
    }
  }

  /** Sets this node's lease again for `leaseMs` (the heartbeat). */
  renewLease(): Promise<unknown> {
    return this.#ctx.redis().set(this.#ctx.keys.lease(this.#ctx.nodeId), this.#token, 'PX', this.leaseMs);
  }

  /** Gone for good: deletes this node's lease if it still holds it, so a survivor adopts at once. */
  async dropLease(): Promise<void> {
    const cmd = this.#ctx.redis();
    const lease = this.#ctx.keys.lease(this.#ctx.nodeId);
    if ((await cmd.get(lease)) === this.#token) await cmd.del(lease);
  }

  /** Lists this node in the cluster. */
  async register(): Promise<void> {
    await this.#ctx.redis().sadd(this.#ctx.keys.nodes, this.#ctx.nodeId);
  }

  /** Node ids that joined and have not been adopted, sorted. */
  async members(): Promise<string[]> {
    return (await this.#ctx.redis().smembers(this.#ctx.keys.nodes)).sort();
  }

  async isMember(node: string): Promise<boolean> {
    return (await this.#ctx.redis().sismember(this.#ctx.keys.nodes, node)) === 1;
  }

  /** A node is no member any more (last step of its adoption). */
  async remove(node: string): Promise<void> {
    await this.#ctx.redis().srem(this.#ctx.keys.nodes, node);
  }

  async isAlive(node: string): Promise<boolean> {
    return (await this.#ctx.redis().exists(this.#ctx.keys.lease(node))) === 1;
  }

  /** Waits for a silent node's lease to run out; true when it did. */
  async leaseEnds(node: string): Promise<boolean> {
    const until = Date.now() + this.leaseMs + 500;
    while (Date.now() < until) {
      if (!(await this.isAlive(node))) return true;
      await sleep(100);
    }
    return false;
  }
}
