import { bad, type CatalogueEntry, frame, MALFORMED, ok, PROTOCOL, props, str, u16, vbi } from './entry.js';

const subscribeEntries: CatalogueEntry[] = [];

for (const v of [3, 4, 5] as const) {
  const p5 = v === 5 ? [0x00] : [];
  const full = v === 5;
  const sub = (topicFilter: string, qos: 0 | 1 | 2) =>
    full
      ? { topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 as const }
      : { topicFilter, qos };
  subscribeEntries.push(
    ok(
      `v${v}-subscribe-one`,
      v,
      frame(0x82, [
        ...u16(1), // packet identifier
        ...p5,
        ...str('a/b'), // topic filter
        0x01, // requested QoS 1
      ]),
      { type: 'subscribe', packetId: 1, subscriptions: [sub('a/b', 1)] },
      '3.8',
      'One subscription.',
    ),
    ok(
      `v${v}-subscribe-wildcards`,
      v,
      frame(0x82, [...u16(2), ...p5, ...str('+/x/#'), 0x00, ...str('#'), 0x02, ...str('$SYS/+'), 0x01]),
      {
        type: 'subscribe',
        packetId: 2,
        subscriptions: [sub('+/x/#', 0), sub('#', 2), sub('$SYS/+', 1)],
      },
      '4.7.1',
      'Several filters with wildcards, kept in order.',
    ),
    ok(
      `v${v}-suback`,
      v,
      frame(0x90, [...u16(1), ...p5, 0x00, 0x01, 0x02, 0x80]),
      { type: 'suback', packetId: 1, reasonCodes: [0, 1, 2, 0x80] },
      '3.9.3',
      'Granted QoS 0, 1, 2 and a failure (0x80).',
    ),
    ok(
      `v${v}-unsubscribe`,
      v,
      frame(0xa2, [...u16(3), ...p5, ...str('a/b'), ...str('c/#')]),
      { type: 'unsubscribe', packetId: 3, topicFilters: ['a/b', 'c/#'] },
      '3.10',
      'Two topic filters.',
    ),
    bad(
      `v${v}-subscribe-flags-0000`,
      v,
      frame(0x80, [...u16(1), ...p5, ...str('a'), 0x00]),
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-3.8.1-1'],
      'SUBSCRIBE flags must be 0010.',
    ),
    bad(
      `v${v}-subscribe-empty`,
      v,
      frame(0x82, [...u16(1), ...p5]),
      ['EMPTY_TOPIC_FILTER_LIST', PROTOCOL, 'MQTT-3.8.3-2'],
      'A SUBSCRIBE with no subscription.',
    ),
    bad(
      `v${v}-subscribe-packet-id-0`,
      v,
      frame(0x82, [...u16(0), ...p5, ...str('a'), 0x00]),
      ['PACKET_ID_ZERO', PROTOCOL, 'MQTT-2.2.1-3'],
      'SUBSCRIBE needs a non-zero packet identifier.',
    ),
    bad(
      `v${v}-subscribe-qos3`,
      v,
      frame(0x82, [...u16(1), ...p5, ...str('a'), 0x03]),
      ['INVALID_QOS', MALFORMED, 'MQTT-3.8.3-5'],
      'Requested QoS 3.',
    ),
    bad(
      `v${v}-subscribe-missing-options`,
      v,
      frame(0x82, [...u16(1), ...p5, ...str('a')]),
      ['TRUNCATED_PACKET', MALFORMED, '2.1.4'],
      'A topic filter without its options byte.',
    ),
    bad(
      `v${v}-subscribe-filter-invalid-utf8`,
      v,
      frame(0x82, [...u16(1), ...p5, 0x00, 0x01, 0xfe, 0x00]),
      ['INVALID_UTF8', MALFORMED, 'MQTT-1.5.4-1'],
      'Topic filters are UTF-8 strings.',
    ),
    bad(
      `v${v}-unsubscribe-flags-0000`,
      v,
      frame(0xa0, [...u16(1), ...p5, ...str('a')]),
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-3.10.1-1'],
      'UNSUBSCRIBE flags must be 0010.',
    ),
    bad(
      `v${v}-unsubscribe-empty`,
      v,
      frame(0xa2, [...u16(1), ...p5]),
      ['EMPTY_TOPIC_FILTER_LIST', PROTOCOL, 'MQTT-3.10.3-2'],
      'An UNSUBSCRIBE with no topic filter.',
    ),
    bad(
      `v${v}-unsubscribe-packet-id-0`,
      v,
      frame(0xa2, [...u16(0), ...p5, ...str('a')]),
      ['PACKET_ID_ZERO', PROTOCOL, 'MQTT-2.2.1-3'],
      'UNSUBSCRIBE needs a non-zero packet identifier.',
    ),
    bad(
      `v${v}-suback-empty`,
      v,
      frame(0x90, [...u16(1), ...p5]),
      ['EMPTY_REASON_CODE_LIST', MALFORMED, '3.9.3'],
      'A SUBACK answers at least one subscription.',
    ),
    bad(
      `v${v}-suback-flags`,
      v,
      frame(0x92, [...u16(1), ...p5, 0x00]),
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'SUBACK flags must be 0000.',
    ),
  );
  if (v < 5) {
    subscribeEntries.push(
      ok(
        `v${v}-unsuback`,
        v,
        [0xb0, 0x02, ...u16(3)],
        { type: 'unsuback', packetId: 3 },
        '3.11',
        'A v3 UNSUBACK: the packet identifier only.',
      ),
      bad(
        `v${v}-subscribe-reserved-qos-bits`,
        v,
        frame(0x82, [...u16(1), ...str('a'), 0x04]),
        ['INVALID_SUBSCRIPTION_OPTIONS', MALFORMED, 'MQTT-3-8.3-4'],
        'Before MQTT 5, bits 7-2 of the requested QoS byte are reserved.',
      ),
      bad(
        `v${v}-suback-return-code-3`,
        v,
        frame(0x90, [...u16(1), 0x03]),
        ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.9.3-1'],
        'SUBACK return codes are 0, 1, 2 and 0x80.',
      ),
      bad(
        `v${v}-unsuback-too-long`,
        v,
        [0xb0, 0x03, ...u16(3), 0x00],
        ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
        'A v3 UNSUBACK is exactly 2 bytes long.',
      ),
    );
  }
}

subscribeEntries.push(
  ok(
    'v5-subscribe-options-and-identifier',
    5,
    frame(0x82, [
      ...u16(9), // packet identifier
      ...props(
        0x0b,
        ...vbi(300), // subscription identifier (2-byte VBI)
        0x26,
        ...str('k'),
        ...str('v'), // user property
      ),
      ...str('a/+'), // topic filter
      0x2e, // retain handling 2, retain as published, no local, QoS 2
      ...str('$share/g/b'), // shared subscription
      0x11, // retain handling 1, QoS 1
    ]),
    {
      type: 'subscribe',
      packetId: 9,
      subscriptions: [
        { topicFilter: 'a/+', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { topicFilter: '$share/g/b', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 1 },
      ],
      properties: { subscriptionIdentifier: 300, userProperties: [['k', 'v']] },
    },
    '3.8.3.1',
    'Every subscription option, a Subscription Identifier and a shared subscription.',
  ),
  ok(
    'v5-suback-reason-codes',
    5,
    frame(0x90, [
      ...u16(9),
      ...props(0x1f, ...str('partly')),
      0x00,
      0x01,
      0x02,
      0x80,
      0x83,
      0x87,
      0x8f,
      0x91,
      0x97,
      0x9e,
      0xa1,
      0xa2, // every SUBACK reason code
    ]),
    {
      type: 'suback',
      packetId: 9,
      reasonCodes: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
      properties: { reasonString: 'partly' },
    },
    'MQTT-3.9.3-1',
    'Every SUBACK reason code, and a reason string.',
  ),
  ok(
    'v5-unsuback',
    5,
    frame(0xb0, [...u16(3), 0x00, 0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]),
    { type: 'unsuback', packetId: 3, reasonCodes: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91] },
    'MQTT-3.11.3-1',
    'Every UNSUBACK reason code.',
  ),
  ok(
    'v5-unsubscribe-user-property',
    5,
    frame(0xa2, [...u16(4), ...props(0x26, ...str('k'), ...str('v')), ...str('a')]),
    { type: 'unsubscribe', packetId: 4, topicFilters: ['a'], properties: { userProperties: [['k', 'v']] } },
    '3.10.2.1',
    'UNSUBSCRIBE carries only user properties.',
  ),
  bad(
    'v5-subscribe-retain-handling-3',
    5,
    frame(0x82, [...u16(1), 0x00, ...str('a'), 0x30]),
    ['INVALID_RETAIN_HANDLING', PROTOCOL, '3.8.3.1'],
    'Retain Handling 3 is a Protocol Error.',
  ),
  bad(
    'v5-subscribe-reserved-option-bits',
    5,
    frame(0x82, [...u16(1), 0x00, ...str('a'), 0x40]),
    ['INVALID_SUBSCRIPTION_OPTIONS', MALFORMED, 'MQTT-3.8.3-5'],
    'Bits 7-6 of the subscription options are reserved.',
  ),
  bad(
    'v5-subscribe-no-local-shared',
    5,
    frame(0x82, [...u16(1), 0x00, ...str('$share/g/a'), 0x04]),
    ['NO_LOCAL_ON_SHARED_SUBSCRIPTION', PROTOCOL, 'MQTT-3.8.3-4'],
    'No Local on a shared subscription.',
  ),
  bad(
    'v5-subscribe-subscription-identifier-0',
    5,
    frame(0x82, [...u16(1), ...props(0x0b, 0x00), ...str('a'), 0x00]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.8.2.1.2'],
    'Subscription Identifier 0 is a Protocol Error.',
  ),
  bad(
    'v5-subscribe-two-subscription-identifiers',
    5,
    frame(0x82, [...u16(1), ...props(0x0b, 0x01, 0x0b, 0x02), ...str('a'), 0x00]),
    ['DUPLICATE_PROPERTY', PROTOCOL, '3.8.2.1.2'],
    'A SUBSCRIBE carries at most one Subscription Identifier.',
  ),
  bad(
    'v5-unsubscribe-reason-string',
    5,
    frame(0xa2, [...u16(1), ...props(0x1f, ...str('r')), ...str('a')]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Reason String is not an UNSUBSCRIBE property.',
  ),
  bad(
    'v5-suback-reason-0x11',
    5,
    frame(0x90, [...u16(1), 0x00, 0x11]),
    ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.9.3-1'],
    '0x11 is an UNSUBACK reason code, not a SUBACK one.',
  ),
  bad(
    'v5-unsuback-empty',
    5,
    frame(0xb0, [...u16(1), 0x00]),
    ['EMPTY_REASON_CODE_LIST', MALFORMED, '3.11.3'],
    'A v5 UNSUBACK has one reason code per topic filter.',
  ),
  bad(
    'v5-unsuback-reason-0x10',
    5,
    frame(0xb0, [...u16(1), 0x00, 0x10]),
    ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.11.3-1'],
    '0x10 is a PUBACK reason code, not an UNSUBACK one.',
  ),
);

export { subscribeEntries };
