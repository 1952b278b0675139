import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../src/index.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('FileStore', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-store-'));
    path = join(dir, 'sub', 'outgoing.log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps puts, releases and deletes across a reopen, released ones in the order released', async () => {
    const store = new FileStore(path);
    expect(await store.list()).toEqual([]);
    await store.put(1, bytes(1));
    await store.put(2, bytes(2, 2));
    await store.put(3, bytes(3));
    await store.release(3);
    await store.release(1);
    await store.delete(2);
    await store.put(2, bytes(9)); // a packet id used again after its flow ended
    await store.close();
    const again = new FileStore(path);
    expect(await again.list()).toEqual([
      { packetId: 3, packet: bytes(3), released: true },
      { packetId: 1, packet: bytes(1), released: true },
      { packetId: 2, packet: bytes(9), released: false },
    ]);
    await again.close();
  });

  it('ends the log at a record torn by a crash and appends after it', async () => {
    const store = new FileStore(path);
    await store.put(1, bytes(1, 1, 1));
    await store.put(2, bytes(2, 2, 2));
    await store.close();
    truncateSync(path, statSync(path).size - 2);
    const torn = new FileStore(path);
    expect((await torn.list()).map((e) => e.packetId)).toEqual([1]);
    await torn.put(4, bytes(4));
    await torn.close();
    appendFileSync(path, bytes(0xde, 0xad, 0xbe, 0xef, 1, 0, 0, 0, 0, 0, 0)); // a bad checksum
    const again = new FileStore(path);
    expect((await again.list()).map((e) => e.packetId)).toEqual([1, 4]);
    await again.close();
  });

  it('compacts itself: the file stays bounded while packets come and go', async () => {
    const store = new FileStore(path);
    const packet = new Uint8Array(10_000);
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    for (let round = 0; round < 5; round++) {
      // The writes of one turn share one fsync.
      await Promise.all(ids.map((id) => store.put(id, packet)));
      await Promise.all(ids.slice(3).map((id) => store.delete(id)));
    }
    await store.close();
    // 5 MB went through; 3 packets are live.
    expect(statSync(path).size).toBeLessThan(2 * 1024 * 1024);
    const again = new FileStore(path);
    expect((await again.list()).map((e) => e.packetId)).toEqual([1, 2, 3]);
    await again.close();
  }, 20_000);

  it('refuses a put beyond maxBytes with STORE_FULL', async () => {
    const store = new FileStore(path, { maxBytes: 100 });
    await store.put(1, new Uint8Array(60));
    await expect(store.put(2, new Uint8Array(60))).rejects.toMatchObject({ code: 'STORE_FULL' });
    await store.delete(1);
    await store.put(2, new Uint8Array(60));
    await store.close();
  });

  it('keeps out a second process, and takes over the lock of a dead one', async () => {
    const first = new FileStore(path);
    await first.list();
    await first.close();
    // The parent process of this test is alive: its lock holds.
    writeFileSync(`${path}.lock`, String(process.ppid));
    await expect(new FileStore(path).list()).rejects.toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining(`in use by process ${process.ppid}`),
    });
    // No process has this pid (above Linux's pid_max).
    writeFileSync(`${path}.lock`, '4194304');
    const taken = new FileStore(path);
    await taken.list();
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid));
    await taken.close();
    expect(() => readFileSync(`${path}.lock`)).toThrow();
  });

  it('refuses calls after close', async () => {
    const store = new FileStore(path);
    await store.close();
    await expect(store.put(1, bytes(1))).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });
});
