import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ClientErrorCode, MqttClientError } from '../errors.js';
import type { OutgoingStore, StoredPublish } from '../store.js';

/** Options of `FileStore`. */
export interface FileStoreOptions {
  /**
   * Most bytes of stored packets; a publish beyond it fails with STORE_FULL (and is not sent).
   * The log file itself stays under about twice this plus 1 MiB. Default 64 MiB.
   */
  maxBytes?: number;
}

/*
 * The log: records appended in call order, each
 *
 *   ┌────────┬──────┬──────────┬────────┬──────────────┐
 *   │ crc32  │ type │ packetId │ length │ PUBLISH …    │
 *   │ u32 LE │ u8   │ u16 LE   │ u32 LE │ length bytes │
 *   └────────┴──────┴──────────┴────────┴──────────────┘
 *
 * type 1 PUT carries the packet, 2 RELEASE and 3 DELETE carry none. The CRC covers everything after
 * it, so a record torn by a crash (or a power loss before fsync) ends the log where it starts.
 */
const PUT = 1;
const RELEASE = 2;
const DELETE = 3;
const HEADER = 11;
/** The log is rewritten with the live records once it is this much and twice their size. */
const COMPACT_FROM = 1 << 20;

interface Entry {
  packet: Uint8Array;
  released: boolean;
}

/**
 * An outgoing store in one append-only file for Node: each `put` and `release` is written and
 * fsync'd before it resolves (the writes of one turn share one fsync), deletes ride along with the
 * next write, and the file compacts itself when it holds twice what is live. A lock file next to it
 * (`<path>.lock`, with the process id) keeps a second process out; a lock left by a killed process
 * is taken over.
 *
 * ```ts
 * const client = await connect(url, {
 *   clientId: 'meter-17', clean: false, sessionExpiryInterval: 86_400,
 *   outgoingStore: new FileStore('/var/lib/meter/outgoing.log'),
 * });
 * ```
 */
export class FileStore implements OutgoingStore {
  readonly path: string;
  readonly #maxBytes: number;
  /** Live entries in log order: unreleased ones as put, released ones as released. */
  readonly #entries = new Map<number, Entry>();
  #liveBytes = 0;
  #logBytes = 0;
  #handle: FileHandle | undefined;
  #opening: Promise<void> | undefined;
  #closed = false;
  /** Records waiting for the next write, and who waits for them to be durable. */
  #pending: Uint8Array[] = [];
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #writing: Promise<void> | undefined;

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = path;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  async list(): Promise<StoredPublish[]> {
    await this.#open();
    return [...this.#entries].map(([packetId, e]) => ({ packetId, packet: e.packet, released: e.released }));
  }

  async put(packetId: number, packet: Uint8Array): Promise<void> {
    await this.#open();
    const old = this.#entries.get(packetId);
    const live = this.#liveBytes - (old?.packet.length ?? 0) + packet.length;
    if (live > this.#maxBytes) {
      throw new MqttClientError(
        ClientErrorCode.STORE_FULL,
        `${this.path}: ${this.#liveBytes} of ${this.#maxBytes} bytes in use (maxBytes)`,
      );
    }
    const copy = Uint8Array.from(packet);
    this.#entries.delete(packetId);
    this.#entries.set(packetId, { packet: copy, released: false });
    this.#liveBytes = live;
    return this.#append(record(PUT, packetId, copy), true).catch((error: unknown) => {
      // The client fails this publish and will not delete it: neither may the log bring it back.
      if (this.#entries.get(packetId)?.packet === copy) {
        this.#entries.delete(packetId);
        this.#liveBytes -= copy.length;
        void this.#append(record(DELETE, packetId), false);
      }
      throw error;
    });
  }

  async release(packetId: number): Promise<void> {
    await this.#open();
    const entry = this.#entries.get(packetId);
    if (!entry) return;
    entry.released = true;
    // Released ones follow in the order of their release.
    this.#entries.delete(packetId);
    this.#entries.set(packetId, entry);
    return this.#append(record(RELEASE, packetId), true);
  }

  async delete(packetId: number): Promise<void> {
    await this.#open();
    const entry = this.#entries.get(packetId);
    if (!entry) return;
    this.#entries.delete(packetId);
    this.#liveBytes -= entry.packet.length;
    return this.#append(record(DELETE, packetId), false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#opening) return;
    await this.#opening.catch(() => undefined);
    await this.#writing;
    await this.#handle?.close();
    this.#handle = undefined;
    releaseLock(this.path);
  }

  #open(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new MqttClientError(ClientErrorCode.STORE_ERROR, `${this.path}: store closed`));
    }
    this.#opening ??= this.#load();
    return this.#opening;
  }

  async #load(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    takeLock(this.path);
    let log: Uint8Array;
    try {
      log = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      log = new Uint8Array(0);
    }
    const end = this.#replay(log);
    if (end < log.length || this.#logBytes > COMPACT_FROM) {
      // A torn tail (or a large log) is dropped by rewriting the live records.
      await this.#compact();
    } else {
      this.#handle = await open(this.path, 'a');
    }
  }

  /** Rebuilds the entries from the log; returns where the valid records end. */
  #replay(log: Uint8Array): number {
    const view = new DataView(log.buffer, log.byteOffset, log.byteLength);
    let pos = 0;
    while (pos + HEADER <= log.length) {
      const length = view.getUint32(pos + 7, true);
      const next = pos + HEADER + length;
      if (next > log.length || view.getUint32(pos, true) !== crc32(log, pos + 4, next)) break;
      const type = log[pos + 4];
      const packetId = view.getUint16(pos + 5, true);
      const entry = this.#entries.get(packetId);
      if (type === PUT) {
        if (entry) this.#liveBytes -= entry.packet.length;
        this.#entries.delete(packetId);
        this.#entries.set(packetId, {
          packet: Uint8Array.from(log.subarray(pos + HEADER, next)),
          released: false,
        });
        this.#liveBytes += length;
      } else if (type === RELEASE && entry) {
        entry.released = true;
        this.#entries.delete(packetId);
        this.#entries.set(packetId, entry);
      } else if (type === DELETE && entry) {
        this.#entries.delete(packetId);
        this.#liveBytes -= entry.packet.length;
      } else if (type !== RELEASE && type !== DELETE) {
        break;
      }
      pos = next;
    }
    this.#logBytes = pos;
    return pos;
  }

  /** Queues a record; `durable` waits for the fsync, otherwise only for the write's turn. */
  #append(bytes: Uint8Array, durable: boolean): Promise<void> {
    this.#pending.push(bytes);
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#writing ??= this.#writeLoop();
    return durable ? done : done.catch(() => undefined);
  }

  /** Group commit: what was appended while a write and fsync ran goes out in the next one. */
  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const chunks = this.#pending;
      const waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      try {
        const handle = this.#handle as FileHandle;
        const batch = Buffer.concat(chunks);
        await handle.write(batch);
        await handle.datasync();
        this.#logBytes += batch.length;
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        const failure = new MqttClientError(
          ClientErrorCode.STORE_ERROR,
          `${this.path}: ${(error as Error).message}`,
          { cause: error },
        );
        for (const waiter of waiters) waiter.reject(failure);
      }
      if (
        this.#logBytes > COMPACT_FROM &&
        this.#logBytes > 2 * (this.#liveBytes + HEADER * this.#entries.size)
      ) {
        await this.#compact().catch(() => undefined);
      }
    }
    this.#writing = undefined;
  }

  /** Rewrites the log with the live records only: a new file, fsync'd, renamed over the old one. */
  async #compact(): Promise<void> {
    const records: Uint8Array[] = [];
    for (const [packetId, entry] of this.#entries) {
      records.push(record(PUT, packetId, entry.packet));
      if (entry.released) records.push(record(RELEASE, packetId));
    }
    const bytes = Buffer.concat(records);
    const temporary = `${this.path}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.write(bytes);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.#handle?.close();
    this.#handle = undefined;
    await rename(temporary, this.path);
    syncDirectory(dirname(this.path));
    this.#handle = await open(this.path, 'a');
    this.#logBytes = bytes.length;
    await rm(temporary, { force: true });
  }
}

function record(type: number, packetId: number, packet?: Uint8Array): Uint8Array {
  const length = packet?.length ?? 0;
  const bytes = new Uint8Array(HEADER + length);
  const view = new DataView(bytes.buffer);
  bytes[4] = type;
  view.setUint16(5, packetId, true);
  view.setUint32(7, length, true);
  if (packet) bytes.set(packet, HEADER);
  view.setUint32(0, crc32(bytes, 4, bytes.length), true);
  return bytes;
}

/** The rename is durable only once the directory entry is on disk. */
function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory: the rename then stands without it.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** One process per store: `<path>.lock` holds the owner's pid; a dead owner's lock is taken over. */
function takeLock(path: string): void {
  const lock = `${path}.lock`;
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const owner = Number(readFileSync(lock, 'utf8'));
  if (owner > 0 && owner !== process.pid && alive(owner)) {
    throw new MqttClientError(ClientErrorCode.STORE_ERROR, `${path} is in use by process ${owner} (${lock})`);
  }
  writeFileSync(lock, String(process.pid));
}

function releaseLock(path: string): void {
  try {
    const lock = `${path}.lock`;
    if (Number(readFileSync(lock, 'utf8')) === process.pid) rmSync(lock, { force: true });
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of bytes[start, end). */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
