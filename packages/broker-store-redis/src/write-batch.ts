/** An argument of a Redis command. */
export type Arg = string | Buffer | number;

/** A command as ioredis' `multi(commands)` takes it: name first, then the key. */
export type Command = [name: string, key: string, ...args: Arg[]];

/**
 * The changes recorded since the last commit, as Redis commands in order. Consecutive HSET (or
 * HDEL, SADD, SREM) commands on the same key are merged into one, so a burst of messages queued
 * for one session costs one command. Each command carries its group: the client id for a session's
 * keys, the key itself for the shared hashes; on a Redis Cluster every group is one slot and goes as
 * its own transaction.
 *
 * ```
 * commands  [HSET clients a rec] [DEL subs:{a} …] [HSET queue:{a} 7 m7 8 m8] [HSET retained t m]
 * groups     clients              a                a                          retained
 * ```
 */
export class WriteBatch {
  readonly commands: Command[] = [];
  readonly groups: string[] = [];
  /** Bytes of keys and arguments recorded (an estimate of what goes on the wire). */
  bytes = 0;
  /** True once `bytes` went over the limit: everything recorded since was dropped. */
  overflow = false;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get empty(): boolean {
    return this.commands.length === 0 && !this.overflow;
  }

  /**
   * Appends `name key ...args`, merged into the previous command when that is the same mergeable
   * command on the same key. Returns false, recording nothing more, once the batch is over its limit.
   */
  add(group: string, name: string, key: string, ...args: Arg[]): boolean {
    if (this.overflow) return false;
    let size = key.length + 16;
    for (const a of args) size += typeof a === 'number' ? 12 : a.length + 4;
    this.bytes += size;
    if (this.bytes > this.#limit) {
      this.overflow = true;
      this.commands.length = 0;
      this.groups.length = 0;
      return false;
    }
    const last = this.commands[this.commands.length - 1];
    if (last !== undefined && last[0] === name && last[1] === key && MERGEABLE.has(name)) {
      for (const a of args) last.push(a);
      return true;
    }
    this.commands.push([name, key, ...args]);
    this.groups.push(group);
    return true;
  }

  /** The commands split by group, each group in its recorded order (for a cluster). */
  byGroup(): Map<string, Command[]> {
    const out = new Map<string, Command[]>();
    for (let i = 0; i < this.commands.length; i++) {
      const group = this.groups[i]!;
      let list = out.get(group);
      if (list === undefined) {
        list = [];
        out.set(group, list);
      }
      list.push(this.commands[i]!);
    }
    return out;
  }
}

/** Commands whose arguments after the key are independent items (fields, pairs, members). */
const MERGEABLE = new Set(['hset', 'hdel', 'sadd', 'srem']);
