/**
 * Every way a topic name, topic filter or subscription can be refused. Each entry names the spec
 * clause it enforces and, where MQTT 5 has one, the reason code a broker sends back (0x90 Topic Name
 * invalid in PUBACK/PUBREC/DISCONNECT, 0x8F Topic Filter invalid in SUBACK/UNSUBACK, 0x82 Protocol
 * Error, 0x9E Shared Subscriptions not supported).
 */
export const TOPIC_ERRORS = {
  TOPIC_NAME_EMPTY: { clause: 'MQTT-4.7.3-1', reasonCode: 0x90, message: 'topic name is empty' },
  TOPIC_NAME_WILDCARD: {
    clause: 'MQTT-4.7.0-1',
    reasonCode: 0x90,
    message: 'topic name contains a wildcard character',
  },
  TOPIC_NAME_NULL_CHARACTER: {
    clause: 'MQTT-4.7.3-2',
    reasonCode: 0x90,
    message: 'topic name contains U+0000',
  },
  TOPIC_NAME_TOO_LONG: {
    clause: 'MQTT-4.7.3-3',
    reasonCode: 0x90,
    message: 'topic name encodes to more than 65535 bytes',
  },
  TOPIC_NAME_INVALID_UTF8: {
    clause: 'MQTT-1.5.4-1',
    reasonCode: 0x90,
    message: 'topic name contains a lone surrogate (not well-formed UTF-8)',
  },
  TOPIC_NAME_TOO_DEEP: {
    clause: undefined,
    reasonCode: 0x90,
    message: 'topic name has more levels than the configured maximum',
  },
  TOPIC_FILTER_EMPTY: { clause: 'MQTT-4.7.3-1', reasonCode: 0x8f, message: 'topic filter is empty' },
  TOPIC_FILTER_MULTI_LEVEL_WILDCARD: {
    clause: 'MQTT-4.7.1-1',
    reasonCode: 0x8f,
    message: "'#' must be the last character and occupy a whole level",
  },
  TOPIC_FILTER_SINGLE_LEVEL_WILDCARD: {
    clause: 'MQTT-4.7.1-2',
    reasonCode: 0x8f,
    message: "'+' must occupy a whole level",
  },
  TOPIC_FILTER_NULL_CHARACTER: {
    clause: 'MQTT-4.7.3-2',
    reasonCode: 0x8f,
    message: 'topic filter contains U+0000',
  },
  TOPIC_FILTER_TOO_LONG: {
    clause: 'MQTT-4.7.3-3',
    reasonCode: 0x8f,
    message: 'topic filter encodes to more than 65535 bytes',
  },
  TOPIC_FILTER_INVALID_UTF8: {
    clause: 'MQTT-1.5.4-1',
    reasonCode: 0x8f,
    message: 'topic filter contains a lone surrogate (not well-formed UTF-8)',
  },
  TOPIC_FILTER_TOO_DEEP: {
    clause: undefined,
    reasonCode: 0x8f,
    message: 'topic filter has more levels than the configured maximum',
  },
  SHARE_NAME_EMPTY: {
    clause: 'MQTT-4.8.2-1',
    reasonCode: 0x8f,
    message: 'shared subscription has an empty ShareName',
  },
  SHARE_NAME_INVALID: {
    clause: 'MQTT-4.8.2-2',
    reasonCode: 0x8f,
    message: "ShareName contains '+' or '#'",
  },
  SHARED_FILTER_MISSING: {
    clause: 'MQTT-4.8.2-2',
    reasonCode: 0x8f,
    message: "ShareName must be followed by '/' and a topic filter",
  },
  SHARED_NO_LOCAL: {
    clause: 'MQTT-3.8.3-4',
    reasonCode: 0x82,
    message: 'No Local must not be set on a shared subscription',
  },
  SHARED_NOT_SUPPORTED: {
    clause: undefined,
    reasonCode: 0x9e,
    message: 'shared subscriptions are not allowed here',
  },
  INVALID_SUBSCRIPTION_OPTION: {
    clause: undefined,
    reasonCode: 0x82,
    message: 'subscription option out of range',
  },
} as const;

/** One of the keys of {@link TOPIC_ERRORS}. */
export type TopicErrorCode = keyof typeof TOPIC_ERRORS;

/**
 * Thrown for an invalid topic name, topic filter or subscription option. `code` is stable and
 * documented in {@link TOPIC_ERRORS}; `reasonCode` is what a broker should answer with.
 */
export class TopicError extends Error {
  /** Stable machine-readable code, a key of {@link TOPIC_ERRORS}. */
  readonly code: TopicErrorCode;
  /** The spec rule that was broken, e.g. `MQTT-4.7.1-1`; undefined for configured limits. */
  readonly clause: string | undefined;
  /** MQTT 5 reason code for the refusal (0x90, 0x8F, 0x82 or 0x9E). */
  readonly reasonCode: number;
  /** The offending topic name or filter. */
  readonly topic: string;
  /** UTF-16 offset in `topic` where the problem was found, when there is one. */
  readonly offset: number | undefined;

  constructor(code: TopicErrorCode, topic: string, offset?: number, detail?: string) {
    const entry = TOPIC_ERRORS[code];
    const where = offset === undefined ? '' : ` at offset ${offset}`;
    const shown = topic.length > 80 ? `${topic.slice(0, 77)}...` : topic;
    super(
      `${entry.message}${where}${detail ? ` (${detail})` : ''}: ${JSON.stringify(shown)}${entry.clause ? ` [${entry.clause}]` : ''}`,
    );
    this.name = 'TopicError';
    this.code = code;
    this.clause = entry.clause;
    this.reasonCode = entry.reasonCode;
    this.topic = topic;
    this.offset = offset;
  }
}
