import { randomBytes } from 'node:crypto';
import type { ClientInfo, Hook, Message, StoredState } from '@x/broker';
import type { RedisStore } from '@x/broker-store-redis';
import { encodeMessage } from './codec.js';
import { type ClusterContext, sleep } from './context.js';
import type { DeliveredIds } from './delivered.js';
import type { Handoffs } from './handoff.js';
import { CLAIM_SCRIPT, DISOWN_SCRIPT, MOVE_SCRIPT } from './keys.js';
import type { Membership } from './membership.js';
import type { LocalSummary } from './summary.js';

/** What session ownership needs from the other parts. */
export interface SessionDeps {
  readonly ctx: ClusterContext;
  readonly store: RedisStore;
  readonly membership: Membership;
  /** This node's summary: a session's filters come and go with it. */
  readonly summary: LocalSummary;
  /** Waits until what this node's stream holds now is routed and committed. */
  catchUp(): Promise<void>;
  /** Takes over a node whose lease ran out. */
  adoptNode(node: string): Promise<void>;
  /** Milliseconds a CONNECT waits for the node holding its session to let it go. */
  readonly takeoverTimeout: number;
  readonly handoffs: Handoffs;
  readonly delivered: DeliveredIds;
}

/** The longest a node routes its stream's backlog before it lets a session go. */
export const CATCH_UP_MS = 5000;

/** A CONNECT's will, as the broker's hooks see it. */
type Will = Parameters<NonNullable<Hook['onWill']>>[1];

interface Waiting {
  resolve: () => void;
}

/**
 * Which node holds each session (`cluster:owners`), and the moves: a CONNECT on another node asks
 * the holder to let the session go (takeover), a dead holder is adopted first. Also the wills of
 * this node's online clients, kept in Redis so a survivor publishes them if this node dies.
 */
export class SessionOwnership {
  readonly #deps: SessionDeps;
  readonly #ctx: ClusterContext;
  readonly #waiting = new Map<string, Waiting>();

  constructor(deps: SessionDeps) {
    this.#deps = deps;
    this.#ctx = deps.ctx;
  }

  /** The node holding a client's session, if any. */
  async ownerOf(clientId: string): Promise<string | undefined> {
    return (await this.#ctx.redis().hget(this.#ctx.keys.owners, clientId)) ?? undefined;
  }

  /** Of the stored sessions, those this node owns (or claims, unowned); the others are let go. */
  async keepOwned(sessions: StoredState['sessions']): Promise<StoredState['sessions']> {
    const cmd = this.#ctx.redis();
    const owners = await cmd.hgetall(this.#ctx.keys.owners);
    const mine: StoredState['sessions'] = [];
    for (const session of sessions) {
      const owner = owners[session.clientId];
      if (owner === this.#ctx.nodeId) {
        await this.#deps.delivered.load(session.clientId);
        mine.push(session);
      } else if (
        owner === undefined &&
        (await cmd.hsetnx(this.#ctx.keys.owners, session.clientId, this.#ctx.nodeId)) === 1
      ) {
        mine.push(session);
      } else this.#deps.store.releaseSession(session.clientId);
    }
    return mine;
  }

  /**
   * After a Redis outage: lets go of the sessions another node took meanwhile, and claims again
   * those nobody owns (a Redis restarted empty forgot the owners), so a CONNECT elsewhere asks
   * this node for them rather than starting a second copy.
   */
  async reconcile(): Promise<void> {
    const broker = this.#ctx.broker();
    const cmd = this.#ctx.redis();
    const owners = await cmd.hgetall(this.#ctx.keys.owners);
    for (const session of [...broker.sessions.values()]) {
      const owner = owners[session.clientId];
      if (owner === this.#ctx.nodeId) continue;
      if (owner === undefined) {
        if ((await cmd.hsetnx(this.#ctx.keys.owners, session.clientId, this.#ctx.nodeId)) === 1) continue;
      }
      await this.#forget(session.clientId);
    }
  }

  /**
   * Before a CONNECT gets its session: the node holding it lets it go (or, dead, is adopted), this
   * node becomes its owner and, unless Clean Start, loads it from the store.
   */
  async claim(client: ClientInfo, clean: boolean): Promise<number | undefined> {
    const claimed = this.#deps.handoffs.claiming(client.id);
    try {
      return await this.#claim(client, clean);
    } finally {
      claimed();
    }
  }

  async #claim(client: ClientInfo, clean: boolean): Promise<number | undefined> {
    const { membership } = this.#deps;
    const cmd = this.#ctx.redis();
    const id = client.id;
    for (let round = 0; round < 3; round++) {
      const owner = await cmd.hget(this.#ctx.keys.owners, id);
      if (owner === null || owner === this.#ctx.nodeId) break;
      if (await membership.isAlive(owner)) {
        if (await this.#released(owner, id)) {
          this.#ctx.stats.takeovers++;
          break;
        }
        if (!(await membership.leaseEnds(owner))) {
          this.#ctx.log.warn(
            { clientId: id, owner },
            'cluster: the owning node did not release the session; taken',
          );
          break;
        }
      }
      await this.#deps.adoptNode(owner);
    }
    await cmd.eval(CLAIM_SCRIPT, 1, this.#ctx.keys.owners, id, this.#ctx.nodeId);
    if (!clean && !this.#ctx.broker().sessions.has(id)) await this.#load(id);
    this.#deps.handoffs.arrived(id);
    return undefined;
  }

  /**
   * Moves the sessions a dead node owned to this node and loads them; returns their client ids.
   */
  async adoptFrom(node: string): Promise<Set<string>> {
    const cmd = this.#ctx.redis();
    const adopted = new Set<string>();
    const owners = await cmd.hgetall(this.#ctx.keys.owners);
    for (const [clientId, owner] of Object.entries(owners)) {
      if (owner !== node) continue;
      if ((await cmd.eval(MOVE_SCRIPT, 1, this.#ctx.keys.owners, clientId, node, this.#ctx.nodeId)) !== 1) {
        continue;
      }
      if (await this.#load(clientId)) adopted.add(clientId);
    }
    return adopted;
  }

  /** A takeover request or answer on this node's control channel. */
  async onControl(notice: { k: string; c?: string; from?: string; r?: string }): Promise<void> {
    if (notice.k === 'released' && notice.r !== undefined) {
      this.#waiting.get(notice.r)?.resolve();
      return;
    }
    if (notice.k !== 'takeover' || notice.c === undefined || notice.from === undefined) return;
    const clientId = notice.c;
    try {
      // Messages already in this node's stream may be for this session: queued here first, they
      // travel with it through the store.
      await this.#deps.catchUp();
      const filters = [...(this.#ctx.broker().sessions.get(clientId)?.subscriptions.keys() ?? [])];
      // Its filters stay in this node's summary for a while; what matches them goes on to its new
      // node (publishers may not know yet that the session moved). In the same tick as the session
      // leaves the broker (`releaseSession` forgets it before its first await): a message routed
      // here is either queued for it (and travels in the store) or sent on, never neither.
      this.#deps.handoffs.departed(clientId, notice.from, filters);
      const released = this.#ctx.broker().releaseSession(clientId);
      this.#deps.delivered.release(clientId);
      await released;
      this.#deps.store.releaseSession(clientId);
      this.#ctx.log.info({ clientId, to: notice.from }, 'cluster: session handed over');
      await this.#ctx
        .redis()
        .publish(this.#ctx.keys.control(notice.from), JSON.stringify({ k: 'released', r: notice.r }));
    } catch (error) {
      // Not answered: the asking node waits for this node's lease to end (or takes the session
      // after that wait), rather than loading a session this node may still hold. Caught here as
      // this runs from a pub/sub notice, where a rejection would end the process.
      this.#ctx.log.warn({ clientId, error: (error as Error).message }, 'cluster: handover failed');
    }
  }

  /** A session ended here: it leaves the summary, and the owner entry if this node still has it. */
  sessionGone(clientId: string): void {
    this.#deps.summary.removeClient(clientId);
    this.#deps.delivered.forget(clientId);
    this.#ctx.write((r) => r.eval(DISOWN_SCRIPT, 1, this.#ctx.keys.owners, clientId, this.#ctx.nodeId));
  }

  /** A client with a will connected here: kept in Redis for a survivor, should this node die. */
  recordWill(clientId: string, will: Will): void {
    const message: Message = {
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      properties: will.properties,
      expiresAt: 0,
      origin: clientId,
      owned: true,
    };
    this.#ctx.write((r) => r.hset(this.#ctx.keys.wills(this.#ctx.nodeId), clientId, encodeMessage(message)));
  }

  /** The client left this node: its will is this node's to publish (or not) now. */
  dropWill(clientId: string): void {
    this.#ctx.write((r) => r.hdel(this.#ctx.keys.wills(this.#ctx.nodeId), clientId));
  }

  /** Loads a stored session into the broker and its filters into the summary; true when added. */
  async #load(clientId: string): Promise<boolean> {
    const broker = this.#ctx.broker();
    await this.#deps.delivered.load(clientId);
    const stored = await this.#deps.store.loadSession(clientId);
    if (stored === undefined || !broker.adoptSession(stored)) return false;
    this.#deps.summary.addSession(broker.sessions.get(clientId)!);
    return true;
  }

  /** The session leaves this node (the store keeps it for the node that takes it). */
  async #forget(clientId: string): Promise<void> {
    await this.#ctx.broker().releaseSession(clientId);
    this.#deps.store.releaseSession(clientId);
    this.#deps.delivered.release(clientId);
    this.#deps.summary.removeClient(clientId);
  }

  /**
   * Asks the owning node to let a session go: true once it answers, false when it does not in time
   * or its lease runs out first (it died: no answer will come, it is adopted instead, without the
   * CONNECT waiting out the whole answer timeout — a will delay may be running meanwhile).
   */
  async #released(owner: string, clientId: string): Promise<boolean> {
    let settled = false;
    const answer = this.#requestRelease(owner, clientId).finally(() => {
      settled = true;
    });
    const gone = (async () => {
      while (!settled) {
        await sleep(100);
        if (!settled && !(await this.#deps.membership.isAlive(owner))) return false;
      }
      return answer;
    })();
    return Promise.race([answer, gone]);
  }

  /** Asks the owning node to let a session go; true once it answers. */
  async #requestRelease(owner: string, clientId: string): Promise<boolean> {
    const request = randomBytes(8).toString('hex');
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(request);
        resolve(false);
        // An owner that is alive but slow (routing a backlog before it lets go, at most 5 s) is
        // waited for: taking a session it still holds would split it in two.
      }, this.#deps.takeoverTimeout + CATCH_UP_MS);
      this.#waiting.set(request, {
        resolve: () => {
          clearTimeout(timer);
          this.#waiting.delete(request);
          resolve(true);
        },
      });
    });
    const notice = JSON.stringify({ k: 'takeover', c: clientId, from: this.#ctx.nodeId, r: request });
    await this.#ctx.redis().publish(this.#ctx.keys.control(owner), notice);
    return answered;
  }
}
