import type { ClusterRedis } from './connections.js';
import { type ClusterContext, sleep } from './context.js';
import { APPEND_SCRIPT, GROUP, REMOVE_SCRIPT } from './keys.js';
import { CATCH_UP_MS } from './sessions.js';

/**
 * The durable path of QoS 1/2 messages between nodes: one Redis stream per node, read by that node
 * with the consumer group `nodes`. A message is appended (XADD) as a write the publisher's
 * acknowledgement waits for; the owner routes a batch to its sessions, commits, then acknowledges
 * and deletes the entries.
 */
export class DurableStreams {
  readonly #ctx: ClusterContext;
  readonly #maxBytes: number;
  readonly #deliver: (bytes: Buffer) => Promise<void> | undefined;
  #reader: ClusterRedis | undefined;
  #reading: Promise<void> | undefined;
  /** The id of the last stream entry routed, committed and acknowledged. */
  #processed = '0-0';

  /** `deliver` routes one forwarded message to this node's sessions (a promise when it must wait). */
  constructor(ctx: ClusterContext, maxBytes: number, deliver: (bytes: Buffer) => Promise<void> | undefined) {
    this.#ctx = ctx;
    this.#maxBytes = maxBytes;
    this.#deliver = deliver;
  }

  /** Gives the command connection the scripts (sent once, then run by their digest). */
  prepare(cmd: ClusterRedis): void {
    cmd.defineCommand('clusterAppend', { numberOfKeys: 2, lua: APPEND_SCRIPT });
  }

  /**
   * Appends a message to a node's stream, as a write the next commit waits for. A stream holding
   * `maxBytes` already (its node is down and not adopted yet, or cannot keep up) refuses it: the
   * commit fails, so the publisher is not acknowledged (v5: 0x97).
   */
  append(node: string, bytes: Buffer): void {
    const keys = this.#ctx.keys;
    this.#ctx.write((r) =>
      (r as ClusterRedis & BoundedAppend).clusterAppend(
        keys.stream(node),
        keys.streamBytes(node),
        this.#maxBytes,
        bytes.length,
        bytes,
      ),
    );
  }

  /** Makes sure this node's stream and consumer group exist. */
  async create(): Promise<void> {
    try {
      await this.#ctx
        .redis()
        .xgroup('CREATE', this.#ctx.keys.stream(this.#ctx.nodeId), GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /** Starts reading this node's stream on `reader` (a connection of its own: reads block). */
  start(reader: ClusterRedis): void {
    this.#reader = reader;
    this.#reading = this.#readLoop();
  }

  /** Stops reading (the loop ends once the reader is disconnected and `closing` is set). */
  async stop(): Promise<void> {
    this.#reader?.disconnect();
    await this.#reading?.catch(() => {});
  }

  /** Waits (at most 5 s) until every entry in this node's stream now has been routed and committed. */
  async catchUp(): Promise<void> {
    const newest = await this.#ctx
      .redis()
      .xrevrange(this.#ctx.keys.stream(this.#ctx.nodeId), '+', '-', 'COUNT', 1);
    const last = newest[0]?.[0];
    if (last === undefined) return;
    const until = Date.now() + CATCH_UP_MS;
    while (compareIds(this.#processed, last) < 0 && Date.now() < until && !this.#ctx.closing) await sleep(5);
  }

  /** Routes here what a dead node's stream still holds, until it stays empty (late XADDs included). */
  async drain(node: string): Promise<void> {
    const cmd = this.#ctx.redis();
    const stream = this.#ctx.keys.stream(node);
    for (let quiet = 0; quiet < 3; ) {
      const entries = rangeEntries(await cmd.xrangeBuffer(stream, '-', '+', 'COUNT', 256));
      if (entries.length === 0) {
        quiet++;
        await sleep(100);
        continue;
      }
      const ids = await this.#routeEntries(entries);
      const error = await this.#ctx.sync();
      if (error !== undefined) throw error;
      await this.#remove(node, '', entries, ids);
    }
  }

  /**
   * Reads this node's stream: first the entries read before a crash and never acknowledged, then new
   * ones. Each batch is routed to the local sessions, committed (what was queued or put in flight
   * is in the store), then acknowledged and deleted.
   */
  async #readLoop(): Promise<void> {
    const reader = this.#reader!;
    const ctx = this.#ctx;
    const stream = ctx.keys.stream(ctx.nodeId);
    let backlog = true;
    while (!ctx.closing) {
      let entries: Array<[string, Buffer | undefined]>;
      try {
        const reply = await reader.callBuffer(
          'XREADGROUP',
          'GROUP',
          GROUP,
          ctx.nodeId,
          'COUNT',
          '256',
          'BLOCK',
          '1000',
          'STREAMS',
          stream,
          backlog ? '0' : '>',
        );
        entries = streamEntries(reply);
      } catch (error) {
        if (ctx.closing) return;
        ctx.log.warn({ error: (error as Error).message }, 'cluster: stream read failed');
        await sleep(500);
        backlog = true;
        continue;
      }
      if (entries.length === 0) {
        backlog = false;
        continue;
      }
      const ids = await this.#routeEntries(entries);
      const error = await ctx.sync();
      if (error !== undefined) {
        // Not acknowledged: read again (from the unacknowledged ones) once the store works.
        backlog = true;
        await sleep(500);
        continue;
      }
      try {
        await this.#remove(ctx.nodeId, GROUP, entries, ids);
        this.#processed = ids[ids.length - 1]!;
      } catch {
        backlog = true;
      }
    }
  }

  /** Acknowledges (with `group`) and deletes routed entries, and frees their bytes: one script. */
  async #remove(
    node: string,
    group: string,
    entries: Array<[string, Buffer | undefined]>,
    ids: string[],
  ): Promise<void> {
    let bytes = 0;
    for (const [, payload] of entries) bytes += payload?.length ?? 0;
    const keys = this.#ctx.keys;
    await this.#ctx
      .redis()
      .eval(REMOVE_SCRIPT, 2, keys.stream(node), keys.streamBytes(node), group, bytes, ...ids);
  }

  async #routeEntries(entries: Array<[string, Buffer | undefined]>): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, bytes] of entries) {
      ids.push(id);
      if (bytes === undefined) continue;
      try {
        // In order: a rare wait (a handoff copy for a session still being claimed) holds the rest.
        const waiting = this.#deliver(bytes);
        if (waiting !== undefined) await waiting;
      } catch (error) {
        this.#ctx.log.warn(
          { id, error: (error as Error).message },
          'cluster: malformed stream entry skipped',
        );
      }
    }
    return ids;
  }
}

/** The command `prepare` defines. */
interface BoundedAppend {
  clusterAppend(
    stream: string,
    counter: string,
    budget: number,
    size: number,
    message: Buffer,
  ): Promise<string>;
}

/** Orders two stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** XREADGROUP reply → [id, payload] pairs. */
function streamEntries(reply: unknown): Array<[string, Buffer | undefined]> {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const [, entries] = reply[0] as [Buffer, unknown];
  return rangeEntries(entries);
}

/** XRANGE reply (or the entries of one XREADGROUP stream) → [id, payload] pairs. */
function rangeEntries(reply: unknown): Array<[string, Buffer | undefined]> {
  if (!Array.isArray(reply)) return [];
  const out: Array<[string, Buffer | undefined]> = [];
  for (const entry of reply as Array<[Buffer, Buffer[] | null]>) {
    const fields = entry[1];
    out.push([entry[0].toString(), fields === null ? undefined : fields[1]]);
  }
  return out;
}
