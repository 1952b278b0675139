import type { ClientInfo } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { LedgerHook } from '../src/hook.js';
import { Ledger } from '../src/ledger.js';
import { client as authClient, message } from './clients.js';

// LedgerHook takes the broker's ClientInfo; the fixture carries the part of it the hook reads. The
// username is set here so that `undefined` (anonymous) stays undefined, not the fixture's default.
const client = (id: string, username: string | undefined) => ({ ...authClient(id), username }) as ClientInfo;

describe('LedgerHook delivery checks', () => {
  it('judges an offline session as the client that last held it, also under rules loaded after it left', () => {
    const ledger = new Ledger({});
    const hook = new LedgerHook({ ledger });
    const alice = client('c1', 'alice');
    hook.onSessionEstablished(alice);
    hook.onDisconnect(alice, 0, undefined, false);
    ledger.update({ acl: [{ username: 'alice', filters: { 'a/#': 'read' } }] });
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('a/1'))).toBe(true);
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('b/1'))).toBe(false);
    // Back online, the connection is judged; gone for good, the session is forgotten.
    const bob = client('c1', 'bob');
    hook.onSessionEstablished(bob);
    expect(hook.onAclCheckDelivery?.('c1', bob, message('a/1'))).toBe(false);
    hook.onDisconnect(bob, 0, undefined, true);
    expect(hook.onAclCheckDelivery?.('c1', undefined, message('a/1'))).toBe(false);
  });

  it('keeps nothing on an online connection while the ledger has no ACL rules', () => {
    const hook = new LedgerHook({ ledger: new Ledger({}), allowAnonymous: true });
    const c = client('c1', undefined);
    hook.onSessionEstablished(c);
    expect(hook.onAclCheck(c, 'any/topic', 'write')).toBe(true);
    expect(hook.onAclCheck(c, 'any/#', 'read')).toBe(true);
    expect(c.data).toEqual({});
  });
});
