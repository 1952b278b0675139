import type {
  Delivery,
  Message,
  SessionSubscription,
  Store,
  StoredSession,
  StoredState,
  SysInfo,
} from '@x/broker';
import { storedMessage } from '@x/broker';
import { afterEach, describe, expect, it } from 'vitest';

/** What the contract suite needs from a store under test. */
export interface StoreContractSubject {
  /**
   * A store over the subject's backing state: a new instance over the same file or server each
   * call (the suite calls `close()` on one before asking for the next), or the same object again
   * for a store that lives in memory.
   */
  store(): Store;
  /** Removes the backing state after the test. */
  cleanup?(): Promise<void> | void;
}

/**
 * The behaviour every `Store` owes the broker (packages/broker/src/storage.ts): each change type
 * recorded, committed, closed and read back by `open()` of a fresh instance; queue order by seq,
 * in-flight order by first send with PUBREL flags, deletes, `deleteSession` cascading to all the
 * session's rows, and `close()` committing what is pending.
 *
 * ```ts
 * describeStoreContract('MemoryStore', () => { const m = new MemoryStore(); return { store: () => m }; });
 * ```
 */
export function describeStoreContract(
  name: string,
  makeSubject: () => StoreContractSubject | Promise<StoreContractSubject>,
): void {
  describe(`Store contract: ${name}`, () => {
    let cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
      cleanups = [];
    });

    /** An opened store, and `reopen()`: close it and open a fresh one over the same state. */
    async function start(): Promise<{ store: Store; initial: StoredState; reopen(): Promise<StoredState> }> {
      const subject = await makeSubject();
      let store = subject.store();
      let closed = false;
      cleanups.push(async () => {
        if (!closed) await store.close();
        await subject.cleanup?.();
      });
      const initial = await store.open();
      return {
        get store() {
          return store;
        },
        initial,
        async reopen() {
          await store.close();
          closed = true;
          store = subject.store();
          const state = await store.open();
          closed = false;
          return state;
        },
      };
    }

    it('opens empty', async () => {
      const { initial } = await start();
      expect(initial.sessions).toEqual([]);
      expect(initial.retained).toEqual([]);
      expect(initial.sysInfo).toBeUndefined();
    });

    it('commit calls done once, without an error', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      let calls = 0;
      let error: Error | undefined = new Error('not called');
      await new Promise<void>((resolve) => {
        t.store.commit((e) => {
          calls++;
          error = e;
          resolve();
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(calls).toBe(1);
      expect(error).toBeUndefined();
    });

    it('round-trips sessions with their wills', async () => {
      const t = await start();
      const online = session('online', { will: will('will/online', 0) });
      const offline = session('offline', {
        protocolVersion: 4,
        expiryInterval: 0xffffffff,
        disconnectedAt: Date.now() - 1000,
        pendingWill: { will: will('will/pending', 30), dueAt: Date.now() + 30_000 },
      });
      t.store.saveSession(online);
      t.store.saveSession(offline);
      // A later save replaces the earlier one.
      const resumed = { ...offline, expiryInterval: 7200 };
      t.store.saveSession(resumed);
      await commit(t.store);
      const state = await t.reopen();
      expect(sessionsOf(state)).toEqual([plainSession(resumed), plainSession(online)]);
    });

    it('round-trips subscriptions: added, replaced, deleted', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      t.store.saveSubscription('a', subscription('x/+', 1));
      t.store.saveSubscription('a', subscription('y/#', 2, 42));
      t.store.saveSubscription('a', subscription('z', 0));
      await commit(t.store);
      t.store.saveSubscription('a', { ...subscription('x/+', 2), noLocal: true, retainHandling: 2 });
      t.store.deleteSubscription('a', 'z');
      await commit(t.store);
      const state = await t.reopen();
      expect(byFilter(state.sessions[0]!.subscriptions)).toEqual([
        { ...subscription('x/+', 2), noLocal: true, retainHandling: 2 },
        subscription('y/#', 2, 42),
      ]);
    });

    it('gives the queue back in seq order, without dequeued messages', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      t.store.saveSession(session('b'));
      const sent: Delivery[] = [];
      for (let seq = 1; seq <= 6; seq++) {
        const d = withSeq(delivery(`q/${seq}`, seq % 3, seq === 2 ? [3, 7] : undefined), seq);
        sent.push(d);
        t.store.queueMessage('a', seq, d);
        t.store.queueMessage('b', seq, d);
      }
      await commit(t.store);
      t.store.dequeueMessage('a', 1);
      t.store.dequeueMessage('a', 4);
      t.store.queueMessage('a', 7, delivery('q/7', 1));
      t.store.dequeueMessage('a', 7); // queued and sent within one batch
      await commit(t.store);
      const state = await t.reopen();
      const a = state.sessions.find((s) => s.clientId === 'a')!;
      const b = state.sessions.find((s) => s.clientId === 'b')!;
      expect(a.queue.map(plainDelivery)).toEqual(
        [sent[1], sent[2], sent[4], sent[5]].map((d) => plainDelivery(d!)),
      );
      expect(b.queue.map(plainDelivery)).toEqual(sent.map(plainDelivery));
      // Each comes back with the seq it was queued under: the broker numbers on from the highest.
      expect(a.queue.map(seqOf)).toEqual([2, 3, 5, 6]);
      expect(b.queue.map(seqOf)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('keeps every part of a message: binary payload, properties, subscription identifiers', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      const message = storedMessage(
        'a/b/c',
        new Uint8Array([0, 1, 2, 255, 254, 0]),
        2,
        true,
        {
          payloadFormatIndicator: true,
          contentType: 'application/octet-stream',
          responseTopic: 'reply/here',
          correlationData: Buffer.from([9, 8, 7]),
          userProperties: [
            ['k', 'v1'],
            ['k', 'v2'],
            ['other', ''],
          ],
        },
        Date.now() + 3_600_000,
      );
      const d: Delivery = { message, qos: 1, retain: false, subscriptionIds: [1, 268_435_455] };
      t.store.queueMessage('a', 1, d);
      t.store.saveInflight('a', 9, d, false);
      await commit(t.store);
      const state = await t.reopen();
      expect(plainDelivery(state.sessions[0]!.queue[0]!)).toEqual(plainDelivery(d));
      expect(plainDelivery(state.sessions[0]!.inflight[0]!.delivery)).toEqual(plainDelivery(d));
    });

    it('gives in-flight messages back in sending order with their PUBREL flags', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      const d10 = delivery('f/10', 1);
      const d3 = delivery('f/3', 2);
      const d7 = delivery('f/7', 2);
      t.store.saveInflight('a', 10, d10, false);
      t.store.saveInflight('a', 3, d3, false);
      t.store.saveInflight('a', 7, d7, false);
      await commit(t.store);
      t.store.saveInflight('a', 3, d3, true); // PUBREC received: keeps its place
      await commit(t.store);
      let state = await t.reopen();
      expect(flows(state)).toEqual([
        [10, 'f/10', false],
        [3, 'f/3', true],
        [7, 'f/7', false],
      ]);
      t.store.deleteInflight('a', 10);
      t.store.saveInflight('a', 7, d7, true);
      await commit(t.store);
      t.store.saveInflight('a', 10, delivery('f/10b', 1), false); // the id used again: sent last
      await commit(t.store);
      state = await t.reopen();
      expect(flows(state)).toEqual([
        [3, 'f/3', true],
        [7, 'f/7', true],
        [10, 'f/10b', false],
      ]);
    });

    it('round-trips inbound QoS 2 packet ids', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      for (const id of [1, 2, 65535]) t.store.saveInboundQos2('a', id);
      await commit(t.store);
      t.store.deleteInboundQos2('a', 2);
      await commit(t.store);
      const state = await t.reopen();
      expect([...state.sessions[0]!.inboundQos2].sort((x, y) => x - y)).toEqual([1, 65535]);
    });

    it('round-trips retained messages: saved, replaced, deleted', async () => {
      const t = await start();
      t.store.saveRetained(retained('r/a', 'one'));
      t.store.saveRetained(retained('r/b', 'two'));
      t.store.saveRetained(retained('r/c', 'three'));
      await commit(t.store);
      t.store.saveRetained(retained('r/a', 'one again'));
      t.store.deleteRetained('r/b');
      await commit(t.store);
      const state = await t.reopen();
      expect(state.retained.map(plainMessage).sort((x, y) => x.topic.localeCompare(y.topic))).toEqual([
        plainMessage(retained('r/a', 'one again')),
        plainMessage(retained('r/c', 'three')),
      ]);
    });

    it('round-trips the $SYS counters', async () => {
      const t = await start();
      const info = sysInfo(1);
      t.store.saveSysInfo(info);
      t.store.saveSysInfo(sysInfo(2));
      await commit(t.store);
      const state = await t.reopen();
      expect(state.sysInfo).toMatchObject({ messagesReceived: 2, bytesSent: 2000, version: 'contract' });
    });

    it('deleteSession forgets the session and everything it had', async () => {
      const t = await start();
      fill(t.store, 'gone');
      fill(t.store, 'kept');
      await commit(t.store);
      t.store.deleteSession('gone');
      await commit(t.store);
      const state = await t.reopen();
      expect(state.sessions.map((s) => s.clientId)).toEqual(['kept']);
      const kept = state.sessions[0]!;
      expect([
        kept.subscriptions.length,
        kept.queue.length,
        kept.inflight.length,
        kept.inboundQos2.length,
      ]).toEqual([1, 1, 1, 1]);
    });

    it('a session deleted and created again in one batch keeps only what came after the delete', async () => {
      const t = await start();
      fill(t.store, 'a');
      await commit(t.store);
      fill(t.store, 'a', 'old/');
      t.store.deleteSession('a'); // clean start
      t.store.saveSession(session('a', { expiryInterval: 60 }));
      t.store.saveSubscription('a', subscription('new/#', 1));
      await commit(t.store);
      const state = await t.reopen();
      expect(state.sessions).toHaveLength(1);
      const a = state.sessions[0]!;
      expect(a.expiryInterval).toBe(60);
      expect(a.subscriptions.map((s) => s.topicFilter)).toEqual(['new/#']);
      expect([a.queue.length, a.inflight.length, a.inboundQos2.length]).toEqual([0, 0, 0]);
    });

    it('close() commits what is pending', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      t.store.queueMessage('a', 1, delivery('pending', 1));
      t.store.saveRetained(retained('r', 'pending'));
      const state = await t.reopen();
      expect(state.sessions[0]?.queue.map((d) => d.message.topic)).toEqual(['pending']);
      expect(state.retained.map((m) => m.topic)).toEqual(['r']);
    });

    it('keeps state across several reopenings', async () => {
      const t = await start();
      t.store.saveSession(session('a'));
      t.store.queueMessage('a', 1, delivery('one', 1));
      await commit(t.store);
      await t.reopen();
      t.store.queueMessage('a', 2, delivery('two', 1));
      await commit(t.store);
      await t.reopen();
      t.store.dequeueMessage('a', 1);
      await commit(t.store);
      const state = await t.reopen();
      expect(state.sessions[0]!.queue.map((d) => d.message.topic)).toEqual(['two']);
    });
  });
}

/**
 * A commit the broker would not mark urgent (only QoS 1 PUBACKs wait for it), which a store's
 * commit window may hold: `answered` turns true when it calls back, `done` resolves with its error.
 */
export function relaxedCommit(store: Store): { answered: boolean; done: Promise<Error | undefined> } {
  const commit = { answered: false, done: Promise.resolve<Error | undefined>(undefined) };
  commit.done = new Promise((resolve) =>
    store.commit((error) => {
      commit.answered = true;
      resolve(error);
    }, false),
  );
  return commit;
}

/** Commits and resolves when `done` is called; rejects with its error. */
export function commit(store: Store): Promise<void> {
  return new Promise((resolve, reject) => store.commit((error) => (error ? reject(error) : resolve())));
}

function session(clientId: string, fields: Partial<StoredSession> = {}): StoredSession {
  return {
    clientId,
    protocolVersion: 5,
    expiryInterval: 3600,
    disconnectedAt: 0,
    will: undefined,
    pendingWill: undefined,
    ...fields,
  };
}

function will(topic: string, delay: number): NonNullable<StoredSession['will']> {
  return {
    topic,
    payload: Buffer.from(`bye from ${topic}`),
    qos: 1,
    retain: true,
    properties: {
      ...(delay > 0 ? { willDelayInterval: delay } : {}),
      contentType: 'text/plain',
      userProperties: [['why', 'test']],
    },
  };
}

function subscription(topicFilter: string, qos: 0 | 1 | 2, id?: number): SessionSubscription {
  return {
    topicFilter,
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionIdentifier: id,
  };
}

function delivery(topic: string, qos: number, subscriptionIds?: number[]): Delivery {
  const q = (qos % 3) as 0 | 1 | 2;
  return {
    message: storedMessage(topic, Buffer.from(`payload of ${topic}`), q, false, undefined, 0),
    qos: q,
    retain: false,
    subscriptionIds,
  };
}

/**
 * The broker sets `delivery.seq` to the seq it queues the delivery under (`Store.queueMessage`),
 * and `open()` gives it back. Written through a cast so the suite also compiles against a `Delivery`
 * type from before the field.
 */
function withSeq(d: Delivery, seq: number): Delivery {
  (d as Delivery & { seq?: number }).seq = seq;
  return d;
}

function seqOf(d: Delivery): number | undefined {
  return (d as Delivery & { seq?: number }).seq;
}

function retained(topic: string, text: string): Message {
  return storedMessage(topic, Buffer.from(text), 1, true, { contentType: 'text/plain' }, 0);
}

function sysInfo(n: number): SysInfo {
  return {
    version: 'contract',
    started: 1_700_000_000_000,
    clientsConnected: n,
    clientsTotal: n,
    clientsMaximum: n,
    messagesReceived: n,
    messagesSent: n,
    bytesReceived: n * 1000,
    bytesSent: n * 1000,
    subscriptions: n,
    retained: n,
    inflight: n,
    publishDropped: n,
    connectionsTotal: n,
    connectionsRefused: n,
    readPauses: n,
    acksHeld: n,
    heldBytes: n,
    heldBytesPeak: n,
    stalledConsumers: n,
  };
}

/** One row of every kind for a session. */
function fill(store: Store, clientId: string, prefix = ''): void {
  store.saveSession(session(clientId));
  store.saveSubscription(clientId, subscription(`${prefix}${clientId}/#`, 1));
  store.queueMessage(clientId, 1, delivery(`${prefix}${clientId}/queued`, 1));
  store.saveInflight(clientId, 1, delivery(`${prefix}${clientId}/inflight`, 2), false);
  store.saveInboundQos2(clientId, 5);
}

// Stores may give back other objects than they were given (Buffers for Uint8Arrays, fields they
// do not keep defaulted): compare what a client could observe.

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function plainProperties(properties: Message['properties']): unknown {
  if (properties === undefined || Object.keys(properties).length === 0) return undefined;
  const { correlationData, ...rest } = properties;
  return correlationData === undefined ? rest : { ...rest, correlationData: hex(correlationData) };
}

function plainMessage(m: Message) {
  return {
    topic: m.topic,
    payload: hex(m.payload),
    qos: m.qos,
    retain: m.retain,
    properties: plainProperties(m.properties),
    expiresAt: m.expiresAt,
  };
}

function plainDelivery(d: Delivery) {
  return {
    message: plainMessage(d.message),
    qos: d.qos,
    retain: d.retain,
    subscriptionIds:
      d.subscriptionIds === undefined || d.subscriptionIds.length === 0 ? undefined : d.subscriptionIds,
  };
}

function plainWill(w: StoredSession['will']) {
  if (w === undefined) return undefined;
  return {
    topic: w.topic,
    payload: hex(w.payload),
    qos: w.qos,
    retain: w.retain,
    properties: plainProperties(w.properties),
  };
}

function plainSession(s: StoredSession) {
  return {
    clientId: s.clientId,
    protocolVersion: s.protocolVersion,
    expiryInterval: s.expiryInterval,
    disconnectedAt: s.disconnectedAt,
    will: plainWill(s.will),
    pendingWill:
      s.pendingWill === undefined
        ? undefined
        : { will: plainWill(s.pendingWill.will), dueAt: s.pendingWill.dueAt },
  };
}

function sessionsOf(state: StoredState) {
  return state.sessions.map(plainSession).sort((x, y) => x.clientId.localeCompare(y.clientId));
}

function byFilter(subscriptions: SessionSubscription[]): SessionSubscription[] {
  return subscriptions.map((s) => ({ ...s })).sort((x, y) => x.topicFilter.localeCompare(y.topicFilter));
}

function flows(state: StoredState): Array<[number, string, boolean]> {
  return state.sessions[0]!.inflight.map((f) => [f.packetId, f.delivery.message.topic, f.released]);
}
