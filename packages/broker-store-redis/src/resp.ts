/**
 * RESP2, the Redis serialization protocol: commands out (arrays of bulk strings), replies in
 * (simple strings, errors, integers, bulk strings, arrays). Only what a storage hook needs, with no
 * dependency: the encoder writes many commands into one pooled buffer so that a tick's commands
 * leave in one socket write, and the parser is a resumable state machine, so a reply split across
 * any number of socket chunks is never re-parsed from its start.
 */

/** Error codes of the Redis client and the RESP parser. */
export const RedisErrors = {
  /** The server answered the command with an error reply (`-ERR ...`, `-WRONGTYPE ...`). */
  REPLY: 'REPLY',
  /** The connection closed before the reply arrived; the command may or may not have run. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** The command was issued while no connection was ready. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** No connection could be made within the connect timeout. */
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  /** Too many commands await their replies (`maxPending`). */
  QUEUE_FULL: 'QUEUE_FULL',
  /** The server sent bytes that are not RESP2, or a reply beyond the configured limits. */
  PROTOCOL: 'PROTOCOL',
  /** The client was closed. */
  CLOSED: 'CLOSED',
} as const;

export type RedisErrorCode = (typeof RedisErrors)[keyof typeof RedisErrors];

/** Every failure of the Redis client: `code` says which; `reply` holds a server error's text. */
export class RedisError extends Error {
  readonly code: RedisErrorCode;
  /** First word of a server error reply (`ERR`, `WRONGTYPE`, `NOAUTH`, …), for code `REPLY`. */
  readonly replyCode: string | undefined;

  constructor(code: RedisErrorCode, message: string, options?: { cause?: unknown; replyCode?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RedisError';
    this.code = code;
    this.replyCode = options?.replyCode;
  }
}

/**
 * A decoded reply: simple strings as `string`, bulk strings as `Buffer` (binary safe), integers as
 * `number`, nil as `null`, arrays as arrays; an error reply is a `RedisError` value (inside an
 * array, e.g. in EXEC's answer, it stays a value).
 */
export type RespValue = string | number | Buffer | null | RedisError | RespValue[];

/** A command argument. Numbers are sent as their decimal text. */
export type RespArg = string | Buffer | number;

const CR = 0x0d;
const LF = 0x0a;
const POOL_SIZE = 64 * 1024;
/** Arguments at least this big are sent by reference instead of being copied into the pool. */
const BY_REFERENCE = 16 * 1024;

/**
 * Encodes commands into a pooled buffer. `take()` hands out what was written since the last call as
 * chunks for one socket write; the pool is never written over once handed out (a new one is
 * allocated when it is full), so no copy is needed to keep the socket's data intact.
 */
export class CommandWriter {
  #pool: Buffer = Buffer.allocUnsafe(POOL_SIZE);
  #start = 0;
  #pos = 0;
  #chunks: Buffer[] = [];
  #bytes = 0;

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#bytes;
  }

  write(args: readonly RespArg[]): void {
    this.#header(0x2a, args.length);
    for (const arg of args) {
      if (typeof arg === 'string') {
        const n = Buffer.byteLength(arg);
        this.#header(0x24, n);
        this.#ensure(n + 2);
        this.#pos += this.#pool.write(arg, this.#pos, 'utf8');
      } else if (typeof arg === 'number') {
        const text = String(arg);
        this.#header(0x24, text.length);
        this.#ensure(text.length + 2);
        this.#pos += this.#pool.write(text, this.#pos, 'latin1');
      } else {
        this.#header(0x24, arg.length);
        if (arg.length >= BY_REFERENCE) {
          this.#cut();
          this.#chunks.push(arg);
          this.#bytes += arg.length;
        } else {
          this.#ensure(arg.length + 2);
          this.#pos += arg.copy(this.#pool, this.#pos);
        }
      }
      this.#ensure(2);
      this.#pool[this.#pos++] = CR;
      this.#pool[this.#pos++] = LF;
    }
  }

  /** The bytes written since the last call, in order (empty when none). */
  take(): Buffer[] {
    this.#cut();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    return chunks;
  }

  /** Drops everything not yet taken. */
  discard(): void {
    this.#chunks = [];
    this.#bytes = 0;
    this.#start = this.#pos;
  }

  /** `*n\r\n` or `$n\r\n`. */
  #header(type: number, n: number): void {
    this.#ensure(24);
    const pool = this.#pool;
    pool[this.#pos++] = type;
    this.#pos += pool.write(String(n), this.#pos, 'latin1');
    pool[this.#pos++] = CR;
    pool[this.#pos++] = LF;
  }

  /** Makes room for `n` contiguous bytes, starting a new pool when this one is short. */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#pool.length) return;
    this.#cut();
    this.#pool = Buffer.allocUnsafe(Math.max(POOL_SIZE, n));
    this.#start = 0;
    this.#pos = 0;
  }

  /** Closes the current run of pool bytes as a chunk. */
  #cut(): void {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#pool.subarray(this.#start, this.#pos));
      this.#bytes += this.#pos - this.#start;
      this.#start = this.#pos;
    }
  }
}

/** Limits of the reply parser. */
export interface RespParserOptions {
  /** Largest bulk string accepted, bytes (512 MiB, Redis' own limit). */
  maxBulkLength?: number;
  /** Largest array accepted, elements (16 777 216). */
  maxArrayLength?: number;
  /** Longest header or simple-string line, bytes (64 KiB). */
  maxLineLength?: number;
}

/** An array being filled: its elements so far and how many are still to come. */
interface Frame {
  items: RespValue[];
  remaining: number;
}

/**
 * Streaming RESP2 reply parser. Feed it socket chunks in order; it calls `onReply` once per complete
 * top-level reply. State survives between chunks: a partial header line, a bulk string being filled
 * (copied once into its final buffer), and the stack of arrays being filled.
 * Throws a `RedisError` with code `PROTOCOL` on bytes that are not RESP2; the parser must then be
 * discarded with its connection.
 */
export class RespParser {
  readonly #onReply: (value: RespValue) => void;
  readonly #maxBulk: number;
  readonly #maxArray: number;
  readonly #maxLine: number;
  /** Bytes of a header line seen so far when it spans chunks. */
  #line: Buffer | undefined;
  /** The bulk string being filled, and how many of its bytes (plus the final CRLF) are still due. */
  #bulk: Buffer | undefined;
  #bulkFilled = 0;
  #bulkDue = 0;
  readonly #stack: Frame[] = [];

  constructor(onReply: (value: RespValue) => void, options: RespParserOptions = {}) {
    this.#onReply = onReply;
    this.#maxBulk = options.maxBulkLength ?? 512 * 1024 * 1024;
    this.#maxArray = options.maxArrayLength ?? 16 * 1024 * 1024;
    this.#maxLine = options.maxLineLength ?? 64 * 1024;
  }

  /** True when no reply is partly received. */
  get idle(): boolean {
    return this.#line === undefined && this.#bulkDue === 0 && this.#stack.length === 0;
  }

  feed(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.#bulkDue > 0) {
        pos = this.#fillBulk(chunk, pos);
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        this.#keepLine(chunk.subarray(pos));
        return;
      }
      let line: Buffer;
      if (this.#line === undefined) line = chunk.subarray(pos, lf + 1);
      else {
        line = Buffer.concat([this.#line, chunk.subarray(pos, lf + 1)]);
        this.#line = undefined;
      }
      pos = lf + 1;
      this.#header(line);
    }
  }

  #keepLine(rest: Buffer): void {
    const size = (this.#line?.length ?? 0) + rest.length;
    if (size > this.#maxLine) {
      throw new RedisError(RedisErrors.PROTOCOL, `reply line longer than ${this.#maxLine} bytes`);
    }
    // Copied: the socket chunk it views may be reused.
    this.#line = this.#line === undefined ? Buffer.from(rest) : Buffer.concat([this.#line, rest]);
  }

  /** Handles one complete line (ending in LF) holding a type byte and its text. */
  #header(line: Buffer): void {
    const n = line.length;
    if (n < 3 || line[n - 2] !== CR) {
      throw new RedisError(
        RedisErrors.PROTOCOL,
        `malformed reply line ${JSON.stringify(line.toString('latin1'))}`,
      );
    }
    if (n > this.#maxLine) {
      throw new RedisError(RedisErrors.PROTOCOL, `reply line longer than ${this.#maxLine} bytes`);
    }
    const type = line[0]!;
    switch (type) {
      case 0x2b: // '+'
        this.#value(line.toString('utf8', 1, n - 2));
        return;
      case 0x2d: {
        // '-'
        const text = line.toString('utf8', 1, n - 2);
        const space = text.indexOf(' ');
        const replyCode = space === -1 ? text : text.slice(0, space);
        this.#value(new RedisError(RedisErrors.REPLY, text, { replyCode }));
        return;
      }
      case 0x3a: // ':'
        this.#value(integer(line, 'integer'));
        return;
      case 0x24: {
        // '$'
        const length = integer(line, 'bulk length');
        if (length === -1) {
          this.#value(null);
          return;
        }
        if (length < 0 || length > this.#maxBulk) {
          throw new RedisError(RedisErrors.PROTOCOL, `bulk string length ${length} out of range`);
        }
        this.#bulk = Buffer.allocUnsafe(length);
        this.#bulkFilled = 0;
        this.#bulkDue = length + 2;
        return;
      }
      case 0x2a: {
        // '*'
        const length = integer(line, 'array length');
        if (length === -1) {
          this.#value(null);
          return;
        }
        if (length < 0 || length > this.#maxArray) {
          throw new RedisError(RedisErrors.PROTOCOL, `array length ${length} out of range`);
        }
        if (length === 0) this.#value([]);
        else this.#stack.push({ items: [], remaining: length });
        return;
      }
      default:
        throw new RedisError(
          RedisErrors.PROTOCOL,
          `unknown reply type byte 0x${type.toString(16).padStart(2, '0')}`,
        );
    }
  }

  /** Copies bulk bytes from `chunk` at `pos`; returns the position after what it consumed. */
  #fillBulk(chunk: Buffer, pos: number): number {
    const bulk = this.#bulk!;
    const take = Math.min(this.#bulkDue, chunk.length - pos);
    const dataLeft = bulk.length - this.#bulkFilled;
    if (dataLeft > 0) {
      const n = Math.min(take, dataLeft);
      chunk.copy(bulk, this.#bulkFilled, pos, pos + n);
      this.#bulkFilled += n;
    }
    // Bytes past the data are the terminating CRLF; check them as they arrive.
    for (let i = Math.max(0, dataLeft); i < take; i++) {
      const expected = this.#bulkDue - i === 2 ? CR : LF;
      if (chunk[pos + i] !== expected) {
        throw new RedisError(RedisErrors.PROTOCOL, 'bulk string not terminated by CRLF');
      }
    }
    this.#bulkDue -= take;
    if (this.#bulkDue === 0) {
      this.#bulk = undefined;
      this.#value(bulk);
    }
    return pos + take;
  }

  /** A complete value: into the array being filled, or out as a reply. */
  #value(value: RespValue): void {
    let v = value;
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) {
        this.#onReply(v);
        return;
      }
      top.items.push(v);
      if (--top.remaining > 0) return;
      this.#stack.pop();
      v = top.items;
    }
  }
}

/** The decimal integer of a `:`, `$` or `*` line (between the type byte and CRLF). */
function integer(line: Buffer, what: string): number {
  const end = line.length - 2;
  let i = 1;
  let negative = false;
  if (line[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= end) throw new RedisError(RedisErrors.PROTOCOL, `empty ${what}`);
  let n = 0;
  for (; i < end; i++) {
    const d = line[i]! - 0x30;
    if (d < 0 || d > 9) {
      throw new RedisError(
        RedisErrors.PROTOCOL,
        `malformed ${what} ${JSON.stringify(line.toString('latin1', 1, end))}`,
      );
    }
    n = n * 10 + d;
  }
  return negative ? -n : n;
}
