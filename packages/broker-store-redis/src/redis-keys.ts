import type { RespArg, RespValue } from './resp.js';

/**
 * The keys of one store, all under its prefix: `clients` (hash: client id → session), `subs:<id>`
 * (hash: filter → options), `queue:<id>` (list of messages), `inflight:<id>` (hash: packet id →
 * message), `retained` (hash: topic → message), `sys` (hash: counter → value).
 */
export class StoreKeys {
  readonly prefix: string;
  readonly clients: string;
  readonly retained: string;
  readonly sys: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.clients = `${prefix}clients`;
    this.retained = `${prefix}retained`;
    this.sys = `${prefix}sys`;
  }

  subs(clientId: string): string {
    return `${this.prefix}subs:${clientId}`;
  }

  queue(clientId: string): string {
    return `${this.prefix}queue:${clientId}`;
  }

  inflight(clientId: string): string {
    return `${this.prefix}inflight:${clientId}`;
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

/** Most arguments per RPUSH/HSET when a whole session or queue is written (even: HSET pairs). */
const BATCH = 1000;

/** Appends `command key a b c …` as commands of at most BATCH arguments (none when `args` is empty). */
export function batched(out: RespArg[][], command: string, key: string, args: RespArg[]): void {
  for (let i = 0; i < args.length; i += BATCH) out.push([command, key, ...args.slice(i, i + BATCH)]);
}

/** The field/value pairs of an HGETALL reply. */
export function* pairs(reply: RespValue): Generator<[string, Buffer]> {
  if (!Array.isArray(reply)) return;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const field = reply[i];
    const value = reply[i + 1];
    if (Buffer.isBuffer(field) && Buffer.isBuffer(value)) yield [field.toString(), value];
  }
}

/** The bulk strings of an array reply (HKEYS, LRANGE) as text. */
export function strings(reply: RespValue): string[] {
  if (!Array.isArray(reply)) return [];
  const out: string[] = [];
  for (const v of reply) if (Buffer.isBuffer(v)) out.push(v.toString());
  return out;
}
