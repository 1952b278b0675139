import type { Packet } from '../src/index.js';

const payload64 = Buffer.alloc(64, 0x61);

export const publishQos0: Packet = {
  type: 'publish',
  topic: 'sensors/building-1/floor-2/temperature',
  payload: payload64,
  qos: 0,
  retain: false,
  dup: false,
};

export const publishQos1Props: Packet = {
  type: 'publish',
  topic: 'sensors/building-1/floor-2/temperature',
  payload: payload64,
  qos: 1,
  retain: false,
  dup: false,
  packetId: 4242,
  properties: {
    payloadFormatIndicator: true,
    messageExpiryInterval: 3600,
    contentType: 'application/json',
    responseTopic: 'replies/client-7',
    correlationData: Buffer.from('0123456789abcdef'),
    userProperties: [
      ['trace-id', 'a1b2c3d4'],
      ['tenant', 'acme'],
    ],
  },
};

export const connectV5: Packet = {
  type: 'connect',
  protocolVersion: 5,
  clientId: 'bench-client-000001',
  clean: true,
  keepalive: 60,
  username: 'user',
  password: Buffer.from('password'),
  will: {
    topic: 'clients/bench-client-000001/status',
    payload: Buffer.from('offline'),
    qos: 1,
    retain: true,
    properties: { willDelayInterval: 10 },
  },
  properties: { sessionExpiryInterval: 3600, receiveMaximum: 100, topicAliasMaximum: 10 },
};

export const subscribe10 = (v5: boolean): Packet => ({
  type: 'subscribe',
  packetId: 7,
  subscriptions: Array.from({ length: 10 }, (_, i) =>
    v5
      ? {
          topicFilter: `devices/${i}/+/telemetry/#`,
          qos: 1 as const,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0 as const,
        }
      : { topicFilter: `devices/${i}/+/telemetry/#`, qos: 1 as const },
  ),
});
