import type { ConnectPacket } from '@x/packets';
import { recordingLogger } from '@x/test-helpers';
import { describe, expect, it } from 'vitest';
import type { AuthBackend, AuthRequest, BackendVerdict } from '../src/backend-hook.js';
import { BackendAuthHook } from '../src/backend-hook.js';
import { client, message } from './clients.js';

const connect = (password?: string) =>
  ({
    type: 'connect',
    password: password === undefined ? undefined : Buffer.from(password),
  }) as unknown as ConnectPacket;

/** A backend answering from a function, counting its calls. */
function backend(
  answer: (request: AuthRequest) => Promise<BackendVerdict>,
): AuthBackend & { calls: AuthRequest[] } {
  const calls: AuthRequest[] = [];
  return {
    name: 'test',
    calls,
    check(request) {
      calls.push(request);
      return answer(request);
    },
  };
}

describe('BackendAuthHook', () => {
  it('hands the backend the request without the port, and keeps the ACL on the connection', async () => {
    const b = backend(async () => ({ allowed: true, acl: [{ filter: 'users/%u/#', access: 'readwrite' }] }));
    const hook = new BackendAuthHook({ backend: b });
    const c = client();
    expect(await hook.onConnectAuthenticate(c, connect('pw'))).toBe(true);
    expect(b.calls[0]).toMatchObject({
      clientId: 'c1',
      username: 'alice',
      remoteAddress: '10.0.0.1',
      listener: 'tcp',
    });
    expect(hook.onAclCheck(c, 'users/alice/x', 'write')).toBe(true);
    expect(hook.onAclCheck(c, 'users/bob/x', 'write')).toBe(0x87);
    // A client this hook did not authenticate gets no verdict from it.
    expect(hook.onAclCheck(client('other'), 'users/alice/x', 'write')).toBeUndefined();
  });

  it('keeps the ACL of an offline session for delivery checks until the session ends', async () => {
    const hook = new BackendAuthHook({
      backend: backend(async () => ({ allowed: true, acl: [{ filter: 'a/#', access: 'read' }] })),
    });
    const c = client();
    await hook.onConnectAuthenticate(c, connect('pw'));
    hook.onSessionEstablished(c);
    hook.onDisconnect(c, 0, undefined, false);
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('a/1'))).toBe(true);
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('b/1'))).toBe(false);
    hook.onClientExpired('c1');
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('b/1'))).toBe(true);
  });

  it('times out a backend that ignores the abort signal, and fails closed, open or to the next hook', async () => {
    const stuck = () => backend(() => new Promise<BackendVerdict>(() => undefined));
    const closed = new BackendAuthHook({ backend: stuck(), timeoutMs: 20 });
    expect(await closed.onConnectAuthenticate(client(), connect('pw'))).toEqual({
      ok: false,
      reasonCode: 0x88,
    });
    const next = new BackendAuthHook({ backend: stuck(), timeoutMs: 20, failMode: 'next' });
    expect(await next.onConnectAuthenticate(client(), connect('pw'))).toBeUndefined();
    const open = new BackendAuthHook({ backend: stuck(), timeoutMs: 20, failMode: 'open' });
    const c = client();
    expect(await open.onConnectAuthenticate(c, connect('pw'))).toBe(true);
    expect(open.onAclCheck(c, 'any/topic', 'write')).toBe(true);
  });

  it('refuses a verdict already expired, and every ACL check once it has', async () => {
    const hook = new BackendAuthHook({
      backend: backend(async (r) => ({
        allowed: true,
        acl: 'all',
        expiresAt: r.username === 'late' ? Date.now() - 1 : Date.now() + 30,
      })),
    });
    expect(await hook.onConnectAuthenticate(client('x', 'late'), connect('pw'))).toEqual({
      ok: false,
      reasonCode: 0x86,
    });
    const c = client();
    expect(await hook.onConnectAuthenticate(c, connect('pw'))).toBe(true);
    expect(hook.onAclCheck(c, 't', 'write')).toBe(true);
    await new Promise((r) => setTimeout(r, 40));
    expect(hook.onAclCheck(c, 't', 'write')).toBe(0x87);
    expect(hook.onAclCheckDelivery?.('c1', c, message('t'))).toBe(false);
  });

  it('counts an ACL over maxAclEntries as a failure', async () => {
    const acl = Array.from({ length: 3 }, (_, i) => ({ filter: `t/${i}`, access: 'read' as const }));
    const hook = new BackendAuthHook({
      backend: backend(async () => ({ allowed: true, acl })),
      maxAclEntries: 2,
    });
    expect(await hook.onConnectAuthenticate(client(), connect('pw'))).toEqual({
      ok: false,
      reasonCode: 0x88,
    });
  });

  it('caches per password without keeping it, and not past the verdict expiry', async () => {
    const b = backend(async (r) => ({
      allowed: Buffer.from(r.password ?? []).toString() === 'right',
      ...(r.username === 'short' && { expiresAt: Date.now() + 1000 }),
    }));
    const hook = new BackendAuthHook({ backend: b, cache: { ttlMs: 60_000 } });
    for (const pw of ['right', 'right', 'wrong', 'wrong'])
      await hook.onConnectAuthenticate(client(), connect(pw));
    expect(b.calls).toHaveLength(2);
    await hook.onConnectAuthenticate(client('c1', 'short'), connect('right'));
    await hook.onConnectAuthenticate(client('c1', 'short'), connect('right'));
    expect(b.calls).toHaveLength(4);
    expect(hook.cacheStats.entries).toBe(2);
  });

  it('logs failures once per interval, then says how many lines it left out', async () => {
    const logger = recordingLogger();
    const hook = new BackendAuthHook({
      backend: backend(async () => {
        throw new Error('ECONNREFUSED');
      }),
      logger,
      logIntervalMs: 50,
    });
    for (let i = 0; i < 4; i++) await hook.onConnectAuthenticate(client(), connect('secret-pw'));
    await new Promise((r) => setTimeout(r, 60));
    await hook.onConnectAuthenticate(client(), connect('secret-pw'));
    expect(logger.lines.map((l) => [l.level, l.fields.suppressed])).toEqual([
      ['warn', undefined],
      ['warn', 3],
    ]);
    expect(logger.lines[0]?.fields.error).toBe('ECONNREFUSED');
    expect(JSON.stringify(logger.lines)).not.toContain('secret-pw');
  });
});
