/**
 * The cluster's Redis keys and channels, all under the store's prefix (`mqtt:` by default):
 *
 * ```
 * <p>cluster:nodes               set     node ids that joined (alive or awaiting adoption)
 * <p>cluster:owners              hash    client id → node holding that session
 * <p>cluster:{<node>}:lease      string  the node's lease, with a TTL its heartbeat renews
 * <p>cluster:{<node>}:load       string  the node's load (JSON), written with each renewal
 * <p>cluster:{<node>}:summary    hash    topic filter → '1': what the node's sessions subscribe to
 * <p>cluster:{<node>}:wills      hash    client id → will of an online client (published if the node dies)
 * <p>cluster:{<node>}:stream     stream  QoS 1/2 messages for the node (consumer group 'nodes')
 * <p>cluster:{<node>}:bytes      string  bytes of the messages in that stream (bounded: maxStreamBytes)
 * <p>cluster:{<node>}:adopt      string  lock of the survivor adopting a dead node
 * <p>cluster:seen:<client>       zset    ids of the last QoS 2 messages from other nodes given to the session
 * channel <p>cluster:events      summary changes ('+'/'-' filter, node left)
 * channel <p>cluster:ok:<node>   the other nodes' confirmations of the node's '+' notices
 * channel <p>cluster:retained    retained message changes, to keep every node's memory current
 * channel <p>cluster:q0:<node>   QoS 0 messages for the node
 * channel <p>cluster:ctl:<node>  takeover requests and replies
 * channel <p>cluster:api:<node>  management requests (look up, kick) and replies
 * ```
 *
 * `{<node>}` is a Redis Cluster hash tag: a node's keys share one slot, so a command on several of
 * them (deleting a dead node's stream and wills at once) is allowed on a Redis Cluster, and the
 * nodes' streams spread over its masters. Every other command and script touches one key.
 * (Channels have no slot: classic pub/sub reaches every subscriber in a Redis Cluster.)
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
    return `${this.#p}{${node}}:lease`;
  }
  summary(node: string): string {
    return `${this.#p}{${node}}:summary`;
  }
  wills(node: string): string {
    return `${this.#p}{${node}}:wills`;
  }
  stream(node: string): string {
    return `${this.#p}{${node}}:stream`;
  }
  streamBytes(node: string): string {
    return `${this.#p}{${node}}:bytes`;
  }
  adopt(node: string): string {
    return `${this.#p}{${node}}:adopt`;
  }
  load(node: string): string {
    return `${this.#p}{${node}}:load`;
  }
  seen(clientId: string): string {
    return `${this.#p}seen:${clientId}`;
  }
  confirmations(node: string): string {
    return `${this.#p}ok:${node}`;
  }
  qos0(node: string): string {
    return `${this.#p}q0:${node}`;
  }
  control(node: string): string {
    return `${this.#p}ctl:${node}`;
  }
  api(node: string): string {
    return `${this.#p}api:${node}`;
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

/**
 * Appends a message to a node's stream within its byte budget: KEYS stream, byte counter; ARGV
 * budget, message size, message. Fails with `STREAM_FULL` rather than keep what cannot be bounded.
 */
export const APPEND_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used + tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  return redis.error_reply('STREAM_FULL ' .. KEYS[1] .. ' holds ' .. used .. ' bytes')
end
redis.call('INCRBY', KEYS[2], ARGV[2])
return redis.call('XADD', KEYS[1], '*', 'm', ARGV[3])`;

/**
 * Removes routed entries from a stream (acknowledged first when ARGV[1] names the group) and
 * takes their bytes off its counter: KEYS stream, byte counter; ARGV group or '', bytes, ids….
 */
export const REMOVE_SCRIPT = `
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
if ARGV[1] ~= '' then redis.call('XACK', KEYS[1], ARGV[1], unpack(ids)) end
redis.call('XDEL', KEYS[1], unpack(ids))
local left = redis.call('DECRBY', KEYS[2], ARGV[2])
if left <= 0 then redis.call('DEL', KEYS[2]) end
return left`;
