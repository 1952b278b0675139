import type { Message } from '@x/broker';

/**
 * A message as it crosses from one node to another: a 4-byte header length, the header as JSON
 * (topic, QoS, retain flag, origin client id for No Local, expiry, v5 properties, the share groups
 * the receiving node is to serve, the message's cluster-wide id, the sessions a handoff copy is
 * for), then the payload
 * as raw bytes. Correlation Data, the one binary property, travels as base64.
 *
 * ```
 * ┌──────────────┬──────────────────────────────────────────┬─────────┐
 * │ u32 BE  len  │ {"t":topic,"q":1,"r":0,"o":"pub","e":0,…} │ payload │
 * └──────────────┴──────────────────────────────────────────┴─────────┘
 * ```
 */
export function encodeMessage(message: Message, shares?: readonly string[], meta?: ForwardMeta): Buffer {
  const properties = message.properties;
  const header: Header = {
    t: message.topic,
    q: message.qos,
    r: message.retain ? 1 : 0,
    o: message.origin,
    e: message.expiresAt,
  };
  if (shares !== undefined && shares.length > 0) header.s = [...shares];
  if (meta?.id !== undefined) header.i = meta.id;
  if (meta?.only !== undefined) header.n = [...meta.only];
  if (properties !== undefined) {
    const { correlationData, ...rest } = properties;
    header.p = rest;
    if (correlationData !== undefined) header.c = Buffer.from(correlationData).toString('base64');
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(4 + json.length + message.payload.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  out.set(message.payload, 4 + json.length);
  return out;
}

/** The message `encodeMessage` wrote; its payload is a private copy (owned). */
export function decodeMessage(bytes: Buffer): Message {
  return decodeForwarded(bytes).message;
}

/**
 * The message and the share groups (`<ShareName>/<filter>`) the receiving node is to serve: the
 * accepting node picks one node per group, and the others leave that group alone.
 */
export function decodeForwarded(bytes: Buffer): {
  message: Message;
  shares: readonly string[];
} & ForwardMeta {
  if (bytes.length < 4) throw new RangeError(`cluster message of ${bytes.length} bytes: no header`);
  const length = bytes.readUInt32BE(0);
  if (4 + length > bytes.length) {
    throw new RangeError(
      `cluster message header of ${length} bytes overruns the ${bytes.length}-byte record`,
    );
  }
  const header = JSON.parse(bytes.subarray(4, 4 + length).toString()) as Header;
  let properties: Message['properties'] = header.p as Message['properties'];
  if (header.c !== undefined)
    properties = { ...properties, correlationData: Buffer.from(header.c, 'base64') };
  const message: Message = {
    topic: header.t,
    payload: Buffer.from(bytes.subarray(4 + length)),
    qos: header.q,
    retain: header.r === 1,
    properties,
    expiresAt: header.e,
    origin: header.o,
    owned: true,
  };
  return {
    message,
    shares: header.s ?? [],
    ...(header.i !== undefined ? { id: header.i } : {}),
    ...(header.n !== undefined ? { only: header.n } : {}),
  };
}

/** What travels with a forwarded message besides the message. */
export interface ForwardMeta {
  /** The message's cluster-wide id, given by the node that accepted it (duplicates are dropped by it). */
  id?: string;
  /** Deliver to these sessions only (a copy re-sent to a session's new node during a handoff). */
  only?: readonly string[];
}

interface Header {
  t: string;
  q: 0 | 1 | 2;
  r: 0 | 1;
  o: string;
  e: number;
  p?: object;
  c?: string;
  /** Share groups the receiving node serves. */
  s?: string[];
  /** Message id. */
  i?: string;
  /** Only these sessions. */
  n?: string[];
}
