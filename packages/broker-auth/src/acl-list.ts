import { filtersOverlap } from '@x/topics';
import { expandFilter, filterCovers, topicMatches } from './filters.js';
import { Access } from './types.js';

/** One ACL line: a topic filter (with optional `%u` / `%c` placeholders) and what it grants. */
export interface AclEntry {
  filter: string;
  access: Access;
  /** Take `%u` / `%c` literally (Mosquitto's `topic` lines; only `pattern` lines substitute). */
  literal?: boolean;
}

/** Not authorized, the refusal code of every {@link AclList} check. */
const NOT_AUTHORIZED = 0x87;

/**
 * The ACL of one client, evaluated the way Mosquitto evaluates its `acl_file`: a `deny` entry
 * matching the topic refuses, whatever else matches; otherwise any entry granting the access
 * allows; nothing matching refuses. (The ledger's rules are first-match instead; this list is what
 * the Mosquitto files and the remote backends produce, where a user's entries are a set, not an
 * ordered list.)
 *
 * Placeholders are expanded once, for the client the list is built for; an entry whose
 * placeholder has no safe value for that client (a user name with `/`, `+` or `#`, no user name
 * for `%u`) is left out.
 */
export class AclList {
  readonly #deny: string[] = [];
  readonly #read: string[] = [];
  readonly #write: string[] = [];

  /** Compiles `entries` for the client with this id and user name. */
  constructor(entries: Iterable<AclEntry>, clientId: string, username: string | undefined) {
    for (const { filter, access, literal } of entries) {
      const expanded = literal ? filter : expandFilter(filter, clientId, username);
      if (expanded === undefined) continue;
      if (access === Access.deny) this.#deny.push(expanded);
      if (access === Access.read || access === Access.readwrite) this.#read.push(expanded);
      if (access === Access.write || access === Access.readwrite) this.#write.push(expanded);
    }
  }

  /** Number of expanded filters held, for size limits. */
  get size(): number {
    return this.#deny.length + this.#read.length + this.#write.length;
  }

  /** Whether the client may publish to the topic name `topic`. */
  canWrite(topic: string): boolean {
    return !anyMatches(this.#deny, topic) && anyMatches(this.#write, topic);
  }

  /** Whether the client may receive a message published to `topic` (checked per delivery). */
  canRead(topic: string): boolean {
    return !anyMatches(this.#deny, topic) && anyMatches(this.#read, topic);
  }

  /**
   * Whether the client may subscribe to `filter`. No deny entry may cover it whole. With `partial`
   * false, some read entry must cover every topic it can match; with `partial` true, it is enough
   * that some read entry shares a topic with it (`#` under `read a/#` and `read b/#`), which is only
   * safe when every delivery is checked with {@link canRead}, as the hooks do by default. Mosquitto
   * grants every SUBSCRIBE and filters deliveries only; refusing a filter that can never deliver
   * anything tells the client at once.
   */
  canSubscribe(filter: string, partial = false): boolean {
    if (this.#deny.some((deny) => filterCovers(deny, filter))) return false;
    return this.#read.some((read) => (partial ? filtersOverlap(read, filter) : filterCovers(read, filter)));
  }

  /**
   * The answer for the broker's `onAclCheck`: `read` is a SUBSCRIBE filter, `write` a PUBLISH topic.
   * `partial` as in {@link canSubscribe}.
   */
  check(topic: string, access: 'read' | 'write', partial = false): true | number {
    return (access === 'write' ? this.canWrite(topic) : this.canSubscribe(topic, partial)) || NOT_AUTHORIZED;
  }
}

/** Whether a filter of `filters` matches `topic`; a loop, as it runs per PUBLISH and delivery. */
function anyMatches(filters: string[], topic: string): boolean {
  for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i]!, topic)) return true;
  return false;
}

/** Parses an access word as written in ACL files and backend rows; undefined when unknown. */
export function parseAccess(value: unknown): Access | undefined {
  if (typeof value === 'number') {
    // The numeric form used by several auth databases: 1 read, 2 write, 3 both, 0 deny.
    return ([Access.deny, Access.read, Access.write, Access.readwrite] as const)[value];
  }
  if (typeof value !== 'string') return undefined;
  const word = value.trim().toLowerCase();
  if (word === 'deny' || word === 'read' || word === 'write' || word === 'readwrite') return word;
  if (word === 'subscribe' || word === 'sub') return Access.read;
  if (word === 'publish' || word === 'pub') return Access.write;
  if (/^\d$/.test(word)) return parseAccess(Number(word));
  return undefined;
}

/** Whether `filter` is a well-formed MQTT topic filter (placeholders allowed). */
export function validAclFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65_535) return false;
  const levels = filter.split('/');
  return levels.every(
    (level, i) =>
      (level === '#' && i === levels.length - 1) ||
      level === '+' ||
      (!level.includes('#') && !level.includes('+') && !level.includes('\0')),
  );
}
