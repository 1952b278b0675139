/** An argument of a Redis command. */
export type Arg = string | Buffer | number;

/** A command as ioredis' `multi(commands)` takes it: name first, then the key. */
export type Command = [name: string, key: string, ...args: Arg[]];

/**
 * A value whose bytes are made only when the batch is sent (records.ts' `PendingRecord`): a value
 * that a later change in the same batch replaces or deletes is never encoded. `bytes` is an upper
 * bound of its encoded length, for the batch's byte limit.
 */
export interface LazyValue {
  readonly bytes: number;
  encode(): Buffer;
}

/** What a hash field can be set to. */
export type Value = Arg | LazyValue;

/** What a batch will do to one key. */
interface KeyChanges {
  /** The client id for a session's keys, the key itself for the shared hashes (a cluster slot). */
  group: string;
  /** The key is deleted first (a session deleted or started anew). */
  del: boolean;
  /** Hash fields to set (a value) or delete (undefined), or set members to add (true) or remove (false). */
  items: Map<string, Value | boolean | undefined> | undefined;
  kind: 'hash' | 'set' | undefined;
}

/**
 * The changes recorded since the last commit, folded per key: only the last change of each hash
 * field or set member is kept, and a key deleted drops what was recorded for it before. A batch
 * goes to Redis as one MULTI/EXEC, so the intermediate states never mattered: what is sent is at
 * most DEL, one HSET (or SADD) and one HDEL (or SREM) per key, however many messages went through.
 * A message queued and sent within one batch costs an HDEL and no record.
 *
 * ```
 * recorded  HSET q:{a} 7 m7 · HSET q:{a} 8 m8 · HDEL q:{a} 7 · HSET clients a rec
 * sent      MULTI · HSET q:{a} 8 m8 · HDEL q:{a} 7 · HSET clients a rec · EXEC
 * ```
 *
 * On a Redis Cluster every group (a session's keys share a slot thanks to their hash tag; each
 * shared hash is its own) goes as its own transaction.
 */
export class WriteBatch {
  readonly #keys = new Map<string, KeyChanges>();
  /** Bytes of keys and arguments recorded (an estimate of what goes on the wire). */
  bytes = 0;
  /** True once `bytes` went over the limit: everything recorded was dropped. */
  overflow = false;
  /** Changes recorded (folded or not), for the commit pacer. */
  changes = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get empty(): boolean {
    return this.#keys.size === 0 && !this.overflow;
  }

  /** Deletes `key` before anything recorded for it afterwards. */
  del(group: string, key: string): void {
    const changes = this.#changes(group, key, 0);
    if (changes === undefined) return;
    changes.del = true;
    changes.items = undefined;
    changes.kind = undefined;
  }

  hset(group: string, key: string, field: string | number, value: Value): void {
    this.#item(group, key, 'hash', String(field), value, size(value));
  }

  hdel(group: string, key: string, field: string | number): void {
    this.#item(group, key, 'hash', String(field), undefined, 0);
  }

  sadd(group: string, key: string, member: string | number): void {
    this.#item(group, key, 'set', String(member), true, 0);
  }

  srem(group: string, key: string, member: string | number): void {
    this.#item(group, key, 'set', String(member), false, 0);
  }

  /** Folds `later` (recorded after this batch) into this one, as if it had been recorded here. */
  absorb(later: WriteBatch): void {
    if (later.overflow) {
      this.overflow = true;
      this.#keys.clear();
      return;
    }
    // `#changes` below counts each key it touches; the sum is what both batches recorded.
    const changes = this.changes + later.changes;
    for (const [key, theirs] of later.#keys) {
      const mine = this.#changes(theirs.group, key, 0);
      if (mine === undefined) return;
      if (theirs.del) {
        mine.del = true;
        mine.items = undefined;
        mine.kind = undefined;
      }
      if (theirs.items === undefined) continue;
      mine.kind = theirs.kind;
      mine.items ??= new Map();
      for (const [name, value] of theirs.items) mine.items.set(name, value);
    }
    this.bytes += later.bytes;
    this.changes = changes;
    if (this.bytes > this.#limit) {
      this.overflow = true;
      this.#keys.clear();
    }
  }

  /** Values the batch writes (hash fields set, set members added): what folding did not cancel. */
  rows(): number {
    let rows = 0;
    for (const changes of this.#keys.values()) {
      if (changes.items === undefined) continue;
      for (const value of changes.items.values()) if (value !== undefined && value !== false) rows++;
    }
    return rows;
  }

  /** The batch as commands, key by key in the order keys were first touched. */
  commands(): Command[] {
    const out: Command[] = [];
    for (const [key, changes] of this.#keys) write(out, key, changes);
    return out;
  }

  /** The commands split by group (for a cluster: one transaction each). */
  byGroup(): Map<string, Command[]> {
    const out = new Map<string, Command[]>();
    for (const [key, changes] of this.#keys) {
      let list = out.get(changes.group);
      if (list === undefined) {
        list = [];
        out.set(changes.group, list);
      }
      write(list, key, changes);
    }
    return out;
  }

  #item(
    group: string,
    key: string,
    kind: 'hash' | 'set',
    name: string,
    value: Value | boolean | undefined,
    bytes: number,
  ): void {
    const changes = this.#changes(group, key, name.length + bytes);
    if (changes === undefined) return;
    changes.kind = kind;
    changes.items ??= new Map();
    changes.items.set(name, value);
  }

  #changes(group: string, key: string, bytes: number): KeyChanges | undefined {
    if (this.overflow) return undefined;
    this.changes++;
    this.bytes += bytes + 8;
    let changes = this.#keys.get(key);
    if (changes === undefined) {
      this.bytes += key.length + 16;
      changes = { group, del: false, items: undefined, kind: undefined };
      this.#keys.set(key, changes);
    }
    if (this.bytes > this.#limit) {
      this.overflow = true;
      this.#keys.clear();
      return undefined;
    }
    return changes;
  }
}

function size(value: Value): number {
  if (typeof value === 'number') return 12;
  return typeof value === 'string' || Buffer.isBuffer(value) ? value.length : value.bytes;
}

function bytesOf(value: Value): Arg {
  return typeof value === 'object' && !Buffer.isBuffer(value) ? value.encode() : value;
}

/** Appends the commands for one key: DEL, then the sets, then the deletions. */
function write(out: Command[], key: string, changes: KeyChanges): void {
  if (changes.del) out.push(['del', key]);
  if (changes.items === undefined) return;
  const set: Arg[] = [];
  const removed: Arg[] = [];
  if (changes.kind === 'hash') {
    for (const [field, value] of changes.items) {
      if (value === undefined) removed.push(field);
      else set.push(field, bytesOf(value as Value));
    }
    chunked(out, 'hset', key, set);
    // A key just deleted has no fields to delete.
    if (!changes.del) chunked(out, 'hdel', key, removed);
  } else {
    for (const [member, add] of changes.items) (add ? set : removed).push(member);
    chunked(out, 'sadd', key, set);
    if (!changes.del) chunked(out, 'srem', key, removed);
  }
}

/** Arguments per command at most (even, for HSET pairs): ioredis passes them as call arguments. */
const CHUNK = 2000;

function chunked(out: Command[], name: string, key: string, args: Arg[]): void {
  for (let i = 0; i < args.length; i += CHUNK) out.push([name, key, ...args.slice(i, i + CHUNK)]);
}
