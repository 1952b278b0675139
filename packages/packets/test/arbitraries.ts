import fc from 'fast-check';
import {
  type Packet,
  PROPERTY_DEFINITIONS,
  type Properties,
  PropertyContext,
  type ProtocolVersion,
  type QoS,
} from '../src/index.js';
import { allowedReasonCodes } from '../src/reason-codes.js';

/** Any valid MQTT string: full Unicode without U+0000 (lone surrogates cannot occur in 'binary' units). */
export const mqttString = (maxLength = 12) =>
  fc
    .string({ unit: 'binary', maxLength })
    .filter((s) => !s.includes('\u0000') && Buffer.byteLength(s) <= 65535);

const topicName = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 12 })
  .filter((s) => !s.includes('\u0000') && !s.includes('+') && !s.includes('#'));

const bytes = (maxLength = 16) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 65535 });
const u16 = fc.integer({ min: 0, max: 65535 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const vbiValue = fc.integer({ min: 1, max: 268_435_455 });

/** Valid properties for the packet (or will) `ctx`; `undefined` stands for an empty block. */
export function propertiesArb(ctx: number): fc.Arbitrary<Properties | undefined> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const def of PROPERTY_DEFINITIONS) {
    if ((def.contexts & ctx) === 0) continue;
    let arb: fc.Arbitrary<unknown>;
    switch (def.kind) {
      case 'flag':
        arb = def.name === 'maximumQoS' ? fc.constantFrom(0, 1) : fc.boolean();
        break;
      case 'u16':
        arb = def.nonZero ? fc.integer({ min: 1, max: 65535 }) : u16;
        break;
      case 'u32':
        arb = def.nonZero ? fc.integer({ min: 1, max: 0xffffffff }) : u32;
        break;
      case 'vbi':
        arb = vbiValue;
        break;
      case 'utf8':
        arb = mqttString();
        break;
      case 'binary':
        arb = bytes();
        break;
      default:
        arb = fc.array(fc.tuple(mqttString(6), mqttString(6)), { minLength: 1, maxLength: 3 });
    }
    model[def.name] = arb;
  }
  if (ctx === PropertyContext.publish) {
    model.subscriptionIdentifiers = fc.array(vbiValue, { minLength: 1, maxLength: 3 });
  }
  return fc.record(model, { requiredKeys: [] }).map((p) => {
    const props = p as Properties;
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
      props.authenticationMethod = 'M';
    }
    return Object.keys(props).length === 0 ? undefined : props;
  });
}

const withProps = <T extends object>(packet: T, properties: Properties | undefined): T =>
  properties === undefined ? packet : { ...packet, properties };

const reasonOf = (type: keyof typeof allowedReasonCodes) => fc.constantFrom(...allowedReasonCodes[type]);

/** Arbitrary valid packets of every type at level `v`, in the form `decode` returns. */
export function packetArb(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const v5 = v === 5;
  const props = (ctx: number) => (v5 ? propertiesArb(ctx) : fc.constant(undefined));
  const C = PropertyContext;

  const connect = fc
    .record({
      clean: fc.boolean(),
      keepalive: u16,
      clientId: mqttString(23),
      will: fc.option(
        fc.record({
          topic: topicName,
          payload: bytes(),
          qos,
          retain: fc.boolean(),
          properties: props(C.will),
        }),
        { nil: undefined },
      ),
      username: fc.option(mqttString(), { nil: undefined }),
      password: fc.option(bytes(), { nil: undefined }),
      properties: props(C.connect),
    })
    .map((r): Packet => {
      const p: Packet = {
        type: 'connect',
        protocolName: v === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: v,
        clean: r.clean,
        keepalive: r.keepalive,
        clientId: r.clientId,
      };
      if (r.properties !== undefined) p.properties = r.properties;
      if (r.will !== undefined) {
        const { properties, ...will } = r.will;
        p.will = properties === undefined ? will : { ...will, properties };
      }
      // Before MQTT 5 a password needs a user name [MQTT-3.1.2-22].
      if (r.username !== undefined || (r.password !== undefined && !v5)) p.username = r.username ?? 'u';
      if (r.password !== undefined) p.password = r.password;
      return p;
    });

  const connack = fc
    .record({
      sessionPresent: fc.boolean(),
      reasonCode: v5 ? reasonOf('connack') : fc.integer({ min: 0, max: 5 }),
      properties: props(C.connack),
    })
    .map(
      (r): Packet =>
        withProps(
          {
            type: 'connack',
            sessionPresent: r.reasonCode === 0 && r.sessionPresent,
            reasonCode: r.reasonCode,
          },
          r.properties,
        ),
    );

  const publish = fc
    .record({
      topic: topicName,
      payload: bytes(64),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      properties: props(C.publish),
      aliasOnly: fc.boolean(),
    })
    .map((r): Packet => {
      const p: Packet = {
        type: 'publish',
        topic: r.topic,
        payload: r.payload,
        qos: r.qos,
        retain: r.retain,
        dup: r.qos > 0 && r.dup,
      };
      if (r.qos > 0) p.packetId = r.packetId;
      if (r.properties !== undefined) {
        p.properties = r.properties;
        if (r.aliasOnly && r.properties.topicAlias !== undefined) p.topic = '';
      }
      return p;
    });

  const ack = (type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp') =>
    fc
      .record({ packetId, reasonCode: reasonOf(type), properties: props(C[type]) })
      .map(
        (r): Packet =>
          v5
            ? withProps({ type, packetId: r.packetId, reasonCode: r.reasonCode }, r.properties)
            : { type, packetId: r.packetId },
      );

  const subscription = fc
    .record({
      topicFilter: mqttString(12),
      qos,
      noLocal: fc.boolean(),
      retainAsPublished: fc.boolean(),
      retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    })
    .map((s) => {
      if (!v5) return { topicFilter: s.topicFilter, qos: s.qos };
      // [MQTT-3.8.3-4] no No Local on shared subscriptions
      return s.topicFilter.startsWith('$share/') ? { ...s, noLocal: false } : s;
    });

  const subscribe = fc
    .record({
      packetId,
      subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
      properties: props(C.subscribe),
    })
    .map(
      (r): Packet =>
        withProps({ type: 'subscribe', packetId: r.packetId, subscriptions: r.subscriptions }, r.properties),
    );

  const suback = fc
    .record({
      packetId,
      reasonCodes: fc.array(v5 ? reasonOf('suback') : fc.constantFrom(0, 1, 2, 0x80), {
        minLength: 1,
        maxLength: 5,
      }),
      properties: props(C.suback),
    })
    .map(
      (r): Packet =>
        withProps({ type: 'suback', packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties),
    );

  const unsubscribe = fc
    .record({
      packetId,
      topicFilters: fc.array(mqttString(12), { minLength: 1, maxLength: 4 }),
      properties: props(C.unsubscribe),
    })
    .map(
      (r): Packet =>
        withProps({ type: 'unsubscribe', packetId: r.packetId, topicFilters: r.topicFilters }, r.properties),
    );

  const unsuback = fc
    .record({
      packetId,
      reasonCodes: fc.array(reasonOf('unsuback'), { minLength: 1, maxLength: 5 }),
      properties: props(C.unsuback),
    })
    .map(
      (r): Packet =>
        v5
          ? withProps({ type: 'unsuback', packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties)
          : { type: 'unsuback', packetId: r.packetId },
    );

  const disconnect = fc
    .record({ reasonCode: reasonOf('disconnect'), properties: props(C.disconnect) })
    .map(
      (r): Packet =>
        v5
          ? withProps({ type: 'disconnect', reasonCode: r.reasonCode }, r.properties)
          : { type: 'disconnect' },
    );

  const arbs: fc.Arbitrary<Packet>[] = [
    connect,
    connack,
    publish,
    ack('puback'),
    ack('pubrec'),
    ack('pubrel'),
    ack('pubcomp'),
    subscribe,
    suback,
    unsubscribe,
    unsuback,
    fc.constant<Packet>({ type: 'pingreq' }),
    fc.constant<Packet>({ type: 'pingresp' }),
    disconnect,
  ];
  if (v5) {
    arbs.push(
      fc
        .record({ reasonCode: reasonOf('auth'), properties: propertiesArb(C.auth) })
        .map((r): Packet => withProps({ type: 'auth', reasonCode: r.reasonCode }, r.properties)),
    );
  }
  return fc.oneof(...arbs);
}
