import { ClientErrorCode, MqttClientError } from '../errors.js';
import type { OutgoingStore, StoredPublish } from '../store.js';

/** Options of `IndexedDbStore`. */
export interface IndexedDbStoreOptions {
  /** Most bytes of stored packets; a publish beyond it fails with STORE_FULL (and is not sent). Default 16 MiB. */
  maxBytes?: number;
}

/** One record: `order` puts publishes in the order stored, released ones in the order released. */
interface Row {
  id: number;
  packet: Uint8Array;
  released: boolean;
  order: number;
}

// The few IndexedDB shapes used here (the package compiles without the DOM library).
interface Request<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface ObjectStore {
  put(row: Row): unknown;
  get(id: number): Request<Row | undefined>;
  getAll(): Request<Row[]>;
  delete(id: number): unknown;
}
interface Transaction {
  objectStore(name: string): ObjectStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface Database {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  transaction(name: string, mode: string, options?: { durability: string }): Transaction;
  close(): void;
}
interface OpenRequest extends Request<Database> {
  onupgradeneeded: (() => void) | null;
}

const STORE = 'outgoing';

/**
 * An outgoing store in an IndexedDB database for browsers (and workers): a `put` or `release`
 * resolves when its transaction has committed with `durability: 'strict'` (flushed to disk where
 * the browser supports it). Transactions on one object store run in the order they were made,
 * so the client's calls are applied in order. Use one database name per client id.
 *
 * ```ts
 * const client = await connect(url, {
 *   clientId: 'kiosk-3', clean: false, sessionExpiryInterval: 86_400,
 *   outgoingStore: new IndexedDbStore('mqtt-kiosk-3'),
 * });
 * ```
 */
export class IndexedDbStore implements OutgoingStore {
  readonly name: string;
  readonly #maxBytes: number;
  #db: Promise<Database> | undefined;
  #order = 0;
  /** Packet sizes by id, for maxBytes. */
  readonly #sizes = new Map<number, number>();
  #bytes = 0;

  constructor(name: string, options: IndexedDbStoreOptions = {}) {
    this.name = name;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  }

  async list(): Promise<StoredPublish[]> {
    const rows = await this.#run<Row[]>('readonly', (store) => store.getAll());
    rows.sort((a, b) => a.order - b.order);
    for (const row of rows) {
      this.#order = Math.max(this.#order, row.order);
      this.#account(row.id, row.packet.length);
    }
    return rows.map((row) => ({ packetId: row.id, packet: row.packet, released: row.released }));
  }

  put(packetId: number, packet: Uint8Array): Promise<void> {
    const bytes = this.#bytes - (this.#sizes.get(packetId) ?? 0) + packet.length;
    if (bytes > this.#maxBytes) {
      return Promise.reject(
        new MqttClientError(
          ClientErrorCode.STORE_FULL,
          `IndexedDB ${this.name}: ${this.#bytes} of ${this.#maxBytes} bytes in use (maxBytes)`,
        ),
      );
    }
    this.#account(packetId, packet.length);
    // Structured cloning copies the bytes into the database.
    const row: Row = { id: packetId, packet, released: false, order: ++this.#order };
    return this.#run('readwrite', (store) => store.put(row)).then(
      () => undefined,
      (error: unknown) => {
        this.#account(packetId, 0);
        throw error;
      },
    );
  }

  release(packetId: number): Promise<void> {
    const order = ++this.#order;
    return this.#run('readwrite', (store) => {
      const read = store.get(packetId);
      read.onsuccess = () => {
        const row = read.result;
        if (row) store.put({ ...row, released: true, order });
      };
      return read;
    }).then(() => undefined);
  }

  delete(packetId: number): Promise<void> {
    this.#account(packetId, 0);
    return this.#run('readwrite', (store) => store.delete(packetId)).then(() => undefined);
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    // Transactions already made still commit after close().
    if (db) (await db).close();
  }

  #account(packetId: number, size: number): void {
    this.#bytes += size - (this.#sizes.get(packetId) ?? 0);
    if (size > 0) this.#sizes.set(packetId, size);
    else this.#sizes.delete(packetId);
  }

  #open(): Promise<Database> {
    this.#db ??= new Promise<Database>((resolve, reject) => {
      const factory = (globalThis as { indexedDB?: { open(name: string, version: number): OpenRequest } })
        .indexedDB;
      if (!factory)
        throw new MqttClientError(ClientErrorCode.STORE_ERROR, 'no IndexedDB in this environment');
      const request = factory.open(this.name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) {
          request.result.createObjectStore(STORE, { keyPath: 'id' });
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(storeFailure(this.name, request.error));
    });
    return this.#db;
  }

  /** One transaction; resolves with the request's result once the transaction has committed. */
  async #run<T>(mode: 'readonly' | 'readwrite', work: (store: ObjectStore) => unknown): Promise<T> {
    const db = await this.#open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: 'strict' });
      const request = work(tx.objectStore(STORE)) as Request<T>;
      const fail = () => reject(storeFailure(this.name, tx.error ?? request.error));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = fail;
      tx.onabort = fail;
    });
  }
}

function storeFailure(name: string, error: unknown): MqttClientError {
  const message = (error as { message?: string } | null)?.message ?? 'failed';
  return new MqttClientError(ClientErrorCode.STORE_ERROR, `IndexedDB ${name}: ${message}`, { cause: error });
}
