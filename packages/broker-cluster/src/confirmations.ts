import { randomBytes } from 'node:crypto';
import type { ClusterContext } from './context.js';

/** A '+' notice of this node that waits for the other nodes to confirm it. */
interface Waiter {
  seq: number;
  /** Nodes whose confirmation is still missing. */
  missing: Set<string>;
  timer: NodeJS.Timeout;
  done: () => void;
}

/**
 * Confirmations of filter notices, both ways. This node numbers its '+' notices; a node that has
 * applied one to its view of this node's summary (so routes by it) confirms it on this node's
 * `confirmations` channel. The other way, this node confirms the notices it applied, once per
 * event-loop turn and origin (the highest number covers the ones before it).
 *
 * Why: Redis answers the PUBLISH of a notice before the other nodes have read it (it writes the
 * answer first, and a node reads its subscriber socket when its event loop gets to it), so a
 * SUBACK sent on that answer could reach the client, and its publisher's PUBLISH another node,
 * before that node knew the filter: the node routed the message to nobody (QoS 1/2 acknowledged).
 */
export class NoticeConfirmations {
  readonly #ctx: ClusterContext;
  readonly #timeoutMs: number;
  /** Tells this process's notices from an earlier one's, whose numbers started at 0 too. */
  readonly token = randomBytes(4).toString('hex');
  #seq = 0;
  /** Per node, the highest of this process's notices it confirmed. */
  readonly #confirmed = new Map<string, number>();
  /** Nodes that let a wait run out: not waited for until they confirm something again. */
  readonly #silent = new Set<string>();
  readonly #waiters = new Set<Waiter>();
  /** Per origin node, the highest notice applied here and not confirmed yet (with its token). */
  #toConfirm = new Map<string, { t: string; s: number }>();
  #scheduled = false;

  /** `timeoutMs`: how long a notice waits for a node before going without its confirmation. */
  constructor(ctx: ClusterContext, timeoutMs: number) {
    this.#ctx = ctx;
    this.#timeoutMs = timeoutMs;
  }

  /** The number of this node's next '+' notice. */
  next(): number {
    return ++this.#seq;
  }

  /**
   * Resolves once every node of `nodes` (other than this one) confirmed notice `seq` or left, or
   * after `timeoutMs`: a node that has not confirmed by then is down (its lease will run out and
   * it is adopted), far behind, or was joining (listed, not yet subscribed: it reads the whole
   * summary once it is), and is not waited for again until it confirms a later notice.
   */
  wait(nodes: readonly string[], seq: number): Promise<void> {
    const missing = new Set<string>();
    for (const node of nodes) {
      if (node !== this.#ctx.nodeId && !this.#silent.has(node) && (this.#confirmed.get(node) ?? 0) < seq)
        missing.add(node);
    }
    if (missing.size === 0 || this.#ctx.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        seq,
        missing,
        done: () => {
          clearTimeout(waiter.timer);
          this.#waiters.delete(waiter);
          resolve();
        },
        timer: setTimeout(() => {
          for (const node of waiter.missing) this.#silent.add(node);
          this.#ctx.log.warn(
            { nodes: [...waiter.missing], timeoutMs: this.#timeoutMs },
            'cluster: filter notice not confirmed in time; SUBACK sent without it',
          );
          waiter.done();
        }, this.#timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** A confirmation from `node` of this node's notices up to `seq` (another process's: ignored). */
  confirmed(node: string, token: string, seq: number): void {
    if (token !== this.token) return;
    this.#silent.delete(node);
    if ((this.#confirmed.get(node) ?? 0) < seq) this.#confirmed.set(node, seq);
    for (const waiter of this.#waiters) {
      if (waiter.seq <= seq && waiter.missing.delete(node) && waiter.missing.size === 0) waiter.done();
    }
  }

  /** A node left the cluster (adopted): nothing waits for it any more. */
  forget(node: string): void {
    this.#confirmed.delete(node);
    this.#silent.delete(node);
    for (const waiter of this.#waiters) {
      if (waiter.missing.delete(node) && waiter.missing.size === 0) waiter.done();
    }
  }

  /** A notice of `origin` is applied here: confirmed at the end of this event-loop turn. */
  applied(origin: string, token: string, seq: number): void {
    const known = this.#toConfirm.get(origin);
    if (known === undefined || known.t !== token || known.s < seq)
      this.#toConfirm.set(origin, { t: token, s: seq });
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#send());
  }

  #send(): void {
    this.#scheduled = false;
    const due = this.#toConfirm;
    this.#toConfirm = new Map();
    if (this.#ctx.closing) return;
    try {
      const redis = this.#ctx.redis();
      for (const [origin, { t, s }] of due) {
        const reply = JSON.stringify({ n: this.#ctx.nodeId, t, s });
        redis.publish(this.#ctx.keys.confirmations(origin), reply).catch(() => {});
      }
    } catch {
      // Not open: the origin's wait runs out.
    }
  }

  /** Stops waiting (the node closes). */
  close(): void {
    for (const waiter of [...this.#waiters]) waiter.done();
  }
}
