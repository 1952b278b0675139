import type { Packet, ProtocolVersion } from '../src/index.js';

const b = (s: string): Buffer => Buffer.from(s);

/** Valid packets per level, for round trips (decode(encode(p)) equals p). */
export function samplePackets(v: ProtocolVersion): Packet[] {
  const v5 = v === 5;
  const packets: Packet[] = [
    {
      type: 'connect',
      protocolName: v === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: v,
      clean: true,
      keepalive: 60,
      clientId: 'client-1',
    },
    {
      type: 'connect',
      protocolName: v === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: v,
      clean: false,
      keepalive: 0,
      clientId: 'ünïcödé-🙂',
      will: {
        topic: 'will/topic',
        payload: b('bye'),
        qos: 2,
        retain: true,
        ...(v5 ? { properties: { willDelayInterval: 30, payloadFormatIndicator: true } } : {}),
      },
      username: 'user',
      password: b('secret'),
      ...(v5 ? { properties: { sessionExpiryInterval: 3600, receiveMaximum: 10 } } : {}),
    },
    { type: 'connack', sessionPresent: true, reasonCode: 0 },
    { type: 'connack', sessionPresent: false, reasonCode: v5 ? 0x87 : 5 },
    { type: 'publish', topic: 'a/b', payload: b('hello'), qos: 0, retain: false, dup: false },
    { type: 'publish', topic: 'a/b/c', payload: b(''), qos: 1, retain: true, dup: true, packetId: 1 },
    {
      type: 'publish',
      topic: 'x',
      payload: Buffer.alloc(300, 7),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 65535,
    },
    {
      type: 'subscribe',
      packetId: 2,
      subscriptions: v5
        ? [
            { topicFilter: 'a/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
            { topicFilter: '#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 1 },
          ]
        : [
            { topicFilter: 'a/+', qos: 1 },
            { topicFilter: '#', qos: 2 },
          ],
    },
    { type: 'unsubscribe', packetId: 3, topicFilters: ['a/+', 'b/#'] },
    { type: 'pingreq' },
    { type: 'pingresp' },
  ];
  if (v5) {
    packets.push(
      {
        type: 'publish',
        topic: '',
        payload: b('aliased'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 9,
        properties: {
          topicAlias: 4,
          messageExpiryInterval: 120,
          contentType: 'text/plain',
          responseTopic: 'reply/here',
          correlationData: b('corr'),
          userProperties: [
            ['k', 'v1'],
            ['k', 'v2'],
          ],
          subscriptionIdentifiers: [1, 268435455],
        },
      },
      { type: 'puback', packetId: 5, reasonCode: 0 },
      { type: 'pubrec', packetId: 6, reasonCode: 0x10 },
      { type: 'pubrel', packetId: 7, reasonCode: 0x92, properties: { reasonString: 'gone' } },
      { type: 'pubcomp', packetId: 8, reasonCode: 0 },
      {
        type: 'subscribe',
        packetId: 10,
        subscriptions: [
          { topicFilter: 'a/b', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        ],
        properties: { subscriptionIdentifier: 77 },
      },
      { type: 'suback', packetId: 10, reasonCodes: [0, 1, 2, 0x80, 0xa2] },
      { type: 'unsuback', packetId: 11, reasonCodes: [0, 0x11] },
      { type: 'disconnect', reasonCode: 0 },
      { type: 'disconnect', reasonCode: 0x8e, properties: { reasonString: 'taken over' } },
      {
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'SCRAM', authenticationData: b('x') },
      },
      { type: 'auth', reasonCode: 0 },
    );
  } else {
    packets.push(
      { type: 'puback', packetId: 5 },
      { type: 'pubrec', packetId: 6 },
      { type: 'pubrel', packetId: 7 },
      { type: 'pubcomp', packetId: 8 },
      { type: 'suback', packetId: 10, reasonCodes: [0, 1, 2, 0x80] },
      { type: 'unsuback', packetId: 11 },
      { type: 'disconnect' },
    );
  }
  return packets;
}
