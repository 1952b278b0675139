import type { ShareStrategy, Subscription } from './types.js';

/**
 * Each member in turn. The position lives in the group (`cursor`), so one strategy function serves
 * every group and the order survives members leaving.
 */
export function roundRobin<TClientId = string>(): ShareStrategy<TClientId> {
  return (group, context) => {
    const members = group.members;
    const n = members.length;
    if (n === 0) return undefined;
    const start = group.cursor < n ? group.cursor : 0;
    const eligible = context.eligible;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const member = members[i]!;
      if (eligible !== undefined && !eligible(member)) continue;
      group.cursor = i + 1;
      return member;
    }
    return undefined;
  };
}

/** A uniformly random member. `rand` returns a number in [0, 1). Default: `Math.random`. */
export function random<TClientId = string>(rand: () => number = Math.random): ShareStrategy<TClientId> {
  return (group, context) => {
    const members = group.members;
    const n = members.length;
    if (n === 0) return undefined;
    const start = Math.floor(rand() * n);
    const eligible = context.eligible;
    if (eligible === undefined) return members[start];
    // From a random start, the next eligible member: uniform when every member is eligible.
    for (let k = 0; k < n; k++) {
      const member = members[(start + k) % n]!;
      if (eligible(member)) return member;
    }
    return undefined;
  };
}

/**
 * The member picked by a hash of the publisher's id, so one publisher's messages keep going to the
 * same member while the group is unchanged (ordering per publisher). Falls back to the topic name
 * when the publisher is unknown. Non-string ids are hashed through `String(id)` unless `key` says.
 */
export function hashOf<TClientId = string>(
  key: (publisherId: TClientId) => string = String,
): ShareStrategy<TClientId> {
  return (group, context) => {
    const members = group.members;
    if (members.length === 0) return undefined;
    const text = context.publisherId === undefined ? context.topicName : key(context.publisherId);
    return members[fnv1a(text) % members.length];
  };
}

/**
 * The member with the fewest messages in flight, as `getInflight(clientId)` reports; ties go round
 * robin so equal members share the load.
 */
export function fewestInflight<TClientId = string>(
  getInflight: (clientId: TClientId) => number,
): ShareStrategy<TClientId> {
  return (group) => {
    const members = group.members;
    const n = members.length;
    if (n === 0) return undefined;
    const start = group.cursor < n ? group.cursor : 0;
    let best: Subscription<TClientId> | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let bestAt = start;
    for (let k = 0; k < n; k++) {
      const at = (start + k) % n;
      const member = members[at]!;
      const load = getInflight(member.clientId);
      if (load < bestLoad) {
        best = member;
        bestLoad = load;
        bestAt = at;
      }
    }
    group.cursor = bestAt + 1;
    return best;
  };
}

/** Unsigned 32-bit FNV-1a over UTF-16 code units: cheap, stable across runs and processes. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
