import { connect, type Socket } from 'node:net';
import { RingQueue } from '@x/broker';
import { CommandWriter, RedisError, RedisErrors, type RespArg, RespParser, type RespValue } from './resp.js';

/** Where and how to connect. */
export interface RedisClientOptions {
  /** `redis://[[username]:password@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Milliseconds to wait for the first connection in `connect()` (10 000). */
  connectTimeout?: number;
  /** Commands awaiting replies at most; beyond it `send` refuses and `command` rejects (100 000). */
  maxPending?: number;
  /** First reconnection delay, ms, doubled per failed attempt (50). */
  reconnectMin?: number;
  /** Longest reconnection delay, ms (5 000). */
  reconnectMax?: number;
  /** Called when a connection is ready (after AUTH/SELECT), the first and every later one. */
  onReady?: () => void;
  /** Called when a ready connection is lost; `lost` counts commands whose replies never came. */
  onLost?: (lost: number, error: Error | undefined) => void;
  /** Error replies to `send` commands and connection failures (never thrown). */
  onError?: (error: RedisError) => void;
}

/** The parts of a `redis://` URL. */
export interface RedisAddress {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
}

/** Parses `redis://[[username]:password@]host[:port][/db]`; throws a TypeError naming what is wrong. */
export function parseRedisUrl(url: string): RedisAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`invalid Redis URL ${JSON.stringify(url)}: expected redis://host:port`);
  }
  if (u.protocol !== 'redis:') {
    throw new TypeError(
      `invalid Redis URL ${JSON.stringify(url)}: scheme ${u.protocol} is not supported (redis: only)`,
    );
  }
  if (u.hostname === '') throw new TypeError(`invalid Redis URL ${JSON.stringify(url)}: no host`);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) {
    throw new TypeError(`invalid Redis URL ${JSON.stringify(url)}: database "${path}" is not a number`);
  }
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 6379 : Number(u.port),
    username: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    db,
  };
}

/** A caller waiting for one reply. Replies to `send` commands have none. */
interface Waiter {
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

/** Marks a `send` command in the pending queue: its reply is checked for errors, then dropped. */
const NO_WAITER = null;

/**
 * A small Redis client over one TCP connection: commands are pipelined (everything issued in one
 * tick leaves in one socket write), replies are matched to commands in order, and a lost connection
 * is re-established with exponential backoff. `send` is fire-and-forget and creates no promise or
 * closure, for write-behind paths; `command` returns a promise, for reads.
 *
 * Commands are only accepted while a connection is ready: nothing is buffered across reconnections,
 * so the caller decides what to write again (`onLost` says how many replies never came).
 */
export class RedisClient {
  readonly address: RedisAddress;
  readonly #options: Required<
    Pick<RedisClientOptions, 'connectTimeout' | 'maxPending' | 'reconnectMin' | 'reconnectMax'>
  >;
  readonly #onReady: (() => void) | undefined;
  readonly #onLost: ((lost: number, error: Error | undefined) => void) | undefined;
  readonly #onError: ((error: RedisError) => void) | undefined;
  readonly #writer = new CommandWriter();
  readonly #pending = new RingQueue<Waiter | null>();
  #socket: Socket | undefined;
  #ready = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #flushScheduled = false;
  #lastError: Error | undefined;
  #idleWaiters: Array<() => void> = [];
  #readyWaiters: Array<() => void> = [];

  constructor(options: RedisClientOptions = {}) {
    this.address = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379');
    this.#options = {
      connectTimeout: options.connectTimeout ?? 10_000,
      maxPending: options.maxPending ?? 100_000,
      reconnectMin: options.reconnectMin ?? 50,
      reconnectMax: options.reconnectMax ?? 5_000,
    };
    this.#onReady = options.onReady;
    this.#onLost = options.onLost;
    this.#onError = options.onError;
  }

  /** True while a connection is ready for commands. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Commands sent whose replies have not arrived yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Starts connecting (and reconnecting whenever the connection is lost) and resolves once a
   * connection is ready. Rejects with `CONNECT_TIMEOUT` after `connectTimeout` ms; the client keeps
   * trying in the background until `close()`.
   */
  async connect(): Promise<void> {
    if (this.#closed) throw new RedisError(RedisErrors.CLOSED, 'the Redis client is closed');
    if (this.#socket === undefined && this.#reconnectTimer === undefined) this.#open();
    if (this.#ready) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#readyWaiters.indexOf(done);
        if (i !== -1) this.#readyWaiters.splice(i, 1);
        const { host, port } = this.address;
        reject(
          new RedisError(
            RedisErrors.CONNECT_TIMEOUT,
            `no Redis connection to ${host}:${port} within ${this.#options.connectTimeout} ms` +
              (this.#lastError ? `: ${this.#lastError.message}` : ''),
            { cause: this.#lastError },
          ),
        );
      }, this.#options.connectTimeout);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#readyWaiters.push(done);
    });
  }

  /**
   * Queues a command whose reply nobody waits for (error replies go to `onError`). Returns false,
   * without queueing, when no connection is ready or `maxPending` replies are outstanding.
   */
  send(args: readonly RespArg[]): boolean {
    if (!this.#ready || this.#pending.length >= this.#options.maxPending) return false;
    this.#queue(args, NO_WAITER);
    return true;
  }

  /**
   * Queues several commands at once, all or none (a MULTI … EXEC group must not be cut short by
   * the `maxPending` bound). Returns false, queueing nothing, when they do not all fit; a group
   * larger than `maxPending` goes when nothing else is pending.
   */
  sendAll(commands: readonly (readonly RespArg[])[]): boolean {
    const pending = this.#pending.length;
    if (!this.#ready || (pending > 0 && pending + commands.length > this.#options.maxPending)) return false;
    for (const args of commands) this.#queue(args, NO_WAITER);
    return true;
  }

  /** Sends a command and resolves with its reply; an error reply rejects with code `REPLY`. */
  command(args: readonly RespArg[]): Promise<RespValue> {
    if (!this.#ready) {
      return Promise.reject(
        new RedisError(RedisErrors.NOT_CONNECTED, `Redis is not connected: ${String(args[0])} not sent`),
      );
    }
    if (this.#pending.length >= this.#options.maxPending) {
      return Promise.reject(
        new RedisError(RedisErrors.QUEUE_FULL, `${this.#pending.length} Redis commands await replies`),
      );
    }
    return new Promise<RespValue>((resolve, reject) => this.#queue(args, { resolve, reject }));
  }

  /** Resolves when every command sent so far has its reply (or its connection was lost). */
  idle(): Promise<void> {
    if (this.#pending.length === 0 && this.#writer.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Waits (at most `timeout` ms) for outstanding replies, then closes the connection for good. */
  async close(timeout = 5_000): Promise<void> {
    if (this.#closed) return;
    if (this.#ready && this.#pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeout);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const socket = this.#socket;
    if (socket !== undefined) {
      this.#teardown(new RedisError(RedisErrors.CLOSED, 'the Redis client was closed'));
      socket.destroy();
    }
    this.#readyWaiters = [];
  }

  #queue(args: readonly RespArg[], waiter: Waiter | null): void {
    this.#writer.write(args);
    this.#pending.push(waiter);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** One socket write for every command of this tick. */
  #flush = (): void => {
    this.#flushScheduled = false;
    const chunks = this.#writer.take();
    const socket = this.#socket;
    if (socket === undefined || chunks.length === 0) return;
    if (chunks.length === 1) socket.write(chunks[0]!);
    else {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
  };

  #open(): void {
    const { host, port } = this.address;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.#socket = socket;
    const parser = new RespParser((value) => this.#reply(value));
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      try {
        parser.feed(chunk);
      } catch (error) {
        this.#lastError = error as Error;
        this.#onError?.(error as RedisError);
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error) => {
      this.#lastError = error;
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      const wasReady = this.#ready;
      const lost = this.#teardown(
        new RedisError(RedisErrors.CONNECTION_LOST, `Redis connection to ${host}:${port} lost`, {
          cause: this.#lastError,
        }),
      );
      if (wasReady) {
        this.#onError?.(
          new RedisError(
            RedisErrors.CONNECTION_LOST,
            `Redis connection to ${host}:${port} lost${this.#lastError ? `: ${this.#lastError.message}` : ''}`,
            { cause: this.#lastError },
          ),
        );
        this.#onLost?.(lost, this.#lastError);
      }
      this.#scheduleReconnect();
    });
    socket.once('connect', () => {
      this.#attempt = 0;
      void this.#handshake(socket);
    });
  }

  /** AUTH and SELECT when the URL asks for them, then the connection is ready. */
  async #handshake(socket: Socket): Promise<void> {
    // Commands of the handshake bypass the ready check: queue them directly.
    const { username, password, db } = this.address;
    const steps: RespArg[][] = [];
    if (password !== undefined) steps.push(username ? ['AUTH', username, password] : ['AUTH', password]);
    if (db !== 0) steps.push(['SELECT', db]);
    try {
      for (const step of steps) {
        await new Promise<RespValue>((resolve, reject) => this.#queue(step, { resolve, reject }));
      }
    } catch (error) {
      // A lost connection has already been handled by its 'close' event.
      if (this.#socket === socket) {
        this.#lastError = error as Error;
        this.#onError?.(error as RedisError);
        socket.destroy();
      }
      return;
    }
    if (this.#socket !== socket || this.#closed) return;
    this.#ready = true;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w();
    this.#onReady?.();
  }

  #reply(value: RespValue): void {
    const waiter = this.#pending.shift();
    if (waiter === undefined) {
      this.#socket?.destroy(new RedisError(RedisErrors.PROTOCOL, 'a reply arrived for no command'));
      return;
    }
    if (value instanceof RedisError) {
      if (waiter === NO_WAITER) this.#onError?.(value);
      else waiter.reject(value);
    } else if (waiter !== NO_WAITER) waiter.resolve(value);
    else if (Array.isArray(value)) {
      // EXEC answers with one reply per queued command: a failed one is an error value inside.
      for (const item of value) if (item instanceof RedisError) this.#onError?.(item);
    }
    if (this.#pending.length === 0 && this.#idleWaiters.length > 0) this.#wakeIdle();
  }

  /** Forgets the connection: callers waiting for replies get `error`. Returns how many were lost. */
  #teardown(error: RedisError): number {
    this.#ready = false;
    this.#socket = undefined;
    this.#writer.discard();
    let lost = 0;
    for (let w = this.#pending.shift(); w !== undefined; w = this.#pending.shift()) {
      lost++;
      if (w !== NO_WAITER) w.reject(error);
    }
    this.#wakeIdle();
    return lost;
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const { reconnectMin, reconnectMax } = this.#options;
    const base = Math.min(reconnectMax, reconnectMin * 2 ** Math.min(this.#attempt, 20));
    this.#attempt++;
    // Jitter keeps many brokers from reconnecting to one Redis in lockstep.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#closed) this.#open();
    }, delay);
    this.#reconnectTimer.unref();
  }
}
