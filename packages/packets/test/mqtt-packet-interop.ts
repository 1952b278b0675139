import * as mqttPacket from 'mqtt-packet';
import type { Packet, Properties, ProtocolVersion, UserProperty } from '../src/index.js';

// mqtt-packet's own shapes are loose objects; the conversions below keep to what its parser emits.
type Loose = Record<string, unknown>;

/** Parses one packet with mqtt-packet; returns it, or the error it reports. */
export function theirParse(bytes: Uint8Array, v: ProtocolVersion): { packet?: Loose; error?: Error } {
  const parser = mqttPacket.parser({ protocolVersion: v });
  const packets: Loose[] = [];
  let error: Error | undefined;
  parser.on('packet', (p: unknown) => packets.push(p as Loose));
  parser.on('error', (e: Error) => {
    error ??= e;
  });
  try {
    parser.parse(Buffer.from(bytes));
  } catch (e) {
    error ??= e as Error;
  }
  if (error !== undefined) return { error };
  if (packets.length !== 1) return { error: new Error(`mqtt-packet emitted ${packets.length} packets`) };
  return { packet: packets[0] };
}

export function theirGenerate(packet: Loose, v: ProtocolVersion): { bytes?: Buffer; error?: Error } {
  try {
    return { bytes: mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: v }) };
  } catch (error) {
    return { error: error as Error };
  }
}

/** User properties grouped by name, in first-appearance order: the form mqtt-packet keeps. */
function groupUserProperties(pairs: UserProperty[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function ungroupUserProperties(grouped: Record<string, string | string[]>): UserProperty[] {
  const out: UserProperty[] = [];
  for (const [k, v] of Object.entries(grouped))
    for (const value of Array.isArray(v) ? v : [v]) out.push([k, value]);
  return out;
}

function propsToTheirs(p: Properties | undefined): Loose | undefined {
  if (p === undefined) return undefined;
  const out: Loose = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === 'userProperties') out[k] = groupUserProperties(v as UserProperty[]);
    else if (k === 'subscriptionIdentifiers')
      out.subscriptionIdentifier = (v as number[]).length === 1 ? (v as number[])[0] : v;
    else out[k] = v;
  }
  return out;
}

function propsFromTheirs(p: unknown, type: string): Properties | undefined {
  if (p === undefined) return undefined;
  const out: Loose = {};
  for (const [k, v] of Object.entries(p as Loose)) {
    if (k === 'userProperties') out[k] = ungroupUserProperties(v as Record<string, string | string[]>);
    else if (k === 'subscriptionIdentifier' && type === 'publish')
      out.subscriptionIdentifiers = Array.isArray(v) ? v : [v];
    else out[k] = v;
  }
  return out as Properties;
}

const withProps = (o: Loose, props: unknown): Loose =>
  props === undefined ? o : { ...o, properties: props };

/** Our packet in mqtt-packet's shape. */
export function toTheirs(p: Packet, v: ProtocolVersion): Loose {
  const v5 = v === 5;
  switch (p.type) {
    case 'connect': {
      const out: Loose = {
        cmd: 'connect',
        protocolId: p.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: p.protocolVersion,
        clean: p.clean,
        keepalive: p.keepalive,
        clientId: p.clientId,
      };
      if (p.properties) out.properties = propsToTheirs(p.properties);
      if (p.will)
        out.will = withProps({ ...p.will, properties: undefined }, propsToTheirs(p.will.properties));
      if (p.username !== undefined) out.username = p.username;
      if (p.password !== undefined) out.password = Buffer.from(p.password);
      return out;
    }
    case 'connack':
      return v5
        ? withProps(
            { cmd: 'connack', sessionPresent: p.sessionPresent, reasonCode: p.reasonCode },
            propsToTheirs(p.properties),
          )
        : { cmd: 'connack', sessionPresent: p.sessionPresent, returnCode: p.reasonCode };
    case 'publish':
      return withProps(
        {
          cmd: 'publish',
          topic: p.topic,
          payload: Buffer.from(p.payload),
          qos: p.qos,
          retain: p.retain,
          dup: p.dup,
          messageId: p.packetId,
        },
        v5 ? propsToTheirs(p.properties) : undefined,
      );
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return v5
        ? withProps(
            { cmd: p.type, messageId: p.packetId, reasonCode: p.reasonCode },
            propsToTheirs(p.properties),
          )
        : { cmd: p.type, messageId: p.packetId };
    case 'subscribe':
      return withProps(
        {
          cmd: 'subscribe',
          messageId: p.packetId,
          subscriptions: p.subscriptions.map((s) =>
            v5
              ? {
                  topic: s.topicFilter,
                  qos: s.qos,
                  nl: s.noLocal,
                  rap: s.retainAsPublished,
                  rh: s.retainHandling,
                }
              : { topic: s.topicFilter, qos: s.qos },
          ),
        },
        v5 ? propsToTheirs(p.properties) : undefined,
      );
    case 'suback':
      return withProps(
        { cmd: 'suback', messageId: p.packetId, granted: p.reasonCodes },
        v5 ? propsToTheirs(p.properties) : undefined,
      );
    case 'unsubscribe':
      return withProps(
        { cmd: 'unsubscribe', messageId: p.packetId, unsubscriptions: p.topicFilters },
        v5 ? propsToTheirs(p.properties) : undefined,
      );
    case 'unsuback':
      return v5
        ? withProps(
            { cmd: 'unsuback', messageId: p.packetId, granted: p.reasonCodes },
            propsToTheirs(p.properties),
          )
        : { cmd: 'unsuback', messageId: p.packetId };
    case 'pingreq':
    case 'pingresp':
      return { cmd: p.type };
    case 'disconnect':
      return v5
        ? withProps({ cmd: 'disconnect', reasonCode: p.reasonCode }, propsToTheirs(p.properties))
        : { cmd: 'disconnect' };
    case 'auth':
      return withProps({ cmd: 'auth', reasonCode: p.reasonCode }, propsToTheirs(p.properties));
  }
}

/** An mqtt-packet packet in our shape. */
export function fromTheirs(t: Loose, v: ProtocolVersion): Packet {
  const type = t.cmd as Packet['type'];
  const props = propsFromTheirs(t.properties, type);
  const v5 = v === 5;
  const base = (o: Loose): Packet =>
    (props === undefined ? o : { ...o, properties: props }) as unknown as Packet;
  switch (type) {
    case 'connect': {
      const out: Loose = {
        type,
        protocolName: t.protocolId,
        protocolVersion: t.protocolVersion,
        clean: t.clean,
        keepalive: t.keepalive,
        clientId: t.clientId,
      };
      if (props !== undefined) out.properties = props;
      const will = t.will as Loose | undefined;
      if (will) {
        const wp = propsFromTheirs(will.properties, 'will');
        out.will = {
          topic: will.topic,
          payload: will.payload,
          qos: will.qos,
          retain: will.retain,
          ...(wp ? { properties: wp } : {}),
        };
      }
      if (t.username !== undefined) out.username = t.username;
      if (t.password !== undefined) out.password = t.password;
      return out as unknown as Packet;
    }
    case 'connack':
      return base({ type, sessionPresent: t.sessionPresent, reasonCode: v5 ? t.reasonCode : t.returnCode });
    case 'publish': {
      const out: Loose = {
        type,
        topic: t.topic,
        payload: t.payload,
        qos: t.qos,
        retain: t.retain,
        dup: t.dup,
      };
      if ((t.qos as number) > 0) out.packetId = t.messageId;
      return base(out);
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return base(
        v5 ? { type, packetId: t.messageId, reasonCode: t.reasonCode } : { type, packetId: t.messageId },
      );
    case 'subscribe':
      return base({
        type,
        packetId: t.messageId,
        subscriptions: (t.subscriptions as Loose[]).map((s) =>
          v5
            ? {
                topicFilter: s.topic,
                qos: s.qos,
                noLocal: s.nl,
                retainAsPublished: s.rap,
                retainHandling: s.rh,
              }
            : { topicFilter: s.topic, qos: s.qos },
        ),
      });
    case 'suback':
      return base({ type, packetId: t.messageId, reasonCodes: t.granted });
    case 'unsubscribe':
      return base({ type, packetId: t.messageId, topicFilters: t.unsubscriptions });
    case 'unsuback':
      return base(
        v5 ? { type, packetId: t.messageId, reasonCodes: t.granted } : { type, packetId: t.messageId },
      );
    case 'pingreq':
    case 'pingresp':
      return { type } as Packet;
    case 'disconnect':
      return base(v5 ? { type, reasonCode: t.reasonCode } : { type });
    case 'auth':
      return base({ type, reasonCode: t.reasonCode });
  }
}
