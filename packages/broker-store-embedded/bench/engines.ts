/**
 * Better-sqlite3 (WAL) against lmdb on the write load the broker puts on its store with QoS 1
 * traffic to persistent sessions: per event-loop turn one batch of changes (a quarter each of
 * queueMessage, dequeueMessage, saveInflight and deleteInflight of ~100-byte messages, plus a
 * retained message now and then), then one durable commit. The next batch starts when the commit
 * is done, as in the broker's acknowledged durability.
 *
 * Reported per engine, setting and batch size: committed changes/s, CPU per change (user +
 * system of every thread of the process, so lmdb's write thread counts), and how long each
 * commit kept the event loop busy (time inside the synchronous call).
 *
 *   pnpm --filter @x/broker-store-embedded bench [-- --seconds 3 --dir /path/on/the/disk]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Delivery, storedMessage } from '@x/broker';
import Database from 'better-sqlite3';
import { open as openLmdb } from 'lmdb';
import { type SqliteDurability, SqliteStore } from '../src/index.js';

const { values: args } = parseArgs({
  // pnpm passes the `--` before the bench's own options through.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    seconds: { type: 'string', default: '3' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const SECONDS = Number(args.seconds);
const SESSIONS = 100;
const PAYLOAD = Buffer.alloc(100, 0x61);

interface Engine {
  queue(clientId: string, seq: number, record: Buffer): void;
  dequeue(clientId: string, seq: number): void;
  saveInflight(clientId: string, packetId: number, record: Buffer): void;
  deleteInflight(clientId: string, packetId: number): void;
  retain(topic: string, record: Buffer): void;
  /** Writes what was recorded since the last commit; `busy` is the time spent on the event loop. */
  commit(done: () => void): void;
  close(): void;
  /** Resolves when the engine can take its first batch. */
  ready?: Promise<unknown>;
}

type Op = [kind: 0 | 1 | 2 | 3 | 4, clientId: string, key: number | string, record?: Buffer];

/** Records changes in an array, written by `flush` in one transaction (what the store will do). */
function sqliteEngine(dir: string, synchronous: 'FULL' | 'NORMAL'): Engine {
  const db = new Database(join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(`
    CREATE TABLE queue (client_id TEXT, seq INTEGER, record BLOB, PRIMARY KEY (client_id, seq)) WITHOUT ROWID;
    CREATE TABLE inflight (client_id TEXT, packet_id INTEGER, record BLOB, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
    CREATE TABLE retained (topic TEXT PRIMARY KEY, record BLOB) WITHOUT ROWID;
  `);
  const statements = [
    db.prepare('INSERT OR REPLACE INTO queue VALUES (?, ?, ?)'),
    db.prepare('DELETE FROM queue WHERE client_id = ? AND seq = ?'),
    db.prepare('INSERT OR REPLACE INTO inflight VALUES (?, ?, ?)'),
    db.prepare('DELETE FROM inflight WHERE client_id = ? AND packet_id = ?'),
    db.prepare('INSERT OR REPLACE INTO retained VALUES (?, ?)'),
  ] as const;
  let pending: Op[] = [];
  const write = db.transaction((ops: Op[]) => {
    for (const [kind, a, b, c] of ops) {
      if (kind === 4) statements[4].run(b, c);
      else if (c === undefined) statements[kind].run(a, b);
      else statements[kind].run(a, b, c);
    }
  });
  return {
    queue: (c, s, r) => pending.push([0, c, s, r]),
    dequeue: (c, s) => pending.push([1, c, s]),
    saveInflight: (c, p, r) => pending.push([2, c, p, r]),
    deleteInflight: (c, p) => pending.push([3, c, p]),
    retain: (t, r) => pending.push([4, '', t, r]),
    commit(done) {
      const ops = pending;
      pending = [];
      write(ops);
      done();
    },
    close: () => db.close(),
  };
}

/**
 * lmdb writes in its own thread: the puts of one event turn go in one transaction, `flushed`
 * resolves when that transaction is on disk (overlappingSync) or `committed` when it is written.
 */
function lmdbEngine(dir: string, options: { noSync?: boolean; commitDelay?: number }): Engine {
  const root = openLmdb({ path: join(dir, 'state.mdb'), noMemInit: true, ...options });
  const queue = root.openDB<Buffer, [string, number]>({ name: 'queue', encoding: 'binary' });
  const inflight = root.openDB<Buffer, [string, number]>({ name: 'inflight', encoding: 'binary' });
  const retained = root.openDB<Buffer, string>({ name: 'retained', encoding: 'binary' });
  let pending: Op[] = [];
  return {
    queue: (c, s, r) => pending.push([0, c, s, r]),
    dequeue: (c, s) => pending.push([1, c, s]),
    saveInflight: (c, p, r) => pending.push([2, c, p, r]),
    deleteInflight: (c, p) => pending.push([3, c, p]),
    retain: (t, r) => pending.push([4, '', t, r]),
    commit(done) {
      const ops = pending;
      pending = [];
      const written = root.transaction(() => {
        for (const [kind, a, b, c] of ops) {
          if (kind === 0) queue.put([a, b as number], c!);
          else if (kind === 1) queue.remove([a, b as number]);
          else if (kind === 2) inflight.put([a, b as number], c!);
          else if (kind === 3) inflight.remove([a, b as number]);
          else retained.put(b as string, c!);
        }
      });
      // With overlappingSync (the default off Windows) a transaction is durable once flushed.
      void written.then(() => (options.noSync ? undefined : root.flushed)).then(done);
    },
    close: () => void root.close(),
  };
}

/**
 * The store itself over the same load: deliveries instead of ready bytes, so the figures include
 * folding the batch and encoding each message as a PUBLISH packet.
 */
function storeEngine(dir: string, durability: SqliteDurability): Engine {
  const store = new SqliteStore({ dataDir: dir, durability, intervalMs: 1000 });
  const opened = store.open();
  const delivery = (record: Buffer): Delivery => ({
    message: storedMessage('bench/topic/a', record.subarray(20), 1, false, undefined, 0),
    qos: 1,
    retain: false,
    subscriptionIds: undefined,
  });
  const sessions = new Set<string>();
  return {
    queue(c, s, r) {
      if (!sessions.has(c)) {
        sessions.add(c);
        store.saveSession({
          clientId: c,
          protocolVersion: 5,
          expiryInterval: 3600,
          disconnectedAt: 0,
          will: undefined,
          pendingWill: undefined,
        });
      }
      store.queueMessage(c, s, delivery(r));
    },
    dequeue: (c, s) => store.dequeueMessage(c, s),
    saveInflight: (c, p, r) => store.saveInflight(c, p, delivery(r), false),
    deleteInflight: (c, p) => store.deleteInflight(c, p),
    retain: (t, r) => store.saveRetained(storedMessage(t, r, 0, true, undefined, 0)),
    commit(done) {
      store.commit((error) => {
        if (error) throw error;
        done();
      });
    },
    close: () => void store.close(),
    ready: opened,
  };
}

function record(n: number): Buffer {
  const r = Buffer.allocUnsafe(20 + PAYLOAD.length);
  r.writeDoubleBE(n, 0);
  r.fill(0, 8, 20);
  PAYLOAD.copy(r, 20);
  return r;
}

/** Runs turns for SECONDS: each queues batch/4 messages and moves the earlier ones along. */
async function run(engine: Engine, batch: number): Promise<string> {
  const perTurn = batch / 4;
  let seq = 0;
  let turn = 0;
  let changes = 0;
  let busy = 0;
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const first = seq;
    for (let i = 0; i < perTurn; i++) {
      const s = seq++;
      const client = `client-${s % SESSIONS}`;
      engine.queue(client, s, record(s));
      if (s - perTurn >= 0) {
        const prev = s - perTurn;
        const prevClient = `client-${prev % SESSIONS}`;
        engine.dequeue(prevClient, prev);
        engine.saveInflight(prevClient, prev % 65535, record(prev));
      }
      if (s - 2 * perTurn >= 0) {
        const old = s - 2 * perTurn;
        engine.deleteInflight(`client-${old % SESSIONS}`, old % 65535);
      }
    }
    if (turn % 10 === 0) engine.retain(`retained/${turn % 100}`, record(turn));
    changes += first === 0 ? perTurn : batch;
    turn++;
    const start = performance.now();
    await new Promise<void>((resolve) => {
      engine.commit(resolve);
      busy += performance.now() - start;
    });
    latencies.push(performance.now() - start);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)]!;
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  return [
    `${Math.round(changes / elapsed)
      .toLocaleString('en-US')
      .padStart(10)} changes/s`,
    `${((cpu.user + cpu.system) / changes).toFixed(2).padStart(6)} µs CPU/change`,
    `commit p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms`,
    `loop busy ${(busy / turn).toFixed(2)} ms/commit`,
  ].join('  ');
}

const engines: Array<[string, (dir: string) => Engine]> = [
  ['sqlite WAL synchronous=FULL', (d) => sqliteEngine(d, 'FULL')],
  ['sqlite WAL synchronous=NORMAL', (d) => sqliteEngine(d, 'NORMAL')],
  ['lmdb (sync, overlappingSync)', (d) => lmdbEngine(d, {})],
  ['lmdb commitDelay=10', (d) => lmdbEngine(d, { commitDelay: 10 })],
  ['lmdb noSync', (d) => lmdbEngine(d, { noSync: true })],
  ['SqliteStore acknowledged (NORMAL)', (d) => storeEngine(d, 'acknowledged')],
  ['SqliteStore fsync (FULL)', (d) => storeEngine(d, 'fsync')],
  ['SqliteStore interval (1 s)', (d) => storeEngine(d, 'interval')],
];

console.log(`${SECONDS} s per run, ${SESSIONS} sessions, ${PAYLOAD.length}-byte payloads, in ${args.dir}`);
for (const batch of [50, 500]) {
  for (const [name, make] of engines) {
    const dir = mkdtempSync(join(args.dir, 'store-bench-'));
    const engine = make(dir);
    await engine.ready;
    try {
      console.log(`batch ${String(batch).padStart(3)}  ${name.padEnd(30)} ${await run(engine, batch)}`);
    } finally {
      engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
