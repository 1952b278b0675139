import { allowedReasonCodes } from '../reason-codes.js';
import { bad, type CatalogueEntry, frame, MALFORMED, ok, PROTOCOL, props, str, u16 } from './entry.js';

const ACKS = [
  { type: 'puback', first: 0x40, clause: 'MQTT-3.4.2-1' },
  { type: 'pubrec', first: 0x50, clause: 'MQTT-3.5.2-1' },
  { type: 'pubrel', first: 0x62, clause: 'MQTT-3.6.2-1' },
  { type: 'pubcomp', first: 0x70, clause: 'MQTT-3.7.2-1' },
] as const;

const ackEntries: CatalogueEntry[] = [];

for (const { type, first, clause } of ACKS) {
  const name = type.toUpperCase();
  for (const v of [3, 4] as const) {
    ackEntries.push(
      ok(
        `v${v}-${type}`,
        v,
        [first, 0x02, ...u16(42)],
        { type, packetId: 42 },
        '2.2.1',
        `A ${name}: the packet identifier only.`,
      ),
      bad(
        `v${v}-${type}-with-reason-code`,
        v,
        [first, 0x03, ...u16(42), 0x00],
        ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
        `A v3 ${name} is exactly 2 bytes long; reason codes are MQTT 5.`,
      ),
    );
  }
  ackEntries.push(
    ok(
      `v5-${type}-short`,
      5,
      [first, 0x02, ...u16(1)],
      { type, packetId: 1, reasonCode: 0 },
      '3.4.2.1',
      `A v5 ${name} without reason code: Success.`,
    ),
    ok(
      `v5-${type}-explicit-success`,
      5,
      [first, 0x03, ...u16(1), 0x00],
      { type, packetId: 1, reasonCode: 0 },
      '3.4.2.1',
      `A v5 ${name} spelling out Success: valid, though the shortest form leaves it out.`,
      { decodeOnly: true },
    ),
    ok(
      `v5-${type}-empty-properties`,
      5,
      [first, 0x04, ...u16(1), 0x00, 0x00],
      { type, packetId: 1, reasonCode: 0 },
      '3.4.2.2',
      `A v5 ${name} with an empty property block: valid, not the shortest form.`,
      { decodeOnly: true },
    ),
    ok(
      `v5-${type}-reason-string`,
      5,
      frame(first, [
        ...u16(2), // packet identifier
        type === 'pubrel' || type === 'pubcomp' ? 0x92 : 0x80, // reason code
        ...props(
          0x1f,
          ...str('why'), // reason string
          0x26,
          ...str('k'),
          ...str('v'), // user property
        ),
      ]),
      {
        type,
        packetId: 2,
        reasonCode: type === 'pubrel' || type === 'pubcomp' ? 0x92 : 0x80,
        properties: { reasonString: 'why', userProperties: [['k', 'v']] },
      },
      '3.4.2.2',
      `The properties a ${name} may carry.`,
    ),
    bad(
      `v5-${type}-packet-id-0`,
      5,
      [first, 0x02, 0x00, 0x00],
      ['PACKET_ID_ZERO', PROTOCOL, 'MQTT-2.2.1-3'],
      'Packet identifier 0 never names a flow.',
    ),
    bad(
      `v5-${type}-invalid-reason-code`,
      5,
      [first, 0x03, ...u16(1), 0x01],
      ['INVALID_REASON_CODE', PROTOCOL, clause],
      `0x01 is not a ${name} reason code.`,
    ),
    bad(
      `v5-${type}-truncated-packet-id`,
      5,
      [first, 0x01, 0x00],
      ['TRUNCATED_PACKET', MALFORMED, '2.1.4'],
      'A packet identifier cut after one byte.',
    ),
    bad(
      `v5-${type}-topic-alias-property`,
      5,
      frame(first, [...u16(1), 0x00, ...props(0x23, ...u16(1))]),
      ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
      `Topic Alias is not a ${name} property.`,
    ),
    bad(
      `v5-${type}-duplicate-reason-string`,
      5,
      frame(first, [...u16(1), 0x00, ...props(0x1f, ...str('a'), 0x1f, ...str('b'))]),
      ['DUPLICATE_PROPERTY', PROTOCOL, '3.2.2.3.9'],
      'Reason String may appear once.',
    ),
  );
  const reserved = type === 'pubrel' ? 0x60 : first | 0x02;
  ackEntries.push(
    bad(
      `v4-${type}-reserved-flags`,
      4,
      [reserved, 0x02, ...u16(1)],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, type === 'pubrel' ? 'MQTT-3.6.1-1' : 'MQTT-2.1.3-1'],
      type === 'pubrel' ? 'PUBREL flags must be 0010.' : `${name} flags must be 0000.`,
    ),
  );
  for (const code of allowedReasonCodes[type]) {
    if (code === 0) continue;
    ackEntries.push(
      ok(
        `v5-${type}-reason-0x${code.toString(16)}`,
        5,
        [first, 0x03, ...u16(7), code],
        { type, packetId: 7, reasonCode: code },
        clause,
        `${name} reason code 0x${code.toString(16)}.`,
      ),
    );
  }
}

export { ackEntries };
