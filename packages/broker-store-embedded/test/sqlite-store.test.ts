import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Delivery, storedMessage } from '@x/broker';
import { commit, relaxedCommit, sleep, until } from '@x/test-helpers';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore, SqliteStoreError, SqliteStoreErrors, sqliteStore } from '../src/index.js';
import { PAGE_SIZE } from '../src/schema.js';

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
  dirs.push(dir);
  return dir;
}

function delivery(topic: string, expiresAt = 0, payload = Buffer.from(topic)): Delivery {
  return {
    message: storedMessage(topic, payload, 1, false, undefined, expiresAt),
    qos: 1,
    retain: false,
    subscriptionIds: undefined,
  };
}

/** A connected v5 session with a 60 s expiry, so its rows are kept. */
function saveOnlineSession(store: SqliteStore, clientId: string): void {
  store.saveSession({
    clientId,
    protocolVersion: 5,
    expiryInterval: 60,
    disconnectedAt: 0,
    will: undefined,
    pendingWill: undefined,
  });
}

async function openError(store: SqliteStore): Promise<SqliteStoreError> {
  const error = await store.open().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SqliteStoreError);
  return error as SqliteStoreError;
}

describe('SqliteStore open()', () => {
  it('creates the data directory and a versioned file', async () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const store = sqliteStore(dataDir);
    await store.open();
    await store.close();
    const db = new Database(store.file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.pragma('application_id', { simple: true })).toBe(0x4d515453);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('purges expired sessions and messages, keeps sessions that owe a will', async () => {
    const dataDir = tempDir();
    const now = Date.now();
    const store = sqliteStore(dataDir);
    await store.open();
    const base = { protocolVersion: 5 as const, will: undefined, pendingWill: undefined };
    // Offline for 2 s with a 1 s expiry: gone, with its rows.
    store.saveSession({ ...base, clientId: 'expired', expiryInterval: 1, disconnectedAt: now - 2000 });
    store.queueMessage('expired', 1, delivery('x'));
    store.saveSubscription('expired', {
      topicFilter: 'x',
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionIdentifier: undefined,
    });
    // Expired too, but its delayed will is still owed: kept for the broker to publish it.
    const will = { topic: 'will', payload: Buffer.from('bye'), qos: 0 as const, retain: false };
    store.saveSession({
      ...base,
      clientId: 'owes-will',
      expiryInterval: 1,
      disconnectedAt: now - 2000,
      pendingWill: { will, dueAt: now - 1000 },
    });
    store.saveSession({ ...base, clientId: 'never', expiryInterval: 0xffffffff, disconnectedAt: now - 1e9 });
    store.saveSession({ ...base, clientId: 'online', expiryInterval: 1, disconnectedAt: 0 });
    store.queueMessage('online', 1, delivery('stale', now - 1));
    store.queueMessage('online', 2, delivery('fresh', now + 60_000));
    store.queueMessage('online', 3, delivery('forever'));
    store.saveInflight('online', 1, delivery('sent', now - 1), false); // delivery started: kept
    store.saveRetained(storedMessage('r/stale', Buffer.from('s'), 0, true, undefined, now - 1));
    store.saveRetained(storedMessage('r/fresh', Buffer.from('f'), 0, true, undefined, now + 60_000));
    // Rows of a session that was never saved are dropped at load.
    store.queueMessage('orphan', 1, delivery('lost'));
    await commit(store);
    await store.close();

    const again = sqliteStore(dataDir);
    const state = await again.open();
    expect(state.sessions.map((s) => s.clientId).sort()).toEqual(['never', 'online', 'owes-will']);
    const online = state.sessions.find((s) => s.clientId === 'online')!;
    expect(online.queue.map((d) => d.message.topic)).toEqual(['fresh', 'forever']);
    expect(online.inflight.map((f) => f.delivery.message.topic)).toEqual(['sent']);
    expect(state.sessions.find((s) => s.clientId === 'owes-will')!.pendingWill?.will.topic).toBe('will');
    expect(state.retained.map((m) => m.topic)).toEqual(['r/fresh']);
    await again.close();

    // The purge was written: the rows are gone from the file, not only skipped.
    const db = new Database(again.file, { readonly: true });
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect([count('sessions'), count('queue'), count('subscriptions'), count('retained')]).toEqual([
      3, 2, 0, 1,
    ]);
    db.close();
  });

  it('refuses a file that is not a database, and leaves it untouched', async () => {
    const dataDir = tempDir();
    const file = join(dataDir, 'broker.sqlite');
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(file, garbage);
    const error = await openError(sqliteStore(dataDir));
    expect(error.code).toBe(SqliteStoreErrors.CORRUPT);
    expect(error.message).toContain(file);
    expect(readFileSync(file).equals(garbage)).toBe(true);
  });

  it('refuses a database with damaged pages, and leaves it untouched', async () => {
    const dataDir = tempDir();
    const store = sqliteStore(dataDir);
    await store.open();
    for (let i = 0; i < 200; i++)
      store.saveRetained(storedMessage(`r/${i}`, Buffer.alloc(200, i), 0, true, undefined, 0));
    await commit(store);
    await store.close();
    const bytes = readFileSync(store.file);
    // Scribble over the second page onwards (the header page stays valid).
    bytes.fill(0xa5, PAGE_SIZE + 16, PAGE_SIZE * 3);
    writeFileSync(store.file, bytes);
    const error = await openError(sqliteStore(dataDir));
    expect(error.code).toBe(SqliteStoreErrors.CORRUPT);
    expect(readFileSync(store.file).equals(bytes)).toBe(true);
  });

  it('refuses a file of a newer format, and leaves it untouched', async () => {
    const dataDir = tempDir();
    const store = sqliteStore(dataDir);
    await store.open();
    await store.close();
    const db = new Database(store.file);
    db.pragma('user_version = 2');
    db.close();
    const before = readFileSync(store.file);
    const error = await openError(sqliteStore(dataDir));
    expect(error.code).toBe(SqliteStoreErrors.NEWER_FORMAT);
    expect(error.message).toMatch(/format 2, newer than the 1/);
    expect(readFileSync(store.file).equals(before)).toBe(true);
  });

  it("refuses another program's SQLite database", async () => {
    const dataDir = tempDir();
    const db = new Database(join(dataDir, 'broker.sqlite'));
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    const before = readFileSync(join(dataDir, 'broker.sqlite'));
    const error = await openError(sqliteStore(dataDir));
    expect(error.code).toBe(SqliteStoreErrors.FOREIGN_FILE);
    expect(readFileSync(join(dataDir, 'broker.sqlite')).equals(before)).toBe(true);
  });

  it('reports commits before open and after close as CLOSED errors', async () => {
    const store = sqliteStore(tempDir());
    await expect(commit(store)).rejects.toMatchObject({ code: SqliteStoreErrors.CLOSED });
    await store.open();
    await store.close();
    await expect(commit(store)).rejects.toMatchObject({ code: SqliteStoreErrors.CLOSED });
  });
});

describe('SqliteStore messages', () => {
  it('keeps every v5 property, binary payloads and long topics exactly; a message whose properties the codec refuses is kept without them', async () => {
    const dataDir = tempDir();
    const store = sqliteStore(dataDir);
    await store.open();
    saveOnlineSession(store, 'a');
    const properties = {
      contentType: 'application/ünïcode',
      responseTopic: 'reply/here',
      correlationData: Buffer.from([0, 1, 2, 255]),
      payloadFormatIndicator: false,
      userProperties: [
        ['k', 'v1'],
        ['k', 'v2'],
        ['ключ', 'значение'],
      ] as Array<[string, string]>,
    };
    const rich = storedMessage('a/ünï/côdé', Buffer.from([0, 255, 10]), 1, false, properties, 0);
    const long = storedMessage(
      `l/${'x'.repeat(70_000)}`.slice(0, 65_535),
      Buffer.alloc(100_000, 3),
      1,
      false,
      undefined,
      0,
    );
    const refused = storedMessage('bad', Buffer.from('kept'), 1, false, { contentType: 'a\u0000b' }, 0);
    const at = (message: typeof rich): Delivery => ({
      message,
      qos: 1,
      retain: false,
      subscriptionIds: undefined,
    });
    store.queueMessage('a', 1, at(rich));
    store.queueMessage('a', 2, at(long));
    store.saveInflight('a', 3, at(refused), false);
    await commit(store);
    await store.close();
    const again = sqliteStore(dataDir);
    const state = await again.open();
    await again.close();
    const [first, second] = state.sessions[0]!.queue.map((d) => d.message);
    expect(first!.topic).toBe(rich.topic);
    expect(Buffer.from(first!.payload)).toEqual(Buffer.from([0, 255, 10]));
    expect({
      ...first!.properties,
      correlationData: Buffer.from(first!.properties!.correlationData!),
    }).toEqual(properties);
    expect(second!.topic).toBe(long.topic);
    expect(Buffer.from(second!.payload)).toEqual(long.payload);
    const kept = state.sessions[0]!.inflight[0]!.delivery.message;
    expect(kept.topic).toBe('bad');
    expect(Buffer.from(kept.payload).toString()).toBe('kept');
    expect(kept.properties).toBeUndefined();
  });
});

describe('SqliteStore durability', () => {
  it("'interval' acknowledges at once and writes within intervalMs", async () => {
    const dataDir = tempDir();
    const store = new SqliteStore({ dataDir, durability: 'interval', intervalMs: 100 });
    await store.open();
    store.saveRetained(storedMessage('r', Buffer.from('x'), 0, true, undefined, 0));
    await commit(store);
    const count = () => {
      const db = new Database(store.file, { readonly: true });
      const n = (db.prepare('SELECT count(*) AS n FROM retained').get() as { n: number }).n;
      db.close();
      return n;
    };
    expect(count()).toBe(0);
    await until(() => count() === 1, 5000, 'the interval write');
    await store.close();
  });

  it("'acknowledged' has the batch in the file when commit calls back, not before", async () => {
    const store = new SqliteStore({ dataDir: tempDir() });
    await store.open();
    store.saveRetained(storedMessage('r', Buffer.from('x'), 0, true, undefined, 0));
    // The writer thread does the fsync: commit returns at once, done comes later.
    let called = false;
    const done = new Promise<void>((resolve) =>
      store.commit((error) => {
        called = true;
        expect(error).toBeUndefined();
        resolve();
      }),
    );
    expect(called).toBe(false);
    await done;
    const db = new Database(store.file, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM retained').get() as { n: number }).n).toBe(1);
    db.close();
    await store.close();
  });

  it("'fsync' fsyncs every commit (synchronous=FULL); 'acknowledged' and 'interval' leave it to checkpoints (NORMAL)", async () => {
    const expected = { fsync: 2, acknowledged: 1, interval: 1 } as const;
    for (const durability of ['fsync', 'acknowledged', 'interval'] as const) {
      const store = new SqliteStore({ dataDir: tempDir(), durability });
      await store.open();
      expect(await store.writerSynchronous()).toBe(expected[durability]);
      await store.close();
    }
    const byDefault = new SqliteStore({ dataDir: tempDir() });
    await byDefault.open();
    expect(await byDefault.writerSynchronous()).toBe(expected.acknowledged);
    await byDefault.close();
  });

  it('makes a new file with 4 KiB pages; a file already in WAL mode with 16 KiB pages keeps them and is written as before', async () => {
    const pageSize = (file: string) => {
      const db = new Database(file, { readonly: true });
      const size = db.pragma('page_size', { simple: true });
      db.close();
      return size;
    };
    const fresh = new SqliteStore({ dataDir: tempDir() });
    await fresh.open();
    fresh.saveRetained(storedMessage('a', Buffer.from('1'), 1, true, undefined, 0));
    await commit(fresh);
    await fresh.close();
    expect(pageSize(fresh.file)).toBe(PAGE_SIZE);

    const older = new SqliteStore({ dataDir: tempDir() });
    const db = new Database(older.file);
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
    db.close();
    await older.open();
    older.saveRetained(storedMessage('b', Buffer.from('2'), 1, true, undefined, 0));
    await commit(older);
    await older.close();
    expect(pageSize(older.file)).toBe(16384);
    const reopened = new SqliteStore({ dataDir: join(older.file, '..') });
    const state = await reopened.open();
    expect(state.retained.map((m) => m.topic)).toEqual(['b']);
    await reopened.close();
  });

  it('commits given while earlier ones are being written complete in order, each with its changes in the file', async () => {
    for (const durability of ['acknowledged', 'fsync'] as const) {
      const store = new SqliteStore({ dataDir: tempDir(), durability });
      await store.open();
      const order: number[] = [];
      const commits: Array<Promise<void>> = [];
      const count = () => {
        const db = new Database(store.file, { readonly: true });
        const n = (db.prepare('SELECT count(*) AS n FROM retained').get() as { n: number }).n;
        db.close();
        return n;
      };
      // Fifty commits in one turn: none waits for another before it is handed to the writer.
      for (let i = 1; i <= 50; i++) {
        store.saveRetained(storedMessage(`r/${i}`, Buffer.from('x'), 0, true, undefined, 0));
        commits.push(
          new Promise<void>((resolve, reject) =>
            store.commit((error) => {
              if (error) reject(error);
              order.push(i);
              // Everything this commit promised is readable from another connection.
              expect(count()).toBeGreaterThanOrEqual(i);
              resolve();
            }),
          ),
        );
      }
      await Promise.all(commits);
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      await store.close();
    }
  });

  it('holds a commit back while the last batch mostly cancelled out, unless it is urgent; closing writes it at once', async () => {
    const store = new SqliteStore({ dataDir: tempDir(), commitWindowMs: 60_000 });
    await store.open();
    saveOnlineSession(store, 'a');
    for (let seq = 1; seq <= 100; seq++) {
      store.queueMessage('a', seq, delivery('online'));
      store.dequeueMessage('a', seq);
    }
    await commit(store); // the first batch goes at once; 201 changes, 1 row written
    store.saveRetained(storedMessage('r', Buffer.from('x'), 0, true, undefined, 0));
    const held = relaxedCommit(store);
    await sleep(300);
    expect(held.answered).toBe(false); // the window is a minute
    store.saveRetained(storedMessage('s', Buffer.from('x'), 0, true, undefined, 0));
    await commit(store); // urgent (a PUBREC waits for it, say): written now, with the one held
    expect(held.answered).toBe(true);
    expect(await held.done).toBeUndefined();
    const retained = () => {
      const db = new Database(store.file, { readonly: true });
      const { n } = db.prepare('SELECT count(*) AS n FROM retained').get() as { n: number };
      db.close();
      return n;
    };
    expect(retained()).toBe(2);

    for (let seq = 101; seq <= 200; seq++) {
      store.queueMessage('a', seq, delivery('online'));
      store.dequeueMessage('a', seq);
    }
    await commit(store);
    store.saveRetained(storedMessage('t', Buffer.from('x'), 0, true, undefined, 0));
    const last = relaxedCommit(store);
    await store.close();
    expect(last.answered).toBe(true);
    expect(await last.done).toBeUndefined();
    expect(retained()).toBe(3);
  });

  it('does not hold a commit back after a batch whose changes were rows to write', async () => {
    const store = new SqliteStore({ dataDir: tempDir(), commitWindowMs: 60_000 });
    await store.open();
    saveOnlineSession(store, 'a');
    for (let seq = 1; seq <= 100; seq++) store.queueMessage('a', seq, delivery('offline'));
    await commit(store);
    store.saveRetained(storedMessage('r', Buffer.from('x'), 0, true, undefined, 0));
    // Not urgent, but not held either: it would wait a minute.
    expect(await relaxedCommit(store).done).toBeUndefined();
    await store.close();
  });

  it('is not writable while more than maxPendingBytes wait, and writes them at the next commit', async () => {
    const store = new SqliteStore({
      dataDir: tempDir(),
      durability: 'interval',
      intervalMs: 60_000,
      maxPendingBytes: 10_000,
    });
    await store.open();
    saveOnlineSession(store, 'a');
    for (let seq = 1; seq <= 10; seq++) store.queueMessage('a', seq, delivery('big', 0, Buffer.alloc(2000)));
    expect(store.writable).toBe(false);
    await commit(store);
    expect(store.writable).toBe(true);
    await store.close();
  });

  it('folds changes to one row: the batch holds the live state, not the history', async () => {
    const store = new SqliteStore({
      dataDir: tempDir(),
      durability: 'interval',
      intervalMs: 60_000,
      maxPendingBytes: 100_000,
    });
    await store.open();
    saveOnlineSession(store, 'a');
    const d = delivery('churn', 0, Buffer.alloc(1000));
    for (let i = 0; i < 10_000; i++) {
      store.saveInflight('a', 1, d, false);
      store.saveInflight('a', 1, d, true);
      store.deleteInflight('a', 1);
    }
    expect(store.writable).toBe(true);
    await store.close();
  });

  it('deletes runs of queued and in-flight rows in one go, and only the rows deleted', async () => {
    const store = sqliteStore(tempDir());
    await store.open();
    const d = delivery('runs');
    for (let n = 1; n <= 8; n++) {
      store.queueMessage('a', n, d);
      store.saveInflight('a', n, d, false);
    }
    await commit(store);
    // Runs 1-3 and 5-6 deleted, 4, 7 and 8 kept; 7 is replaced in the same batch.
    for (const n of [1, 2, 3, 5, 6]) {
      store.dequeueMessage('a', n);
      store.deleteInflight('a', n);
    }
    store.deleteInflight('a', 7);
    store.saveInflight('a', 7, d, true);
    await commit(store);
    await store.close();
    const db = new Database(store.file, { readonly: true });
    const keys = (sql: string) => (db.prepare(sql).all() as Array<{ n: number }>).map((r) => r.n);
    expect(keys('SELECT seq AS n FROM queue ORDER BY seq')).toEqual([4, 7, 8]);
    expect(keys('SELECT packet_id AS n FROM inflight ORDER BY packet_id')).toEqual([4, 7, 8]);
    db.close();
  });

  it('a QoS 2 flow written at PUBLISH and ended by PUBREC and PUBCOMP in one later batch is deleted from the file', async () => {
    const store = sqliteStore(tempDir());
    await store.open();
    const d: Delivery = { ...delivery('qos2'), qos: 2 };
    store.saveInflight('a', 7, d, false); // PUBLISH sent
    store.saveInflight('a', 8, d, false);
    await commit(store);
    store.saveInflight('a', 7, d, true); // PUBREC: the row on disk moves to PUBREL
    store.deleteInflight('a', 7); // PUBCOMP in the same batch: the delete is written
    // A flow that starts and ends in one batch never reaches the file.
    store.saveInflight('a', 9, d, false);
    store.saveInflight('a', 9, d, true);
    store.deleteInflight('a', 9);
    await commit(store);
    await store.close();
    const db = new Database(store.file, { readonly: true });
    const ids = db.prepare('SELECT packet_id AS n FROM inflight ORDER BY packet_id').all() as Array<{
      n: number;
    }>;
    expect(ids.map((r) => r.n)).toEqual([8]);
    db.close();
  });
});

describe('SqliteStore lock: one process per store file', () => {
  it('a second store on the same directory is refused until the first closes', async () => {
    const dir = tempDir();
    const first = sqliteStore(dir);
    await first.open();
    const error = await openError(sqliteStore(dir));
    expect(error.code).toBe(SqliteStoreErrors.LOCKED);
    expect(error.message).toContain(`pid ${process.pid}`);
    await first.close();
    const again = sqliteStore(dir);
    await again.open();
    await again.close();
  });

  it('a lock held by another live process is refused; one left by a dead process is taken over', async () => {
    const dir = tempDir();
    const store = sqliteStore(dir);
    const lockFile = `${store.file}.lock`;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(lockFile, `${child.pid}\n`);
      const error = await openError(store);
      expect(error.code).toBe(SqliteStoreErrors.LOCKED);
      expect(readFileSync(lockFile, 'utf8')).toBe(`${child.pid}\n`);
    } finally {
      child.kill('SIGKILL');
    }
    await once(child, 'exit');
    const after = sqliteStore(dir);
    await after.open();
    expect(readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);
    await after.close();
    expect(existsSync(lockFile)).toBe(false);
  });
});
