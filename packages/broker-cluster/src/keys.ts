/**
 * The cluster's Redis keys and channels, all under the store's prefix (`mqtt:` by default):
 *
 * ```
 * <p>cluster:nodes              set     node ids that joined (alive or awaiting adoption)
 * <p>cluster:lease:<node>       string  the node's lease, with a TTL its heartbeat renews
 * <p>cluster:summary:<node>     hash    topic filter → '1': what the node's sessions subscribe to
 * <p>cluster:owners             hash    client id → node holding that session
 * <p>cluster:wills:<node>       hash    client id → will of an online client (published if the node dies)
 * <p>cluster:stream:<node>      stream  QoS 1/2 messages for the node (consumer group 'nodes')
 * <p>cluster:adopt:<node>       string  lock of the survivor adopting a dead node
 * channel <p>cluster:events     summary changes ('+'/'-' filter, node left)
 * channel <p>cluster:retained   retained message changes, to keep every node's memory current
 * channel <p>cluster:q0:<node>  QoS 0 messages for the node
 * channel <p>cluster:ctl:<node> takeover requests and replies
 * ```
 */
export class ClusterKeys {
  readonly nodes: string;
  readonly owners: string;
  readonly events: string;
  readonly retained: string;
  readonly #p: string;

  constructor(prefix: string) {
    this.#p = `${prefix}cluster:`;
    this.nodes = `${this.#p}nodes`;
    this.owners = `${this.#p}owners`;
    this.events = `${this.#p}events`;
    this.retained = `${this.#p}retained`;
  }

  lease(node: string): string {
    return `${this.#p}lease:${node}`;
  }
  summary(node: string): string {
    return `${this.#p}summary:${node}`;
  }
  wills(node: string): string {
    return `${this.#p}wills:${node}`;
  }
  stream(node: string): string {
    return `${this.#p}stream:${node}`;
  }
  adopt(node: string): string {
    return `${this.#p}adopt:${node}`;
  }
  qos0(node: string): string {
    return `${this.#p}q0:${node}`;
  }
  control(node: string): string {
    return `${this.#p}ctl:${node}`;
  }
}

/** The consumer group every node reads its own stream with. */
export const GROUP = 'nodes';

/** Sets a session's owner and returns the previous one (nil when none). */
export const CLAIM_SCRIPT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return old`;

/** Moves a session's ownership from ARGV[2] to ARGV[3] only if ARGV[2] still owns it; 1 when moved. */
export const MOVE_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

/** Deletes a session's owner entry only if ARGV[2] still owns it. */
export const DISOWN_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;
