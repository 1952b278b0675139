import { encode } from '@x/packets';
import { describe, expect, it } from 'vitest';
import {
  AllowAllHook,
  Broker,
  type Listener,
  MemoryListener,
  MemoryStore,
  type SysInfo,
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
  /** A broker on a MemoryStore that counts `saveSysInfo` calls, with `$SYS` rounds every 20 ms. */
  async function startCounting(sysSaveInterval: number) {
    const store = new MemoryStore();
    const saved: SysInfo[] = [];
    const save = store.saveSysInfo.bind(store);
    store.saveSysInfo = (info) => {
      saved.push({ ...info });
      save(info);
    };
    const broker = new Broker({ logger: silentLogger, sysInterval: 20, sysSaveInterval, store });
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
    const rounds = async (n: number) => {
      const target = sysRounds + n;
      await until(() => sysRounds >= target, `${n} rounds of $SYS topics`);
    };
    const connect = (clientId: string) => {
      const connection = listener.connect();
      connection.write(
        encode({ type: 'connect', protocolVersion: 5, clientId, clean: true, keepalive: 0 }, 5),
      );
      return connection;
    };
    return { broker, saved, rounds, connect };
  }

  it('are not saved while they do not change', async () => {
    const { broker, saved, rounds, connect } = await startCounting(0);
    try {
      await rounds(3);
      expect(saved).toHaveLength(0);
      // A connection changes them (connections accepted, clients connected).
      connect('c');
      await until(() => saved.length === 1, 'the changed figures saved');
      expect(saved[0]?.connectionsTotal).toBe(1);
    } finally {
      await broker.close();
    }
  });

  it('wait for a commit made for something else, or for sysSaveInterval, and close saves the last', async () => {
    const { broker, saved, rounds, connect } = await startCounting(60_000);
    try {
      // Changed, but not worth a commit of their own yet: a clean session commits nothing.
      const c1 = connect('c1');
      await rounds(3);
      // Its SUBACK waits for a commit that writes nothing: the figures do not make it one.
      const subscribes = broker.stats.subscriptions;
      c1.write(
        encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't/#', qos: 1 }] }, 5),
      );
      await until(() => broker.stats.subscriptions > subscribes, 'the subscription');
      await rounds(2);
      expect(saved).toHaveLength(0);
      // A retained message is committed, and the figures go with it.
      broker.publish('keep/a', 'x', { retain: true });
      await until(() => saved.length === 1, 'the figures carried by the retained commit');
      expect(saved[0]?.connectionsTotal).toBe(1);
      connect('c2');
      await rounds(2);
      expect(saved).toHaveLength(1);
    } finally {
      await broker.close();
    }
    expect(saved).toHaveLength(2);
    expect(saved[1]?.connectionsTotal).toBe(2);
  });
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
