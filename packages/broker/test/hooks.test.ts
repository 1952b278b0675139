import { describe, expect, it } from 'vitest';
import type { Client } from '../src/client.js';
import { AllowAllHook, type Hook, Hooks } from '../src/index.js';

const client = {} as Client;
const connect = { type: 'connect', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 0 } as const;

describe('Hooks', () => {
  it('sorts hooks into one array per event, in the order added', () => {
    const hooks = new Hooks();
    const a: Hook = { id: 'a', onPublished() {} };
    const b: Hook = { id: 'b', onPublished() {}, onAclCheck: () => undefined };
    hooks.add(a);
    hooks.add(b);
    expect(hooks.on.onPublished).toEqual([a, b]);
    expect(hooks.on.onAclCheck).toEqual([b]);
    expect(hooks.has('onSubscribe')).toBe(false);
  });

  it('remove takes a hook out of every event; a hook removing itself mid-event lets that event finish', () => {
    const hooks = new Hooks();
    const called: string[] = [];
    const first: Hook = {
      id: 'first',
      onPublished: () => {
        called.push('first');
        hooks.remove(first);
      },
      onAclCheck: () => undefined,
    };
    const second: Hook = { id: 'second', onPublished: () => called.push('second') };
    hooks.add(first);
    hooks.add(second);
    for (const h of hooks.on.onPublished) h.onPublished!(undefined, {} as never, 0);
    expect(called).toEqual(['first', 'second']);
    expect(hooks.on.onPublished).toEqual([second]);
    expect(hooks.has('onAclCheck')).toBe(false);
    expect(hooks.all).toEqual([second]);
    expect(hooks.remove(first)).toBe(false);
  });

  it('authentication: the first verdict wins and the chain stays synchronous when every hook is', () => {
    const hooks = new Hooks();
    hooks.add({ onConnectAuthenticate: () => undefined });
    hooks.add({ onConnectAuthenticate: () => false });
    hooks.add(new AllowAllHook());
    expect(hooks.authenticate(client, connect)).toBe(false);
  });

  it('authentication: an async hook makes the result a promise; later hooks run after it', async () => {
    const hooks = new Hooks();
    const order: string[] = [];
    hooks.add({
      onConnectAuthenticate: async () => {
        order.push('async');
        return undefined;
      },
    });
    hooks.add({
      onConnectAuthenticate: () => {
        order.push('sync');
        return { ok: false, reasonCode: 0x86 };
      },
    });
    const result = hooks.authenticate(client, connect);
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual({ ok: false, reasonCode: 0x86 });
    expect(order).toEqual(['async', 'sync']);
  });

  it('ACL: no hook allows; false refuses with 0x87; a number is the reason code; undefined defers', () => {
    const hooks = new Hooks();
    expect(hooks.acl(client, 't', 'read')).toBe(0);
    hooks.add({ onAclCheck: (_c, topic) => (topic === 'x' ? 0x80 : undefined) });
    hooks.add({ onAclCheck: (_c, topic) => topic !== 'y' });
    expect(hooks.acl(client, 'x', 'read')).toBe(0x80);
    expect(hooks.acl(client, 'y', 'read')).toBe(0x87);
    expect(hooks.acl(client, 'z', 'write')).toBe(0);
  });
});

describe('diagnostics channels', () => {
  it('publish connect, violation and disconnect events when subscribed', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const { Broker, MemoryListener, silentLogger } = await import('../src/index.js');
    const { encode } = await import('@x/packets');
    const seen: string[] = [];
    const on = (name: string) => (message: unknown) =>
      seen.push(`${name}:${JSON.stringify(message, (k, v) => (k === 'client' ? v.id : v))}`);
    const handlers = {
      'x-broker:client:connect': on('connect'),
      'x-broker:protocol:violation': on('violation'),
      'x-broker:client:disconnect': on('disconnect'),
    };
    for (const [name, fn] of Object.entries(handlers)) subscribe(name, fn);
    try {
      const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
      broker.addHook(new AllowAllHook());
      const listener = new MemoryListener();
      await broker.addListener(listener);
      await broker.start();
      const stream = listener.connect();
      stream.on('data', () => {});
      stream.write(
        encode({ type: 'connect', protocolVersion: 5, clientId: 'diag', clean: true, keepalive: 0 }, 5),
      );
      stream.write(
        encode({ type: 'connect', protocolVersion: 5, clientId: 'diag', clean: true, keepalive: 0 }, 5),
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(seen[0]).toBe('connect:{"client":"diag"}');
      expect(seen[1]).toContain('violation:{"clientId":"diag"');
      expect(seen[1]).toContain('"reasonCode":130');
      expect(seen[2]).toContain('disconnect:{"client":"diag","reasonCode":130');
      await broker.close();
    } finally {
      for (const [name, fn] of Object.entries(handlers)) unsubscribe(name, fn);
    }
  });
});
