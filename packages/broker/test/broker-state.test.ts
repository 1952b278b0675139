import { encode } from '@x/packets';
import { describe, expect, it } from 'vitest';
import {
  AllowAllHook,
  Broker,
  type Listener,
  MemoryListener,
  MemoryStore,
  silentLogger,
} from '../src/index.js';

describe('Broker.state', () => {
  it('goes new → starting → running → closing → closed', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    broker.addHook(new AllowAllHook());
    const seen: string[] = [broker.state];
    let release!: () => void;
    const slowListener: Listener = {
      id: 'slow',
      address: () => 'slow://',
      listen: () => {
        seen.push(broker.state);
        return Promise.resolve();
      },
      close: () => {
        seen.push(broker.state);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    };
    await broker.addListener(slowListener);
    await broker.start();
    seen.push(broker.state);
    const closing = broker.close();
    seen.push(broker.state);
    release();
    await closing;
    seen.push(broker.state);
    expect(seen).toEqual(['new', 'starting', 'running', 'closing', 'closing', 'closed']);
  });

  it('a start that fails leaves it closed', async () => {
    const failing = new MemoryStore();
    failing.open = () => Promise.reject(new Error('store down'));
    const broker = new Broker({ logger: silentLogger, sysInterval: 0, store: failing });
    await expect(broker.start()).rejects.toThrow('store down');
    expect(broker.state).toBe('closed');
  });
});

describe('Broker.deleteRetained', () => {
  it('deletes through the retain hooks without routing anything', async () => {
    const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
    const published: Array<{ topic: string; bytes: number }> = [];
    const routed: string[] = [];
    broker.addHook(new AllowAllHook());
    broker.addHook({
      onRetainPublished: (_client, message) =>
        published.push({ topic: message.topic, bytes: message.payload.length }),
      onPublished: (_client, message) => routed.push(message.topic),
    });
    const listener = new MemoryListener();
    await broker.addListener(listener);
    await broker.start();
    broker.publish('keep/a', 'x', { retain: true });
    broker.publish('keep/b', 'y', { retain: true });
    routed.length = 0;
    expect(broker.deleteRetained('keep/a')).toBe(true);
    expect(broker.retained.get('keep/a')).toBeUndefined();
    expect(broker.retained.get('keep/b')).toBeDefined();
    expect(broker.deleteRetained('keep/a')).toBe(false);
    expect(published.at(-1)).toEqual({ topic: 'keep/a', bytes: 0 });
    expect(routed).toEqual([]);

    // A hook that refuses the deletion keeps the message, and the caller learns it.
    broker.addHook({ onRetainMessage: () => false });
    expect(broker.deleteRetained('keep/b')).toBe(false);
    expect(broker.retained.get('keep/b')).toBeDefined();
    await broker.close();
  });
});

describe('$SYS figures in the store', () => {
  it('are saved when they change, not every sysInterval while the broker is idle', async () => {
    const store = new MemoryStore();
    let saves = 0;
    const save = store.saveSysInfo.bind(store);
    store.saveSysInfo = (info) => {
      saves++;
      save(info);
    };
    const broker = new Broker({ logger: silentLogger, sysInterval: 20, store });
    broker.addHook(new AllowAllHook());
    const listener = new MemoryListener();
    await broker.addListener(listener);
    let sysRounds = 0;
    broker.addHook({
      onRetainPublished: (_client, message) => {
        if (message.topic === '$SYS/broker/uptime') sysRounds++;
      },
    });
    await broker.start();
    try {
      await until(() => sysRounds >= 3, '3 rounds of $SYS topics');
      expect(saves).toBe(0);
      // A connection changes the figures (connections accepted, clients connected).
      listener
        .connect()
        .write(encode({ type: 'connect', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 0 }, 5));
      await until(() => saves === 1, 'the changed figures saved');
    } finally {
      await broker.close();
    }
  });
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
