import type { Message } from '@x/broker';
import type { RemoteMatch } from './summary.js';

/**
 * Shared subscriptions balanced over nodes: the accepting node picks one node per matching share
 * group (`<ShareName>/<filter>`) and message, in turn over the nodes holding members (itself
 * included), and tells the picked node which groups it serves; the other nodes leave the group
 * alone (the core's `onShareGroup` gate).
 */
export class ShareGroups {
  readonly #nodeId: string;
  /** Round-robin position per share group over the nodes holding members. */
  readonly #cursor = new Map<string, number>();
  /** Messages received from other nodes, with the share groups this node is to serve. */
  readonly #serving = new WeakMap<Message, ReadonlySet<string>>();

  constructor(nodeId: string) {
    this.#nodeId = nodeId;
  }

  /** One node per matching share group, in turn over the nodes holding members. */
  pick(match: RemoteMatch): Map<string, string> {
    const shares = new Map<string, string>();
    for (const group of match.groups) {
      const key = `${group.shareName}/${group.topicFilter}`;
      const members = group.members;
      if (members.length === 0) continue;
      const cursor = this.#cursor.get(key) ?? 0;
      this.#cursor.set(key, cursor + 1);
      shares.set(key, members[cursor % members.length]!.clientId);
    }
    return shares;
  }

  /** A message from another node serves these groups here (and no others). */
  received(message: Message, shares: readonly string[]): void {
    this.#serving.set(message, new Set(shares));
  }

  /**
   * The `onShareGroup` gate: whether this node delivers `message` to the group. `picked` gives the
   * node chosen for a message accepted here.
   */
  serves(message: Message, key: string, picked: () => string | undefined): boolean {
    const serving = this.#serving.get(message);
    if (serving !== undefined) return serving.has(key);
    const node = picked();
    return node === undefined || node === this.#nodeId;
  }
}
