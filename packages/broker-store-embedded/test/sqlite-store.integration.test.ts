import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storedMessage } from '@x/broker';
import { commit, until } from '@x/test-helpers';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { SqliteStore, type SqliteStoreError, SqliteStoreErrors } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A small tmpfs at a new directory, unmounted after the test. Mounting needs root with
 * CAP_SYS_ADMIN: without it the test is skipped with the reason, except in CI, where it fails.
 */
function smallDisk(ctx: TestContext, size: string): string {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const reason = `cannot mount a tmpfs here (${String((error as Error).message).split('\n')[0]})`;
    if (process.env.CI) throw new Error(`${reason}: CI must run these tests as root`);
    ctx.skip(reason);
  }
  cleanups.push(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

function session(clientId: string) {
  return {
    clientId,
    protocolVersion: 5 as const,
    expiryInterval: 3600,
    disconnectedAt: 0,
    will: undefined,
    pendingWill: undefined,
  };
}

function delivery(topic: string, payload: Buffer) {
  return {
    message: storedMessage(topic, payload, 1, false, undefined, 0),
    qos: 1 as const,
    retain: false,
    subscriptionIds: undefined,
  };
}

describe('SqliteStore after kill -9', () => {
  for (const batch of [50, 500]) {
    it(`has every acknowledged commit of a process killed while committing (batches of ${batch})`, async () => {
      const dataDir = tempDir();
      const child = spawn(
        process.execPath,
        [
          '--conditions=@x/source',
          '--import',
          'tsx',
          join(here, 'fixtures', 'commit-loop.ts'),
          dataDir,
          String(batch),
        ],
        { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let acked = 0;
      let stderr = '';
      let buffered = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acked = Number(line);
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      try {
        // Let it commit for a while (the first acknowledgement comes after tsx has loaded).
        await until(() => acked >= batch * 10, 20_000, 'acknowledgements').catch(() => {
          throw new Error(`the child acknowledged only ${acked} messages: ${stderr}`);
        });
      } finally {
        child.kill('SIGKILL');
      }
      expect(await exited).toBe('SIGKILL');

      const store = new SqliteStore({ dataDir });
      const state = await store.open();
      await store.close();
      const session = state.sessions.find((s) => s.clientId === 'c')!;
      const queue = session.queue;
      const seqs = queue.map((d) => Number(d.message.topic.slice(2)));
      // Every acknowledged message is there, in order, and whole transactions only: 1..k, k a multiple of the batch.
      expect(seqs.length).toBeGreaterThanOrEqual(acked);
      expect(seqs.length % batch).toBe(0);
      expect(seqs.every((seq, i) => seq === i + 1)).toBe(true);
      for (const d of queue) expect(d.message.payload).toEqual(Buffer.alloc(100, 0x61));
      // In flight as of the same commit: the last 10 messages, each under its packet id, in order.
      const last = seqs.length;
      expect(session.inflight.map((f) => [f.packetId, f.delivery.message.topic])).toEqual(
        Array.from({ length: 10 }, (_, i) => [((last - 9 + i) % 1000) + 1, `t/${last - 9 + i}`]),
      );
    });
  }
});

describe('SqliteStore on a full disk', () => {
  it('turns not writable with a DISK_FULL error, keeps the batch, and writes it once space is freed', async (ctx) => {
    // WAL mode holds pages twice (WAL and file) until a checkpoint: 512 KiB leaves room for both.
    const dataDir = smallDisk(ctx, '512k');
    const store = new SqliteStore({ dataDir, retryMs: 50 });
    cleanups.push(() => void store.close().catch(() => {}));
    await store.open();
    store.saveSession(session('c'));
    store.queueMessage('c', 1, delivery('before', Buffer.alloc(100, 1)));
    await commit(store);

    // Fill the disk.
    const filler = join(dataDir, 'filler');
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(4096, 0xee);
    try {
      for (;;) writeSync(fd, block);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }

    for (let seq = 2; seq <= 21; seq++)
      store.queueMessage('c', seq, delivery(`during/${seq}`, Buffer.alloc(2000, seq)));
    const error = (await commit(store).then(
      () => undefined,
      (e: unknown) => e,
    )) as SqliteStoreError | undefined;
    expect(error?.code).toBe(SqliteStoreErrors.DISK_FULL);
    expect(error?.message).toMatch(/disk is full/);
    expect(store.writable).toBe(false);
    // Still failing, and still keeping what it was given.
    store.queueMessage('c', 22, delivery('during/22', Buffer.alloc(10)));
    await expect(commit(store)).rejects.toMatchObject({ code: SqliteStoreErrors.DISK_FULL });

    unlinkSync(filler);
    await until(() => store.writable, 5_000, 'the store to write again');
    await commit(store);
    await store.close();

    const again = new SqliteStore({ dataDir });
    const state = await again.open();
    await again.close();
    const topics = state.sessions[0]!.queue.map((d) => d.message.topic);
    expect(topics).toEqual(['before', ...Array.from({ length: 21 }, (_, i) => `during/${i + 2}`)]);
  });
});

describe('SqliteStore in a read-only directory', () => {
  it('open() rejects with READ_ONLY and leaves the file as it was', async (ctx) => {
    const dataDir = smallDisk(ctx, '1m');
    const store = new SqliteStore({ dataDir });
    await store.open();
    store.saveSession(session('c'));
    await commit(store);
    await store.close();
    const before = readFileSync(store.file);
    execFileSync('mount', ['-o', 'remount,ro', dataDir]);

    const error = await new SqliteStore({ dataDir }).open().then(
      () => undefined,
      (e: unknown) => e as SqliteStoreError,
    );
    expect(error?.code).toBe(SqliteStoreErrors.READ_ONLY);
    expect(error?.message).toContain(store.file);
    expect(readFileSync(store.file).equals(before)).toBe(true);
  });

  it('open() rejects with READ_ONLY when the data directory cannot be created', async (ctx) => {
    const mount = smallDisk(ctx, '64k');
    execFileSync('mount', ['-o', 'remount,ro', mount]);
    const error = await new SqliteStore({ dataDir: join(mount, 'data') }).open().then(
      () => undefined,
      (e: unknown) => e as SqliteStoreError,
    );
    expect(error?.code).toBe(SqliteStoreErrors.READ_ONLY);
    expect(error?.message).toMatch(/cannot create the data directory/);
  });
});
