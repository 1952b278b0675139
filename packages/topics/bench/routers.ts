import { Qlobber } from 'qlobber';
import QlobberSub from 'qlobber/aedes/qlobber-sub.js';
import { MatchBuffer, SubscriptionTrie } from '../src/index.ts';
import { MatchCache } from '../src/match-cache.ts';
import { AEDES_QLOBBER_OPTIONS, type Subscribe } from './workload.ts';

/** The operations the benchmark times, over each implementation. */
export interface Router {
  subscribe(s: Subscribe): void;
  unsubscribe(s: Subscribe): void;
  /**
   * Number of results for the topic. No implementation reads its results' fields: the figures are
   * for matching alone, producing the list a broker then delivers to (that work is the same
   * whichever matcher made the list).
   */
  match(topic: string): number;
}

export interface RouterKind {
  name: string;
  create(): Router;
}

/** Ours, doing what a broker does per PUBLISH: one walk for normal and shared subscribers. */
export const ours: RouterKind = {
  name: '@x/topics SubscriptionTrie',
  create() {
    const trie = new SubscriptionTrie();
    return {
      subscribe: (s) => {
        trie.subscribe(s.clientId, s.topicFilter, { qos: s.qos });
      },
      unsubscribe: (s) => {
        trie.unsubscribe(s.clientId, s.topicFilter);
      },
      match: (topic) => {
        const { matches, shared } = trie.matchAll(topic);
        return matches.length + shared.length;
      },
    };
  },
};

/** Ours through matchInto with a MatchBuffer the caller reuses, as a broker's PUBLISH loop would. */
export const oursInto: RouterKind = {
  name: '@x/topics matchInto',
  create() {
    const trie = new SubscriptionTrie();
    const buffer = new MatchBuffer();
    return {
      subscribe: (s) => {
        trie.subscribe(s.clientId, s.topicFilter, { qos: s.qos });
      },
      unsubscribe: (s) => {
        trie.unsubscribe(s.clientId, s.topicFilter);
      },
      match: (topic) => {
        return trie.matchInto(topic, buffer) + buffer.sharedCount;
      },
    };
  },
};

/** Ours behind the optional match cache (only worth it when topics repeat). */
export const oursCached: RouterKind = {
  name: '@x/topics + MatchCache',
  create() {
    const trie = new SubscriptionTrie();
    const cache = new MatchCache(trie, { maxEntries: 10_000 });
    return {
      subscribe: (s) => {
        trie.subscribe(s.clientId, s.topicFilter, { qos: s.qos });
      },
      unsubscribe: (s) => {
        trie.unsubscribe(s.clientId, s.topicFilter);
      },
      match: (topic) => {
        const { matches, shared } = cache.matchAll(topic);
        return matches.length + shared.length;
      },
    };
  },
};

/**
 * aedes-persistence's subscription index: QlobberSub (shipped with qlobber for Aedes), with the
 * options Aedes passes. Values are `{ clientId, topic, qos }`; one result per matching subscription.
 */
export const qlobberSub: RouterKind = {
  name: 'qlobber QlobberSub (aedes-persistence)',
  create() {
    const q = new QlobberSub(AEDES_QLOBBER_OPTIONS);
    return {
      subscribe: (s) => {
        q.add(s.topicFilter, { clientId: s.clientId, topic: s.topicFilter, qos: s.qos });
      },
      unsubscribe: (s) => {
        q.remove(s.topicFilter, { clientId: s.clientId, topic: s.topicFilter });
      },
      match: (topic) => {
        return q.match(topic).length;
      },
    };
  },
};

/**
 * mqemitter's matcher: a plain Qlobber with Aedes's options, one value per client (Aedes registers
 * one deliver function per client).
 */
export const qlobberPlain: RouterKind = {
  name: 'qlobber Qlobber (mqemitter)',
  create() {
    const q = new Qlobber<{ clientId: string }>(AEDES_QLOBBER_OPTIONS);
    const clients = new Map<string, { clientId: string }>();
    const clientValue = (clientId: string) => {
      let v = clients.get(clientId);
      if (v === undefined) {
        v = { clientId };
        clients.set(clientId, v);
      }
      return v;
    };
    return {
      subscribe: (s) => {
        q.add(s.topicFilter, clientValue(s.clientId));
      },
      unsubscribe: (s) => {
        q.remove(s.topicFilter, clientValue(s.clientId));
      },
      match: (topic) => q.match(topic).length,
    };
  },
};
