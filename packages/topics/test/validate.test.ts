import { describe, expect, it } from 'vitest';
import {
  hasMoreLevelsThan,
  isValidTopicFilter,
  isValidTopicName,
  parseSharedFilter,
  TOPIC_ERRORS,
  TopicError,
  type TopicErrorCode,
  validateTopicFilter,
  validateTopicName,
} from '../src/index.ts';

function codeOf(fn: () => void): TopicErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (error) {
    expect(error).toBeInstanceOf(TopicError);
    return (error as TopicError).code;
  }
}

const lone = String.fromCharCode(0xd800);
const pair = '\u{1F600}';

describe('topic names', () => {
  const cases: [clause: string, topic: string, expected: TopicErrorCode | 'none'][] = [
    ['MQTT-4.7.3-1 empty name is refused', '', 'TOPIC_NAME_EMPTY'],
    ['MQTT-4.7.3-1 a single "/" is a valid name (two empty levels)', '/', 'none'],
    ['MQTT-4.7.3-1 empty levels are allowed', 'a//b/', 'none'],
    ['MQTT-4.7.0-1 "+" is refused in a name', 'a/+/b', 'TOPIC_NAME_WILDCARD'],
    ['MQTT-4.7.0-1 "#" is refused in a name', 'a/#', 'TOPIC_NAME_WILDCARD'],
    ['MQTT-4.7.0-1 "+" inside a level is refused in a name', 'a+b', 'TOPIC_NAME_WILDCARD'],
    ['MQTT-4.7.3-2 U+0000 is refused', 'a\u0000b', 'TOPIC_NAME_NULL_CHARACTER'],
    ['MQTT-4.7.3-3 65535 bytes are accepted', 'a'.repeat(65_535), 'none'],
    ['MQTT-4.7.3-3 65536 bytes are refused', 'a'.repeat(65_536), 'TOPIC_NAME_TOO_LONG'],
    ['MQTT-4.7.3-3 bytes are counted in UTF-8, not UTF-16', 'é'.repeat(32_768), 'TOPIC_NAME_TOO_LONG'],
    ['MQTT-4.7.3-3 3-byte characters count 3', '€'.repeat(21_845), 'none'],
    ['MQTT-1.5.4-1 a lone high surrogate is refused', `a${lone}`, 'TOPIC_NAME_INVALID_UTF8'],
    [
      'MQTT-1.5.4-1 a lone low surrogate is refused',
      `a${String.fromCharCode(0xdc00)}b`,
      'TOPIC_NAME_INVALID_UTF8',
    ],
    ['MQTT-1.5.4-1 a surrogate pair is fine', `a/${pair}`, 'none'],
    ['MQTT-4.7.2-1 "$" topics are valid names', '$SYS/broker/load', 'none'],
  ];
  for (const [name, topic, expected] of cases) {
    it(name, () => {
      expect(codeOf(() => validateTopicName(topic))).toBe(expected);
      expect(isValidTopicName(topic)).toBe(expected === 'none');
    });
  }

  it('reports clause, reason code 0x90 and offset', () => {
    try {
      validateTopicName('ab/+');
      expect.unreachable();
    } catch (error) {
      const e = error as TopicError;
      expect(e.clause).toBe('MQTT-4.7.0-1');
      expect(e.reasonCode).toBe(0x90);
      expect(e.offset).toBe(3);
      expect(e.message).toContain('[MQTT-4.7.0-1]');
    }
  });

  it('maxLevels bounds the number of levels', () => {
    expect(codeOf(() => validateTopicName('a/b/c', { maxLevels: 2 }))).toBe('TOPIC_NAME_TOO_DEEP');
    expect(codeOf(() => validateTopicName('a/b', { maxLevels: 2 }))).toBe('none');
  });
});

describe('topic filters', () => {
  const cases: [clause: string, filter: string, expected: TopicErrorCode | 'none'][] = [
    ['MQTT-4.7.3-1 empty filter is refused', '', 'TOPIC_FILTER_EMPTY'],
    ['MQTT-4.7.1-1 "#" alone is valid', '#', 'none'],
    ['MQTT-4.7.1-1 "#" as the last level is valid', 'sport/tennis/#', 'none'],
    ['MQTT-4.7.1-1 "#" not last is refused', 'sport/tennis/#/ranking', 'TOPIC_FILTER_MULTI_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-1 "#" inside a level is refused', 'sport/tennis#', 'TOPIC_FILTER_MULTI_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-1 "##" is refused', '##', 'TOPIC_FILTER_MULTI_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-1 "#" after an empty level is valid', '/#', 'none'],
    ['MQTT-4.7.1-2 "+" alone is valid', '+', 'none'],
    ['MQTT-4.7.1-2 "+" levels are valid', '+/tennis/#', 'none'],
    ['MQTT-4.7.1-2 "+" inside a level is refused', 'sport+', 'TOPIC_FILTER_SINGLE_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-2 "+" followed by text is refused', 'sport/+x', 'TOPIC_FILTER_SINGLE_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-2 "++" is refused', '++', 'TOPIC_FILTER_SINGLE_LEVEL_WILDCARD'],
    ['MQTT-4.7.1-2 "+/+" with empty levels is valid', '/+//+/', 'none'],
    ['MQTT-4.7.3-2 U+0000 is refused', 'a/\u0000', 'TOPIC_FILTER_NULL_CHARACTER'],
    ['MQTT-4.7.3-3 65536 bytes are refused', 'a'.repeat(65_536), 'TOPIC_FILTER_TOO_LONG'],
    ['MQTT-1.5.4-1 a lone surrogate is refused', `a/${lone}`, 'TOPIC_FILTER_INVALID_UTF8'],
    ['MQTT-4.8.2-1 "$share//a" (empty ShareName) is refused', '$share//a', 'SHARE_NAME_EMPTY'],
    ['MQTT-4.8.2-1 "$share/" is refused', '$share/', 'SHARE_NAME_EMPTY'],
    ['MQTT-4.8.2-2 ShareName with "+" is refused', '$share/a+/t', 'SHARE_NAME_INVALID'],
    ['MQTT-4.8.2-2 ShareName with "#" is refused', '$share/#/t', 'SHARE_NAME_INVALID'],
    ['MQTT-4.8.2-2 ShareName without a filter is refused', '$share/group', 'SHARED_FILTER_MISSING'],
    ['MQTT-4.8.2-2 ShareName followed by "/" only is refused', '$share/group/', 'SHARED_FILTER_MISSING'],
    ['MQTT-4.8.2-2 the inner filter is validated', '$share/g/a/#/b', 'TOPIC_FILTER_MULTI_LEVEL_WILDCARD'],
    ['MQTT-4.8.2-2 a valid shared filter', '$share/g/site/+/temp', 'none'],
    ['MQTT-4.8.2-2 "$share" without slash is an ordinary filter', '$share', 'none'],
    ['MQTT-4.8.2-2 "$shared/x" is an ordinary filter', '$shared/x', 'none'],
  ];
  for (const [name, filter, expected] of cases) {
    it(name, () => {
      expect(codeOf(() => validateTopicFilter(filter))).toBe(expected);
      expect(isValidTopicFilter(filter)).toBe(expected === 'none');
    });
  }

  it('reason code 0x8F for filters, 0x9E when shared subscriptions are not allowed', () => {
    try {
      validateTopicFilter('a/#/b');
      expect.unreachable();
    } catch (error) {
      expect((error as TopicError).reasonCode).toBe(0x8f);
      expect((error as TopicError).clause).toBe('MQTT-4.7.1-1');
    }
    expect(codeOf(() => validateTopicFilter('$share/g/a', { allowShared: false }))).toBe(
      'SHARED_NOT_SUPPORTED',
    );
    expect(TOPIC_ERRORS.SHARED_NOT_SUPPORTED.reasonCode).toBe(0x9e);
  });

  it('MQTT-4.8.2-2 parseSharedFilter splits ShareName and filter', () => {
    expect(parseSharedFilter('$share/consumers/site/+/temp')).toEqual({
      shareName: 'consumers',
      topicFilter: 'site/+/temp',
    });
    expect(parseSharedFilter('$share/g/#')).toEqual({ shareName: 'g', topicFilter: '#' });
    expect(parseSharedFilter('site/+/temp')).toBeUndefined();
    expect(() => parseSharedFilter('$share//x')).toThrow(TopicError);
  });

  it('every error code has a message and a reason code', () => {
    for (const entry of Object.values(TOPIC_ERRORS)) {
      expect(entry.message.length).toBeGreaterThan(0);
      expect([0x82, 0x8f, 0x90, 0x9e]).toContain(entry.reasonCode);
    }
  });
});

describe('hasMoreLevelsThan', () => {
  it('counts levels, including empty ones, against the limit', () => {
    expect(hasMoreLevelsThan('a', 1)).toBe(false);
    expect(hasMoreLevelsThan('a/b', 1)).toBe(true);
    expect(hasMoreLevelsThan('/', 2)).toBe(false);
    expect(hasMoreLevelsThan('//', 2)).toBe(true);
    expect(hasMoreLevelsThan('a/+/#', 3)).toBe(false);
    expect(hasMoreLevelsThan('a/+/#', 2)).toBe(true);
  });
});
