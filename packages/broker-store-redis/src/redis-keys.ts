import { RedisStoreError } from './errors.js';

/**
 * The layout version this code writes and reads, stored under `<prefix>format`. 1 was the layout of
 * the hook-based store (queues as lists, no version key); 2 keeps queues as hashes keyed by seq.
 */
export const FORMAT_VERSION = 2;

/**
 * The keys of one store, all under its prefix:
 *
 * ```
 * <prefix>format              string  layout version (FORMAT_VERSION)
 * <prefix>clients             hash    client id → session record (JSON)
 * <prefix>retained            hash    topic → message record
 * <prefix>sys                 hash    counter → value
 * <prefix>subs:{<id>}         hash    topic filter → subscription options (JSON)
 * <prefix>queue:{<id>}        hash    seq → delivery record
 * <prefix>inflight:{<id>}     hash    packet id → delivery record (with its PUBREL flag)
 * <prefix>qos2in:{<id>}       set     inbound QoS 2 packet ids awaiting PUBREL
 * ```
 *
 * `{<id>}` is a Redis Cluster hash tag: the four keys of a session hash to one slot, so a
 * transaction touching several of them is allowed on a cluster. A tag ends at the first `}`, and an
 * empty tag hashes the whole key, so ids containing `}` use the tag `{#}` followed by the id
 * (`subs:{#}a}b`): all such sessions share a slot, and the keys stay distinct (they have two `}`
 * after the prefix where the others have one).
 */
export class StoreKeys {
  readonly prefix: string;
  readonly format: string;
  readonly clients: string;
  readonly retained: string;
  readonly sys: string;

  constructor(prefix: string) {
    // A prefix may carry a complete hash tag ('{mqtt}:' puts everything in one slot), but a lone
    // brace would make the per-session tags start or end inside the prefix.
    if (/[{}]/.test(prefix) && !/^[^{}]*\{[^{}]+\}[^{}]*$/.test(prefix)) {
      throw new RedisStoreError(
        'BAD_OPTION',
        `prefix ${JSON.stringify(prefix)}: braces only as one complete hash tag ('{name}…')`,
      );
    }
    this.prefix = prefix;
    this.format = `${prefix}format`;
    this.clients = `${prefix}clients`;
    this.retained = `${prefix}retained`;
    this.sys = `${prefix}sys`;
  }

  /** The hash-tagged part of a session's keys. */
  static tag(clientId: string): string {
    return clientId.includes('}') ? `{#}${clientId}` : `{${clientId}}`;
  }

  subs(clientId: string): string {
    return `${this.prefix}subs:${StoreKeys.tag(clientId)}`;
  }

  queue(clientId: string): string {
    return `${this.prefix}queue:${StoreKeys.tag(clientId)}`;
  }

  inflight(clientId: string): string {
    return `${this.prefix}inflight:${StoreKeys.tag(clientId)}`;
  }

  qos2in(clientId: string): string {
    return `${this.prefix}qos2in:${StoreKeys.tag(clientId)}`;
  }

  /** Every per-session key, for deleting a session. */
  sessionKeys(clientId: string): [string, string, string, string] {
    return [this.subs(clientId), this.queue(clientId), this.inflight(clientId), this.qos2in(clientId)];
  }
}

/** The $SYS figures that accumulate over the broker's life (the others are derived at runtime). */
export const SYS_COUNTERS = [
  'messagesReceived',
  'messagesSent',
  'bytesReceived',
  'bytesSent',
  'clientsMaximum',
  'publishDropped',
  'connectionsTotal',
] as const;
