import type { ProtocolVersion } from '../packet.js';
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
  u16,
  u32,
} from './entry.js';

const NAME: Record<ProtocolVersion, string> = { 3: 'MQIsdp', 4: 'MQTT', 5: 'MQTT' };

/** The variable header of a CONNECT up to (not including) its properties. */
const head = (v: ProtocolVersion, flags: number, keepalive = 60): number[] => [
  ...str(NAME[v]), // protocol name
  v, // protocol level
  flags, // connect flags
  ...u16(keepalive), // keep alive
];

const connectEntries: CatalogueEntry[] = [];

for (const v of [3, 4, 5] as const) {
  const p5 = v === 5 ? [0x00] : []; // v5: empty property length
  connectEntries.push(
    ok(
      `v${v}-connect-minimal`,
      v,
      frame(0x10, [
        ...head(v, 0x02), // clean
        ...p5,
        ...str('c1'), // client identifier
      ]),
      {
        type: 'connect',
        protocolName: NAME[v],
        protocolVersion: v,
        clean: true,
        keepalive: 60,
        clientId: 'c1',
      },
      '3.1',
      'The smallest usual CONNECT at this level: clean session, keep alive 60, a client id.',
    ),
    ok(
      `v${v}-connect-all-fields`,
      v,
      frame(0x10, [
        ...head(v, 0xf4, 0xffff), // user name, password, will retain, will QoS 2, will; not clean
        ...p5,
        ...str('client'), // client identifier
        ...p5, // v5: empty will properties
        ...str('will/t'), // will topic
        ...bin([0x62, 0x79, 0x65]), // will payload 'bye'
        ...str('user'), // user name
        ...bin([0x00, 0xff]), // password: binary, any bytes
      ]),
      {
        type: 'connect',
        protocolName: NAME[v],
        protocolVersion: v,
        clean: false,
        keepalive: 65535,
        clientId: 'client',
        will: { topic: 'will/t', payload: buf('bye'), qos: 2, retain: true },
        username: 'user',
        password: buf([0x00, 0xff]),
      },
      'MQTT-3.1.3-1',
      'Every payload field in spec order: client id, will topic and payload, user name, password; keep alive 65535.',
    ),
    ok(
      `v${v}-connect-will-qos0`,
      v,
      frame(0x10, [...head(v, 0x06, 0), ...p5, ...str('c'), ...p5, ...str('w'), ...bin([])]),
      {
        type: 'connect',
        protocolName: NAME[v],
        protocolVersion: v,
        clean: true,
        keepalive: 0,
        clientId: 'c',
        will: { topic: 'w', payload: buf(''), qos: 0, retain: false },
      },
      'MQTT-3.1.2-9',
      'A will with QoS 0, no retain and an empty payload; keep alive 0 turns keep alive off.',
    ),
    ok(
      `v${v}-connect-will-qos1`,
      v,
      frame(0x10, [...head(v, 0x0c, 10), ...p5, ...str('c'), ...p5, ...str('w'), ...bin([0x01])]),
      {
        type: 'connect',
        protocolName: NAME[v],
        protocolVersion: v,
        clean: false,
        keepalive: 10,
        clientId: 'c',
        will: { topic: 'w', payload: buf([1]), qos: 1, retain: false },
      },
      'MQTT-3.1.2-12',
      'Will QoS 1 is bits 3-4 = 01.',
    ),
    ok(
      `v${v}-connect-username-only`,
      v,
      frame(0x10, [...head(v, 0x82), ...p5, ...str('c'), ...str('u')]),
      {
        type: 'connect',
        protocolName: NAME[v],
        protocolVersion: v,
        clean: true,
        keepalive: 60,
        clientId: 'c',
        username: 'u',
      },
      'MQTT-3.1.2-17',
      'A user name without a password.',
    ),
    bad(
      `v${v}-connect-reserved-flag`,
      v,
      frame(0x10, [...head(v, 0x03), ...p5, ...str('c')]),
      ['CONNECT_RESERVED_FLAG', MALFORMED, 'MQTT-3.1.2-3'],
      'Bit 0 of the connect flags is reserved and must be 0.',
    ),
    bad(
      `v${v}-connect-will-qos-without-will`,
      v,
      frame(0x10, [...head(v, 0x0a), ...p5, ...str('c')]),
      ['INVALID_WILL_FLAGS', MALFORMED, 'MQTT-3.1.2-11'],
      'Will QoS 1 while the will flag is 0.',
    ),
    bad(
      `v${v}-connect-will-retain-without-will`,
      v,
      frame(0x10, [...head(v, 0x22), ...p5, ...str('c')]),
      ['INVALID_WILL_FLAGS', MALFORMED, 'MQTT-3.1.2-13'],
      'Will retain while the will flag is 0.',
    ),
    bad(
      `v${v}-connect-will-qos3`,
      v,
      frame(0x10, [...head(v, 0x1e), ...p5, ...str('c'), ...p5, ...str('w'), ...bin([])]),
      ['INVALID_QOS', MALFORMED, 'MQTT-3.1.2-12'],
      'Will QoS 3 does not exist.',
    ),
    bad(
      `v${v}-connect-will-topic-wildcard`,
      v,
      frame(0x10, [...head(v, 0x06), ...p5, ...str('c'), ...p5, ...str('a/#'), ...bin([])]),
      ['TOPIC_NAME_WILDCARD', 0x90, 'MQTT-3.3.2-2'],
      'The will topic is a Topic Name: no wildcards.',
    ),
    bad(
      `v${v}-connect-will-topic-empty`,
      v,
      frame(0x10, [...head(v, 0x06), ...p5, ...str('c'), ...p5, ...str(''), ...bin([])]),
      ['TOPIC_NAME_EMPTY', PROTOCOL, 'MQTT-4.7.3-1'],
      'A Topic Name is at least one character long.',
    ),
    bad(
      `v${v}-connect-truncated-client-id`,
      v,
      frame(0x10, [...head(v, 0x02), ...p5, 0x00, 0x05, 0x61]),
      ['TRUNCATED_PACKET', MALFORMED, '2.1.4'],
      'The client id announces 5 bytes, the packet ends after 1.',
    ),
    bad(
      `v${v}-connect-missing-username`,
      v,
      frame(0x10, [...head(v, 0x82), ...p5, ...str('c')]),
      ['TRUNCATED_PACKET', MALFORMED, '2.1.4'],
      'The user name flag is set but the payload ends after the client id.',
    ),
    bad(
      `v${v}-connect-trailing-byte`,
      v,
      frame(0x10, [...head(v, 0x02), ...p5, ...str('c'), 0x00]),
      ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
      'A byte after the last field the flags announce.',
    ),
    bad(
      `v${v}-connect-flags-0x01-fixed-header`,
      v,
      [0x11, ...frame(0x10, [...head(v, 0x02), ...p5, ...str('c')]).slice(1)],
      ['INVALID_FIXED_HEADER_FLAGS', MALFORMED, 'MQTT-2.1.3-1'],
      'The CONNECT fixed header flags are reserved (0000).',
    ),
  );
}

connectEntries.push(
  ok(
    'v3-connect-23-char-client-id',
    3,
    frame(0x10, [...head(3, 0x02), ...str('abcdefghijklmnopqrstuvw')]),
    {
      type: 'connect',
      protocolName: 'MQIsdp',
      protocolVersion: 3,
      clean: true,
      keepalive: 60,
      clientId: 'abcdefghijklmnopqrstuvw',
    },
    '3.1',
    'MQTT 3.1 allows client ids of 1 to 23 characters; the codec leaves that limit to the server.',
  ),
  ok(
    'v4-connect-empty-client-id',
    4,
    frame(0x10, [...head(4, 0x02), ...str('')]),
    { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: '' },
    'MQTT-3.1.3-6',
    'A zero-length client id with clean session: the server assigns one.',
  ),
  ok(
    'v5-connect-password-without-username',
    5,
    frame(0x10, [...head(5, 0x42), 0x00, ...str('c'), ...bin([0x70])]),
    {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 60,
      clientId: 'c',
      password: buf('p'),
    },
    '3.1.2.9',
    'MQTT 5 allows a password without a user name.',
  ),
  bad(
    'v4-connect-password-without-username',
    4,
    frame(0x10, [...head(4, 0x42), ...str('c'), ...bin([0x70])]),
    ['PASSWORD_WITHOUT_USERNAME', MALFORMED, 'MQTT-3.1.2-22'],
    'MQTT 3.1.1 forbids a password without a user name.',
  ),
  bad(
    'v3-connect-password-without-username',
    3,
    frame(0x10, [...head(3, 0x42), ...str('c'), ...bin([0x70])]),
    ['PASSWORD_WITHOUT_USERNAME', MALFORMED, 'MQTT-3.1.2-22'],
    'MQTT 3.1 forbids a password without a user name.',
  ),
  bad(
    'v4-connect-protocol-level-6',
    4,
    frame(0x10, [...str('MQTT'), 0x06, 0x02, ...u16(60), ...str('c')]),
    ['UNSUPPORTED_PROTOCOL_VERSION', 0x84, 'MQTT-3.1.2-2'],
    'An unknown level: the server answers CONNACK 0x84 (v5) or return code 1 (v3).',
  ),
  bad(
    'v4-connect-protocol-level-0',
    4,
    frame(0x10, [...str('MQTT'), 0x00, 0x02, ...u16(60), ...str('c')]),
    ['UNSUPPORTED_PROTOCOL_VERSION', 0x84, 'MQTT-3.1.2-2'],
    'Level 0 does not exist.',
  ),
  bad(
    'v4-connect-bridge-level-0x84',
    4,
    frame(0x10, [...str('MQTT'), 0x84, 0x02, ...u16(60), ...str('c')]),
    ['UNSUPPORTED_PROTOCOL_VERSION', 0x84, 'MQTT-3.1.2-2'],
    'Level 4 with the high "bridge" bit some brokers use is not a standard level.',
  ),
  bad(
    'v4-connect-protocol-name-mqtx',
    4,
    frame(0x10, [...str('MQTX'), 0x04, 0x02, ...u16(60), ...str('c')]),
    ['INVALID_PROTOCOL_NAME', 0x84, 'MQTT-3.1.2-1'],
    'A protocol name that is not MQTT.',
  ),
  bad(
    'v4-connect-mqisdp-with-level-4',
    4,
    frame(0x10, [...str('MQIsdp'), 0x04, 0x02, ...u16(60), ...str('c')]),
    ['INVALID_PROTOCOL_NAME', 0x84, 'MQTT-3.1.2-1'],
    "'MQIsdp' belongs to level 3 only.",
  ),
  bad(
    'v3-connect-mqtt-with-level-3',
    3,
    frame(0x10, [...str('MQTT'), 0x03, 0x02, ...u16(60), ...str('c')]),
    ['INVALID_PROTOCOL_NAME', 0x84, 'MQTT-3.1.2-1'],
    "Level 3 (MQTT 3.1) is named 'MQIsdp'.",
  ),
  bad(
    'v4-connect-lowercase-protocol-name',
    4,
    frame(0x10, [...str('mqtt'), 0x04, 0x02, ...u16(60), ...str('c')]),
    ['INVALID_PROTOCOL_NAME', 0x84, 'MQTT-3.1.2-1'],
    'The protocol name is case-sensitive.',
  ),
  ok(
    'v5-connect-properties',
    5,
    frame(0x10, [
      ...head(5, 0x02),
      ...props(
        0x11,
        ...u32(3600), // session expiry interval
        0x21,
        ...u16(20), // receive maximum
        0x27,
        ...u32(1048576), // maximum packet size
        0x22,
        ...u16(10), // topic alias maximum
        0x19,
        0x01, // request response information
        0x17,
        0x00, // request problem information
        0x26,
        ...str('region'),
        ...str('eu'), // user property
        0x15,
        ...str('SCRAM-SHA-1'), // authentication method
        0x16,
        ...bin([0x01, 0x02]), // authentication data
      ),
      ...str('c'),
    ]),
    {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 60,
      clientId: 'c',
      properties: {
        sessionExpiryInterval: 3600,
        receiveMaximum: 20,
        maximumPacketSize: 1048576,
        topicAliasMaximum: 10,
        requestResponseInformation: true,
        requestProblemInformation: false,
        userProperties: [['region', 'eu']],
        authenticationMethod: 'SCRAM-SHA-1',
        authenticationData: buf([1, 2]),
      },
    },
    '3.1.2.11',
    'Every property a CONNECT may carry.',
  ),
  ok(
    'v5-connect-will-properties',
    5,
    frame(0x10, [
      ...head(5, 0x0e),
      0x00,
      ...str('c'),
      ...props(
        0x18,
        ...u32(30), // will delay interval
        0x01,
        0x01, // payload format indicator: UTF-8
        0x02,
        ...u32(86400), // message expiry interval
        0x03,
        ...str('text/plain'), // content type
        0x08,
        ...str('reply/to'), // response topic
        0x09,
        ...bin([0xca, 0xfe]), // correlation data
        0x26,
        ...str('k'),
        ...str('v'), // user property
      ),
      ...str('w/t'),
      ...bin([0x68, 0x69]),
    ]),
    {
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepalive: 60,
      clientId: 'c',
      will: {
        topic: 'w/t',
        payload: buf('hi'),
        qos: 1,
        retain: false,
        properties: {
          willDelayInterval: 30,
          payloadFormatIndicator: true,
          messageExpiryInterval: 86400,
          contentType: 'text/plain',
          responseTopic: 'reply/to',
          correlationData: buf([0xca, 0xfe]),
          userProperties: [['k', 'v']],
        },
      },
    },
    '3.1.3.2',
    'Every will property.',
  ),
  bad(
    'v5-connect-topic-alias-property',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x23, ...u16(1)), ...str('c')]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Topic Alias belongs to PUBLISH, not CONNECT.',
  ),
  bad(
    'v5-connect-will-delay-in-connect-properties',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x18, ...u32(1)), ...str('c')]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Will Delay Interval belongs to the will properties only.',
  ),
  bad(
    'v5-connect-session-expiry-in-will-properties',
    5,
    frame(0x10, [...head(5, 0x06), 0x00, ...str('c'), ...props(0x11, ...u32(1)), ...str('w'), ...bin([])]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Session Expiry Interval is not a will property.',
  ),
  bad(
    'v5-connect-receive-maximum-0',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x21, ...u16(0)), ...str('c')]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.1.2.11.3'],
    'Receive Maximum 0 is a Protocol Error.',
  ),
  bad(
    'v5-connect-maximum-packet-size-0',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x27, ...u32(0)), ...str('c')]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.1.2.11.4'],
    'Maximum Packet Size 0 is a Protocol Error.',
  ),
  bad(
    'v5-connect-request-problem-information-2',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x17, 0x02), ...str('c')]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.1.2.11.7'],
    'Request Problem Information is 0 or 1.',
  ),
  bad(
    'v5-connect-duplicate-session-expiry',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x11, ...u32(1), 0x11, ...u32(2)), ...str('c')]),
    ['DUPLICATE_PROPERTY', PROTOCOL, '3.1.2.11.2'],
    'Session Expiry Interval may appear once.',
  ),
  bad(
    'v5-connect-authentication-data-without-method',
    5,
    frame(0x10, [...head(5, 0x02), ...props(0x16, ...bin([1])), ...str('c')]),
    ['AUTHENTICATION_DATA_WITHOUT_METHOD', PROTOCOL, '3.1.2.11.10'],
    'Authentication Data needs an Authentication Method.',
  ),
);

const connackEntries: CatalogueEntry[] = [];
for (const v of [3, 4] as const) {
  connackEntries.push(
    ok(
      `v${v}-connack-accepted`,
      v,
      [0x20, 0x02, 0x00, 0x00],
      { type: 'connack', sessionPresent: false, reasonCode: 0 },
      '3.2',
      'Connection accepted.',
    ),
    ok(
      `v${v}-connack-session-present`,
      v,
      [0x20, 0x02, 0x01, 0x00],
      { type: 'connack', sessionPresent: true, reasonCode: 0 },
      'MQTT-3.2.2-2',
      'Session present flag.',
    ),
    ...[1, 2, 3, 4, 5].map((code) =>
      ok(
        `v${v}-connack-return-code-${code}`,
        v,
        [0x20, 0x02, 0x00, code],
        { type: 'connack', sessionPresent: false, reasonCode: code },
        '3.2.2.3',
        `Connect return code ${code}.`,
      ),
    ),
    bad(
      `v${v}-connack-return-code-6`,
      v,
      [0x20, 0x02, 0x00, 0x06],
      ['INVALID_REASON_CODE', PROTOCOL, '3.2.2.3'],
      'Return codes 6-255 are reserved.',
    ),
    bad(
      `v${v}-connack-session-present-on-refusal`,
      v,
      [0x20, 0x02, 0x01, 0x05],
      ['SESSION_PRESENT_ON_FAILURE', PROTOCOL, 'MQTT-3.2.2-6'],
      'A refused connection has no session.',
    ),
    bad(
      `v${v}-connack-reserved-ack-flags`,
      v,
      [0x20, 0x02, 0x02, 0x00],
      ['INVALID_CONNACK_FLAGS', MALFORMED, 'MQTT-3.2.2-1'],
      'Bits 7-1 of the acknowledge flags are reserved.',
    ),
    bad(
      `v${v}-connack-too-long`,
      v,
      [0x20, 0x03, 0x00, 0x00, 0x00],
      ['REMAINING_LENGTH_MISMATCH', MALFORMED, '2.1.4'],
      'A v3 CONNACK is exactly 2 bytes long.',
    ),
  );
}

connackEntries.push(
  ok(
    'v5-connack-success',
    5,
    [
      0x20,
      0x03, // CONNACK, remaining length 3
      0x00, // acknowledge flags
      0x00, // reason code Success
      0x00, // property length 0
    ],
    { type: 'connack', sessionPresent: false, reasonCode: 0 },
    '3.2.2',
    'The shortest v5 CONNACK.',
  ),
  ok(
    'v5-connack-all-properties',
    5,
    frame(0x20, [
      0x01, // session present
      0x00, // Success
      ...props(
        0x11,
        ...u32(7200), // session expiry interval
        0x21,
        ...u16(100), // receive maximum
        0x24,
        0x01, // maximum QoS 1
        0x25,
        0x00, // retain not available
        0x27,
        ...u32(65536), // maximum packet size
        0x12,
        ...str('auto-1'), // assigned client identifier
        0x22,
        ...u16(5), // topic alias maximum
        0x1f,
        ...str('ok'), // reason string
        0x26,
        ...str('a'),
        ...str('1'), // user property
        0x26,
        ...str('a'),
        ...str('2'), // the same name again
        0x28,
        0x01, // wildcard subscriptions available
        0x29,
        0x00, // subscription identifiers not available
        0x2a,
        0x01, // shared subscriptions available
        0x13,
        ...u16(30), // server keep alive
        0x1a,
        ...str('resp/'), // response information
        0x1c,
        ...str('other:1883'), // server reference
        0x15,
        ...str('PLAIN'), // authentication method
        0x16,
        ...bin([0x00]), // authentication data
      ),
    ]),
    {
      type: 'connack',
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 7200,
        receiveMaximum: 100,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 65536,
        assignedClientIdentifier: 'auto-1',
        topicAliasMaximum: 5,
        reasonString: 'ok',
        userProperties: [
          ['a', '1'],
          ['a', '2'],
        ],
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: true,
        serverKeepAlive: 30,
        responseInformation: 'resp/',
        serverReference: 'other:1883',
        authenticationMethod: 'PLAIN',
        authenticationData: buf([0]),
      },
    },
    '3.2.2.3',
    'Every property a CONNACK may carry; user property names repeat in order.',
  ),
  bad(
    'v5-connack-maximum-qos-2',
    5,
    frame(0x20, [0x00, 0x00, ...props(0x24, 0x02)]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.2.2.3.4'],
    'Maximum QoS is 0 or 1.',
  ),
  bad(
    'v5-connack-retain-available-2',
    5,
    frame(0x20, [0x00, 0x00, ...props(0x25, 0x02)]),
    ['INVALID_PROPERTY_VALUE', PROTOCOL, '3.2.2.3.5'],
    'Retain Available is 0 or 1.',
  ),
  bad(
    'v5-connack-reason-code-0x04',
    5,
    [0x20, 0x03, 0x00, 0x04, 0x00],
    ['INVALID_REASON_CODE', PROTOCOL, 'MQTT-3.2.2-8'],
    '0x04 is a DISCONNECT reason code, not a CONNACK one.',
  ),
  bad(
    'v5-connack-missing-property-length',
    5,
    [0x20, 0x02, 0x00, 0x00],
    ['TRUNCATED_PACKET', MALFORMED, '2.1.4'],
    'A v5 CONNACK always has a property length.',
  ),
  bad(
    'v5-connack-will-delay-property',
    5,
    frame(0x20, [0x00, 0x00, ...props(0x18, ...u32(1))]),
    ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
    'Will Delay Interval is not a CONNACK property.',
  ),
);

for (const code of [
  0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b,
  0x9c, 0x9d, 0x9f,
]) {
  connackEntries.push(
    ok(
      `v5-connack-reason-0x${code.toString(16)}`,
      5,
      [0x20, 0x03, 0x00, code, 0x00],
      { type: 'connack', sessionPresent: false, reasonCode: code },
      'MQTT-3.2.2-8',
      `CONNACK reason code 0x${code.toString(16)}.`,
    ),
  );
}

export { connackEntries, connectEntries };
