import { allowedReasonCodes } from '../reason-codes.js';
import {
  bad,
  bin,
  buf,
  type CatalogueEntry,
  frame,
  MALFORMED,
  ok,
  PROTOCOL,
  props,
  str,
  u32,
} from './entry.js';

const miscEntries: CatalogueEntry[] = [];

for (const v of [3, 4, 5] as const) {
  miscEntries.push(
    ok(`v${v}-pingreq`, v, [0xc0, 0x00], { type: 'pingreq' }, '3.12', 'PINGREQ: two bytes.'),
    ok(`v${v}-pingresp`, v, [0xd0, 0x00], { type: 'pingresp' }, '3.13', 'PINGRESP: two bytes.'),
    bad(
      `v${v}-pingreq-with-body`,
      v,
      [0xc0, 0x01, 0x00],
      ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
      'PINGREQ has no variable header or payload.',
    ),
    bad(
      `v${v}-pingreq-flags`,
      v,
      [0xc1, 0x00],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'PINGREQ flags must be 0000.',
    ),
    bad(
      `v${v}-pingresp-flags`,
      v,
      [0xd8, 0x00],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'PINGRESP flags must be 0000.',
    ),
    bad(
      `v${v}-disconnect-flags`,
      v,
      [0xe2, 0x00],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'DISCONNECT flags must be 0000.',
    ),
    bad(
      `v${v}-connack-flags`,
      v,
      [0x21, 0x02, 0x00, 0x00],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'CONNACK flags must be 0000.',
    ),
    bad(
      `v${v}-reserved-type-0`,
      v,
      [0x00, 0x00],
      ['RESERVED_PACKET_TYPE', MALFORMED, '2.1.2'],
      'Packet type 0 is reserved.',
    ),
    bad(
      `v${v}-remaining-length-5-bytes`,
      v,
      [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
      ['MALFORMED_VARIABLE_BYTE_INTEGER', MALFORMED, '1.5.5'],
      'A Remaining Length of more than 4 bytes.',
    ),
    bad(
      `v${v}-remaining-length-non-minimal`,
      v,
      [0xc0, 0x80, 0x00],
      ['NON_MINIMAL_VARIABLE_BYTE_INTEGER', MALFORMED, 'MQTT-1.5.5-1'],
      'Remaining Length 0 written in two bytes.',
    ),
    bad(
      `v${v}-remaining-length-non-minimal-3-bytes`,
      v,
      [0x30, 0x83, 0x80, 0x00, ...str('t'), 0x61],
      ['NON_MINIMAL_VARIABLE_BYTE_INTEGER', MALFORMED, 'MQTT-1.5.5-1'],
      'Remaining Length 3 written in three bytes.',
    ),
    bad(
      `v${v}-truncated-packet`,
      v,
      [0x30, 0x0a, ...str('t'), 0x61],
      ['INCOMPLETE_PACKET', MALFORMED, '2.1.4'],
      'Fewer bytes than the Remaining Length announces: a Decoder waits, decode() fails.',
      { prefix: true },
    ),
    bad(
      `v${v}-two-packets`,
      v,
      [0xc0, 0x00, 0xc0, 0x00],
      ['TRAILING_BYTES', MALFORMED, '2.1.4'],
      'decode() takes one packet; a Decoder reads both.',
      { trailing: true },
    ),
    bad(
      `v${v}-remaining-length-max-announced`,
      v,
      [0x30, 0xff, 0xff, 0xff, 0x7f],
      ['INCOMPLETE_PACKET', MALFORMED, '2.1.4'],
      'The largest Remaining Length, 268435455 (0xFF 0xFF 0xFF 0x7F), as a header only: a Decoder accepts the announcement and waits.',
      { prefix: true },
    ),
    bad(
      `v${v}-remaining-length-max-over-limit`,
      v,
      [0x30, 0xff, 0xff, 0xff, 0x7f],
      ['PACKET_TOO_LARGE', 0x95, '3.1.2.11.4'],
      'The largest Remaining Length against a 1 MiB maximum packet size: rejected from the header alone.',
      { maxPacketSize: 1048576 },
    ),
    bad(
      `v${v}-packet-too-large-by-one`,
      v,
      frame(0x30, [...str('t'), 0x61, 0x62]),
      ['PACKET_TOO_LARGE', 0x95, '3.1.2.11.4'],
      'A 7-byte packet against a maximum packet size of 6.',
      { maxPacketSize: 6 },
    ),
  );
  if (v < 5) {
    miscEntries.push(
      ok(`v${v}-disconnect`, v, [0xe0, 0x00], { type: 'disconnect' }, '3.14', 'DISCONNECT: two bytes.'),
      bad(
        `v${v}-disconnect-with-reason-code`,
        v,
        [0xe0, 0x01, 0x00],
        ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
        'Reason codes in DISCONNECT are MQTT 5.',
      ),
      bad(
        `v${v}-auth`,
        v,
        [0xf0, 0x00],
        ['RESERVED_PACKET_TYPE', MALFORMED, '2.1.2'],
        'Packet type 15 is reserved before MQTT 5.',
      ),
    );
  }
}

miscEntries.push(
  ok(
    'v5-disconnect-short',
    5,
    [0xe0, 0x00],
    { type: 'disconnect', reasonCode: 0 },
    '3.14.2.1',
    'Remaining Length 0: Normal disconnection.',
  ),
  ok(
    'v5-disconnect-explicit-normal',
    5,
    [0xe0, 0x01, 0x00],
    { type: 'disconnect', reasonCode: 0 },
    '3.14.2.1',
    'Normal disconnection spelled out: valid, not the shortest form.',
    { decodeOnly: true },
  ),
  ok(
    'v5-disconnect-properties',
    5,
    frame(0xe0, [
      0x9c, // Use another server
      ...props(
        0x11,
        ...u32(0), // session expiry interval
        0x1f,
        ...str('moving'), // reason string
        0x1c,
        ...str('b2:1883'), // server reference
        0x26,
        ...str('k'),
        ...str('v'), // user property
      ),
    ]),
    {
      type: 'disconnect',
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: 'moving',
        serverReference: 'b2:1883',
        userProperties: [['k', 'v']],
      },
    },
    '3.14.2.2',
    'Every DISCONNECT property.',
  ),
  bad(
    'v5-disconnect-reason-0x01',
    5,
    [0xe0, 0x01, 0x01],
    ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.14.2-1'],
    '0x01 is not a DISCONNECT reason code.',
  ),
  bad(
    'v5-disconnect-duplicate-session-expiry',
    5,
    frame(0xe0, [0x00, ...props(0x11, ...u32(1), 0x11, ...u32(2))]),
    ['DUPLICATE_PROPERTY', PROTOCOL, '3.1.2.11.2'],
    'Session Expiry Interval may appear once.',
  ),
  bad(
    'v5-disconnect-assigned-client-id',
    5,
    frame(0xe0, [0x00, ...props(0x12, ...str('x'))]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Assigned Client Identifier belongs to CONNACK.',
  ),
  ok(
    'v5-auth-short',
    5,
    [0xf0, 0x00],
    { type: 'auth', reasonCode: 0 },
    '3.15.2.1',
    'Remaining Length 0: Success.',
  ),
  ok(
    'v5-auth-continue',
    5,
    frame(0xf0, [
      0x18, // Continue authentication
      ...props(
        0x15,
        ...str('SCRAM-SHA-256'), // authentication method
        0x16,
        ...bin([0x6e, 0x2c, 0x2c]), // authentication data
        0x1f,
        ...str('step 2'), // reason string
        0x26,
        ...str('k'),
        ...str('v'), // user property
      ),
    ]),
    {
      type: 'auth',
      reasonCode: 0x18,
      properties: {
        authenticationMethod: 'SCRAM-SHA-256',
        authenticationData: buf('n,,'),
        reasonString: 'step 2',
        userProperties: [['k', 'v']],
      },
    },
    '3.15.2.2',
    'Every AUTH property.',
  ),
  ok(
    'v5-auth-reauthenticate',
    5,
    frame(0xf0, [0x19, ...props(0x15, ...str('TOKEN'))]),
    { type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN' } },
    'MQTT-3.15.2-1',
    'Re-authenticate.',
  ),
  bad(
    'v5-auth-reason-0x80',
    5,
    [0xf0, 0x02, 0x80, 0x00],
    ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.15.2-1'],
    'AUTH reason codes are 0x00, 0x18 and 0x19 only.',
  ),
  bad(
    'v5-auth-flags',
    5,
    [0xf1, 0x00],
    ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
    'AUTH flags must be 0000.',
  ),
  bad(
    'v5-auth-server-keep-alive',
    5,
    frame(0xf0, [0x18, ...props(0x13, 0x00, 0x0a)]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Server Keep Alive belongs to CONNACK.',
  ),
);

for (const code of allowedReasonCodes.disconnect) {
  if (code === 0) continue;
  miscEntries.push(
    ok(
      `v5-disconnect-reason-0x${code.toString(16)}`,
      5,
      [0xe0, 0x01, code],
      { type: 'disconnect', reasonCode: code },
      'MQTT-3.14.2-1',
      `DISCONNECT reason code 0x${code.toString(16)}.`,
    ),
  );
}

export { miscEntries };
