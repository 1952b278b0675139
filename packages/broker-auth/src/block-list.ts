import type { Broker, ClientInfo, ConnectionInfo, Hook } from '@x/broker';
import { type ConnectPacket, ReasonCode } from '@x/packets';
import { addressWithoutPort } from './hook.js';
import { compileRemote, remotePatternError } from './remote.js';

/** One block-list entry: exactly one of client id, user name or remote address (IP or CIDR). */
export interface BlockEntry {
  id: number;
  clientId?: string;
  username?: string;
  remote?: string;
  /** Epoch ms of the addition. */
  addedAt: number;
  reason?: string;
}

export type BlockInput = { clientId?: unknown; username?: unknown; remote?: unknown; reason?: unknown };

/**
 * Refuses connections from blocked addresses before any packet (onAccept), and CONNECTs from blocked
 * client ids or user names with 0x8A Banned (onConnect). Adding an entry disconnects the matching
 * clients already connected.
 */
export class BlockListHook implements Hook {
  readonly id = 'block-list';
  readonly #entries = new Map<number, BlockEntry & { matchRemote?: (address: string) => boolean }>();
  #next = 1;

  list(): BlockEntry[] {
    return [...this.#entries.values()].map(({ matchRemote: _, ...entry }) => entry);
  }

  /** Validates and adds an entry; throws a `TypeError` with the reason when it is malformed. */
  add(input: BlockInput, broker?: Broker): BlockEntry {
    const keys = (['clientId', 'username', 'remote'] as const).filter((k) => input[k] !== undefined);
    if (keys.length !== 1) throw new TypeError('give exactly one of clientId, username or remote');
    const key = keys[0]!;
    const value = input[key];
    if (typeof value !== 'string' || value === '') throw new TypeError(`${key} must be a non-empty string`);
    if (input.reason !== undefined && typeof input.reason !== 'string')
      throw new TypeError('reason must be a string');
    if (key === 'remote') {
      const error = remotePatternError(value);
      if (error) throw new TypeError(error);
    }
    const entry: BlockEntry = { id: this.#next++, [key]: value, addedAt: Date.now() };
    if (typeof input.reason === 'string') entry.reason = input.reason;
    this.#entries.set(entry.id, key === 'remote' ? { ...entry, matchRemote: compileRemote(value) } : entry);
    if (broker) {
      for (const session of broker.sessions.values()) {
        const client = session.client;
        // 0x8A Banned is a CONNACK code only; a live connection is ended with 0x98 Administrative action.
        if (client?.state === 'connected' && this.#blocked(client))
          broker.kick(session.clientId, ReasonCode.AdministrativeAction);
      }
    }
    return entry;
  }

  remove(id: number): boolean {
    return this.#entries.delete(id);
  }

  #blocked(client: ClientInfo): boolean {
    const remote = addressWithoutPort(client.remoteAddress);
    for (const entry of this.#entries.values()) {
      if (entry.clientId !== undefined && entry.clientId === client.id) return true;
      if (entry.username !== undefined && entry.username === client.username) return true;
      if (entry.matchRemote?.(remote)) return true;
    }
    return false;
  }

  onAccept(info: ConnectionInfo): boolean | undefined {
    if (this.#entries.size === 0) return undefined;
    const remote = addressWithoutPort(info.remoteAddress);
    for (const entry of this.#entries.values()) if (entry.matchRemote?.(remote)) return false;
    return undefined;
  }

  onConnect(client: ClientInfo, _packet: ConnectPacket): number | undefined {
    if (this.#entries.size === 0) return undefined;
    return this.#blocked(client) ? ReasonCode.Banned : undefined;
  }
}
