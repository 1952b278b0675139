import { TopicError, type TopicErrorCode } from './errors.js';

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const MAX_BYTES = 65_535;
const SHARE_PREFIX = '$share/';

/** Options of the validators. */
export interface ValidateOptions {
  /**
   * Most topic levels accepted. The spec sets no limit; a broker sets one so that no recursion over
   * levels can run away. Default: `Infinity`.
   */
  maxLevels?: number;
}

/** Options of {@link validateTopicFilter}. */
export interface ValidateFilterOptions extends ValidateOptions {
  /** Accept `$share/{ShareName}/{filter}` (MQTT 5 shared subscriptions). Default: `true`. */
  allowShared?: boolean;
}

/** A parsed `$share/{ShareName}/{filter}` subscription. */
export interface SharedFilter {
  /** The ShareName: at least one character, no `/`, `+` or `#`. */
  shareName: string;
  /** The topic filter after the ShareName, which is what topics are matched against. */
  topicFilter: string;
}

interface Codes {
  empty: TopicErrorCode;
  tooLong: TopicErrorCode;
  nul: TopicErrorCode;
  utf8: TopicErrorCode;
  deep: TopicErrorCode;
}
const NAME_CODES: Codes = {
  empty: 'TOPIC_NAME_EMPTY',
  tooLong: 'TOPIC_NAME_TOO_LONG',
  nul: 'TOPIC_NAME_NULL_CHARACTER',
  utf8: 'TOPIC_NAME_INVALID_UTF8',
  deep: 'TOPIC_NAME_TOO_DEEP',
};
const FILTER_CODES: Codes = {
  empty: 'TOPIC_FILTER_EMPTY',
  tooLong: 'TOPIC_FILTER_TOO_LONG',
  nul: 'TOPIC_FILTER_NULL_CHARACTER',
  utf8: 'TOPIC_FILTER_INVALID_UTF8',
  deep: 'TOPIC_FILTER_TOO_DEEP',
};

/**
 * One pass over `text` from `from` (a level start) for the rules shared by names and filters: U+0000,
 * lone surrogates, wildcard placement (`filter`) or absence (names), level count. Returns the UTF-8
 * length of the scanned part so the caller can apply the 65 535-byte limit to the whole string.
 */
function scan(text: string, codes: Codes, filter: boolean, maxLevels: number, from = 0): number {
  const n = text.length;
  // [MQTT-4.7.3-1]
  if (n === from) throw new TopicError(codes.empty, text);
  let bytes = 0;
  let levels = 1;
  for (let i = from; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) {
        levels++;
      } else if (c === 0) {
        throw new TopicError(codes.nul, text, i); // [MQTT-4.7.3-2]
      } else if (c === PLUS || c === HASH) {
        if (!filter) throw new TopicError('TOPIC_NAME_WILDCARD', text, i); // [MQTT-4.7.0-1]
        const before = i === from ? SLASH : text.charCodeAt(i - 1);
        const after = i + 1 === n ? SLASH : text.charCodeAt(i + 1);
        if (c === HASH) {
          // [MQTT-4.7.1-1]
          if (before !== SLASH || i + 1 !== n)
            throw new TopicError('TOPIC_FILTER_MULTI_LEVEL_WILDCARD', text, i);
        } else if (before !== SLASH || after !== SLASH) {
          throw new TopicError('TOPIC_FILTER_SINGLE_LEVEL_WILDCARD', text, i); // [MQTT-4.7.1-2]
        }
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A surrogate is only well-formed as a high one followed by a low one: that pair is one
      // 4-byte UTF-8 sequence. A lone one has no UTF-8 encoding. [MQTT-1.5.4-1]
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) throw new TopicError(codes.utf8, text, i);
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
  }
  if (levels > maxLevels)
    throw new TopicError(codes.deep, text, undefined, `${levels} levels > ${maxLevels}`);
  return bytes;
}

function checkLength(text: string, bytes: number, codes: Codes): void {
  // [MQTT-4.7.3-3]
  if (bytes > MAX_BYTES) throw new TopicError(codes.tooLong, text, undefined, `${bytes} bytes`);
}

/**
 * Checks a topic name (what a PUBLISH carries): non-empty, no `+` or `#`, no U+0000, well-formed
 * UTF-8 of at most 65 535 bytes. Empty levels (`a//b`, `/a`) are allowed.
 * @throws {TopicError} with the broken rule's `code`, `clause` and `reasonCode` 0x90.
 */
export function validateTopicName(topicName: string, options?: ValidateOptions): void {
  const bytes = scan(topicName, NAME_CODES, false, options?.maxLevels ?? Number.POSITIVE_INFINITY);
  checkLength(topicName, bytes, NAME_CODES);
}

/**
 * Checks a topic filter (what a SUBSCRIBE or UNSUBSCRIBE carries): non-empty, `#` only as the whole
 * last level, `+` only as a whole level, no U+0000, well-formed UTF-8 of at most 65 535 bytes, and,
 * for `$share/{ShareName}/{filter}`, the shared subscription rules (section 4.8.2).
 * @throws {TopicError} with the broken rule's `code`, `clause` and `reasonCode` (0x8F, or 0x9E when
 * `allowShared` is false and the filter is shared).
 */
export function validateTopicFilter(topicFilter: string, options?: ValidateFilterOptions): void {
  const maxLevels = options?.maxLevels ?? Number.POSITIVE_INFINITY;
  if (topicFilter.startsWith(SHARE_PREFIX)) {
    if (options?.allowShared === false) throw new TopicError('SHARED_NOT_SUPPORTED', topicFilter);
    // parseShared validates the whole string, ShareName and inner filter.
    parseShared(topicFilter, maxLevels);
    return;
  }
  checkLength(topicFilter, scan(topicFilter, FILTER_CODES, true, maxLevels), FILTER_CODES);
}

/** Like {@link validateTopicName} but returns false instead of throwing. */
export function isValidTopicName(topicName: string, options?: ValidateOptions): boolean {
  try {
    validateTopicName(topicName, options);
    return true;
  } catch {
    return false;
  }
}

/** Like {@link validateTopicFilter} but returns false instead of throwing. */
export function isValidTopicFilter(topicFilter: string, options?: ValidateFilterOptions): boolean {
  try {
    validateTopicFilter(topicFilter, options);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits `$share/{ShareName}/{filter}` into its parts, validating both. Returns undefined when the
 * filter does not start with `$share/` (a normal subscription). Note that `$share` alone, without the
 * slash, is an ordinary filter.
 * @throws {TopicError} when the prefix is there but the rest breaks section 4.8.2 or 4.7.
 */
export function parseSharedFilter(topicFilter: string, options?: ValidateOptions): SharedFilter | undefined {
  if (!topicFilter.startsWith(SHARE_PREFIX)) return undefined;
  return parseShared(topicFilter, options?.maxLevels ?? Number.POSITIVE_INFINITY);
}

function parseShared(full: string, maxLevels: number): SharedFilter {
  const start = SHARE_PREFIX.length;
  const slash = full.indexOf('/', start);
  const end = slash === -1 ? full.length : slash;
  // [MQTT-4.8.2-1]
  if (end === start) throw new TopicError('SHARE_NAME_EMPTY', full, start);
  let bytes = start;
  for (let i = start; i < end; i++) {
    const c = full.charCodeAt(i);
    // [MQTT-4.8.2-2]
    if (c === PLUS || c === HASH) throw new TopicError('SHARE_NAME_INVALID', full, i);
    if (c === 0) throw new TopicError('TOPIC_FILTER_NULL_CHARACTER', full, i); // [MQTT-4.7.3-2]
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < end ? full.charCodeAt(i + 1) : 0;
      // [MQTT-1.5.4-1]
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff)
        throw new TopicError('TOPIC_FILTER_INVALID_UTF8', full, i);
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  // [MQTT-4.8.2-2] the ShareName must be followed by '/' and a non-empty topic filter.
  if (slash === -1 || slash + 1 === full.length) throw new TopicError('SHARED_FILTER_MISSING', full, end);
  bytes += 1 + scan(full, FILTER_CODES, true, maxLevels, slash + 1);
  checkLength(full, bytes, FILTER_CODES);
  return { shareName: full.slice(start, end), topicFilter: full.slice(slash + 1) };
}

/**
 * True when `topic` (a name or filter) has more than `max` levels. Cheaper than full validation for
 * a broker that only needs to enforce its level limit on input already checked by the codec.
 */
export function hasMoreLevelsThan(topic: string, max: number): boolean {
  let levels = 1;
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) if (++levels > max) return true;
  return false;
}
