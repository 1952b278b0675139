import { decodeMessage } from './codec.js';
import type { ClusterContext } from './context.js';
import { sleep } from './context.js';
import type { Membership } from './membership.js';
import type { Routing } from './routing.js';
import type { SessionOwnership } from './sessions.js';
import type { DurableStreams } from './streams.js';

/** The parts a dead node's adoption touches. */
export interface AdoptionDeps {
  readonly ctx: ClusterContext;
  readonly membership: Membership;
  readonly sessions: Pick<SessionOwnership, 'adoptFrom'>;
  readonly routing: Pick<Routing, 'dropNode'>;
  readonly streams: Pick<DurableStreams, 'drain'>;
}

/**
 * Takes over nodes whose lease ran out: their sessions (a session that was online owes its will,
 * which the broker publishes), the wills of their other online clients, and the unread entries of
 * their streams, routed here to the sessions just adopted. One survivor does it (a lock); the
 * others wait for it to finish.
 */
export class Adoption {
  readonly #deps: AdoptionDeps;
  #adopting = false;
  /** No adoption before this time (ms since the epoch): see `holdOff`. */
  #holdUntil = 0;

  constructor(deps: AdoptionDeps) {
    this.#deps = deps;
  }

  /** Adopts every listed node whose lease ran out (skipped while an adoption runs here). */
  async watch(): Promise<void> {
    const { ctx, membership } = this.#deps;
    if (this.#adopting || ctx.closing || Date.now() < this.#holdUntil) return;
    try {
      for (const node of await membership.members()) {
        if (node === ctx.nodeId) continue;
        if (!(await membership.isAlive(node))) await this.adopt(node);
      }
    } catch (error) {
      ctx.log.warn({ error: (error as Error).message }, 'cluster: node watch failed');
    }
  }

  /** Watches adopt nobody for `ms` (after this node's own reconnection, others may be late). */
  holdOff(ms: number): void {
    this.#holdUntil = Date.now() + ms;
  }

  async adopt(node: string): Promise<void> {
    const { ctx, membership } = this.#deps;
    const cmd = ctx.redis();
    const lock = ctx.keys.adopt(node);
    if ((await cmd.set(lock, ctx.nodeId, 'PX', 60_000, 'NX')) !== 'OK') {
      const until = Date.now() + 15_000;
      while (Date.now() < until && (await membership.isMember(node))) await sleep(100);
      return;
    }
    this.#adopting = true;
    const broker = ctx.broker();
    try {
      if (!(await membership.isMember(node))) return;
      ctx.log.warn({ node }, 'cluster: node lease expired: adopting its sessions');
      const adopted = await this.#deps.sessions.adoptFrom(node);
      // Wills of its clients whose sessions were not stored (the adopted ones carry their own).
      const wills = await cmd.hgetallBuffer(ctx.keys.wills(node));
      for (const [clientId, bytes] of Object.entries(wills)) {
        if (adopted.has(clientId)) continue;
        const will = decodeMessage(bytes);
        const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
        broker.publish(will.topic, will.payload, {
          qos: will.qos,
          retain: will.retain,
          ...(will.properties ? { properties } : {}),
        });
      }
      // Nobody routes to it any more; this node's summary covers its sessions.
      await this.#deps.routing.dropNode(node);
      await ctx.sync();
      await this.#deps.streams.drain(node);
      await cmd.del(ctx.keys.stream(node), ctx.keys.streamBytes(node), ctx.keys.wills(node));
      // Last: until here a failed adoption is taken up again by the next watch.
      await membership.remove(node);
      ctx.stats.adoptions++;
    } finally {
      this.#adopting = false;
      await cmd.del(lock).catch(() => {});
    }
  }
}
