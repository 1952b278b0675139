import type { PacketType, Properties, UserProperty } from './packet.js';
import { hex, type Reader } from './reader.js';
import { MAX_VARIABLE_BYTE_INTEGER, vbiSize, writeVbi } from './vbi.js';
import {
  binaryLength,
  invalid,
  isU16,
  isU32,
  utf8Length,
  writeBinary,
  writeU16,
  writeU32,
  writeUtf8,
} from './writer.js';

/**
 * Where a property may appear: one bit per packet type number (1 CONNECT … 15 AUTH), bit 0 for the
 * will properties of a CONNECT (packet type 0 is reserved, so the bit is free).
 */
export const PropertyContext = {
  will: 1 << 0,
  connect: 1 << 1,
  connack: 1 << 2,
  publish: 1 << 3,
  puback: 1 << 4,
  pubrec: 1 << 5,
  pubrel: 1 << 6,
  pubcomp: 1 << 7,
  subscribe: 1 << 8,
  suback: 1 << 9,
  unsubscribe: 1 << 10,
  unsuback: 1 << 11,
  disconnect: 1 << 14,
  auth: 1 << 15,
} as const;

const C = PropertyContext;
const ACKS = C.puback | C.pubrec | C.pubrel | C.pubcomp | C.suback | C.unsuback;
const ALL =
  C.will | C.connect | C.connack | C.publish | ACKS | C.subscribe | C.unsubscribe | C.disconnect | C.auth;

type Kind = 'flag' | 'byte' | 'u16' | 'u32' | 'vbi' | 'utf8' | 'binary' | 'pair';

interface PropertyDefinition {
  id: number;
  name: keyof Properties;
  kind: Kind;
  contexts: number;
  /** A value of 0 is a Protocol Error. */
  nonZero?: boolean;
  /** Section of the spec that defines it, for error clauses. */
  section: string;
}

/** Every MQTT 5 property (section 2.2.2.2), with the packets that may carry it. */
export const PROPERTY_DEFINITIONS: readonly PropertyDefinition[] = [
  {
    id: 0x01,
    name: 'payloadFormatIndicator',
    kind: 'flag',
    contexts: C.publish | C.will,
    section: '3.3.2.3.2',
  },
  {
    id: 0x02,
    name: 'messageExpiryInterval',
    kind: 'u32',
    contexts: C.publish | C.will,
    section: '3.3.2.3.3',
  },
  { id: 0x03, name: 'contentType', kind: 'utf8', contexts: C.publish | C.will, section: '3.3.2.3.9' },
  { id: 0x08, name: 'responseTopic', kind: 'utf8', contexts: C.publish | C.will, section: '3.3.2.3.5' },
  { id: 0x09, name: 'correlationData', kind: 'binary', contexts: C.publish | C.will, section: '3.3.2.3.6' },
  {
    id: 0x0b,
    name: 'subscriptionIdentifier',
    kind: 'vbi',
    contexts: C.subscribe,
    nonZero: true,
    section: '3.8.2.1.2',
  },
  {
    id: 0x11,
    name: 'sessionExpiryInterval',
    kind: 'u32',
    contexts: C.connect | C.connack | C.disconnect,
    section: '3.1.2.11.2',
  },
  { id: 0x12, name: 'assignedClientIdentifier', kind: 'utf8', contexts: C.connack, section: '3.2.2.3.7' },
  { id: 0x13, name: 'serverKeepAlive', kind: 'u16', contexts: C.connack, section: '3.2.2.3.14' },
  {
    id: 0x15,
    name: 'authenticationMethod',
    kind: 'utf8',
    contexts: C.connect | C.connack | C.auth,
    section: '3.1.2.11.9',
  },
  {
    id: 0x16,
    name: 'authenticationData',
    kind: 'binary',
    contexts: C.connect | C.connack | C.auth,
    section: '3.1.2.11.10',
  },
  { id: 0x17, name: 'requestProblemInformation', kind: 'flag', contexts: C.connect, section: '3.1.2.11.7' },
  { id: 0x18, name: 'willDelayInterval', kind: 'u32', contexts: C.will, section: '3.1.3.2.2' },
  { id: 0x19, name: 'requestResponseInformation', kind: 'flag', contexts: C.connect, section: '3.1.2.11.6' },
  { id: 0x1a, name: 'responseInformation', kind: 'utf8', contexts: C.connack, section: '3.2.2.3.15' },
  {
    id: 0x1c,
    name: 'serverReference',
    kind: 'utf8',
    contexts: C.connack | C.disconnect,
    section: '3.2.2.3.16',
  },
  {
    id: 0x1f,
    name: 'reasonString',
    kind: 'utf8',
    contexts: C.connack | ACKS | C.disconnect | C.auth,
    section: '3.2.2.3.9',
  },
  {
    id: 0x21,
    name: 'receiveMaximum',
    kind: 'u16',
    contexts: C.connect | C.connack,
    nonZero: true,
    section: '3.1.2.11.3',
  },
  {
    id: 0x22,
    name: 'topicAliasMaximum',
    kind: 'u16',
    contexts: C.connect | C.connack,
    section: '3.1.2.11.5',
  },
  { id: 0x23, name: 'topicAlias', kind: 'u16', contexts: C.publish, nonZero: true, section: '3.3.2.3.4' },
  { id: 0x24, name: 'maximumQoS', kind: 'flag', contexts: C.connack, section: '3.2.2.3.4' },
  { id: 0x25, name: 'retainAvailable', kind: 'flag', contexts: C.connack, section: '3.2.2.3.5' },
  { id: 0x26, name: 'userProperties', kind: 'pair', contexts: ALL, section: '3.1.2.11.8' },
  {
    id: 0x27,
    name: 'maximumPacketSize',
    kind: 'u32',
    contexts: C.connect | C.connack,
    nonZero: true,
    section: '3.1.2.11.4',
  },
  {
    id: 0x28,
    name: 'wildcardSubscriptionAvailable',
    kind: 'flag',
    contexts: C.connack,
    section: '3.2.2.3.11',
  },
  {
    id: 0x29,
    name: 'subscriptionIdentifiersAvailable',
    kind: 'flag',
    contexts: C.connack,
    section: '3.2.2.3.12',
  },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', kind: 'flag', contexts: C.connack, section: '3.2.2.3.13' },
];

/** PUBLISH carries Subscription Identifier repeatedly, under its own name (section 3.3.2.3.8). */
const SUBSCRIPTION_IDENTIFIERS: PropertyDefinition = {
  id: 0x0b,
  name: 'subscriptionIdentifiers',
  kind: 'vbi',
  contexts: C.publish,
  nonZero: true,
  section: '3.3.2.3.8',
};

const BY_ID: (PropertyDefinition | undefined)[] = [];
const BY_NAME = new Map<string, PropertyDefinition>();
for (const def of PROPERTY_DEFINITIONS) {
  BY_ID[def.id] = def;
  BY_NAME.set(def.name, def);
}
BY_NAME.set(SUBSCRIPTION_IDENTIFIERS.name, SUBSCRIPTION_IDENTIFIERS);

const contextName = (ctx: number): string => (ctx === C.will ? 'the will properties' : 'this packet');

/**
 * Reads a property block (Property Length, then properties) for the packet or will `ctx`. Returns
 * `undefined` for an empty block. Names and values are checked against the allow-list.
 */
export function decodeProperties(r: Reader, ctx: number): Properties | undefined {
  const len = r.vbi('property length');
  if (len === 0) return undefined;
  const end = r.pos + len;
  if (end > r.end) r.fail('TRUNCATED_PACKET', `property length ${len} runs past the end of the packet`);
  const outerEnd = r.end;
  r.end = end;
  const props: Record<string, unknown> = {};
  while (r.pos < end) {
    const at = r.pos;
    const id = r.vbi('property identifier');
    let def = BY_ID[id];
    if (def === undefined) r.fail('UNKNOWN_PROPERTY', `unknown property identifier ${hex(id)}`, at);
    if (id === 0x0b && ctx === C.publish) def = SUBSCRIPTION_IDENTIFIERS;
    if ((def.contexts & ctx) === 0) {
      r.fail('PROPERTY_NOT_ALLOWED', `${def.name} (${hex(id)}) is not allowed in ${contextName(ctx)}`, at);
    }
    const name = def.name;
    if (def.kind === 'pair') {
      const key = r.utf8('user property name');
      const value = r.utf8('user property value');
      const list = props[name] as UserProperty[] | undefined;
      if (list === undefined) props[name] = [[key, value]];
      else list.push([key, value]);
      continue;
    }
    if (def === SUBSCRIPTION_IDENTIFIERS) {
      const value = r.vbi('subscription identifier');
      if (value === 0) r.fail('INVALID_PROPERTY_VALUE', 'subscription identifier 0', at, def.section);
      const list = props[name] as number[] | undefined;
      if (list === undefined) props[name] = [value];
      else list.push(value);
      continue;
    }
    if (props[name] !== undefined) {
      r.fail('DUPLICATE_PROPERTY', `${name} (${hex(id)}) appears more than once`, at, def.section);
    }
    let value: unknown;
    switch (def.kind) {
      case 'flag': {
        const b = r.u8(name);
        if (b > 1) r.fail('INVALID_PROPERTY_VALUE', `${name} is ${b}, not 0 or 1`, at + 1, def.section);
        value = name === 'maximumQoS' ? b : b === 1;
        break;
      }
      case 'u16':
        value = r.u16(name);
        break;
      case 'u32':
        value = r.u32(name);
        break;
      case 'vbi':
        value = r.vbi(name);
        break;
      case 'utf8':
        value = r.utf8(name);
        break;
      case 'binary':
        value = r.binary(name);
        break;
    }
    if (def.nonZero && value === 0) {
      if (name === 'topicAlias') r.fail('TOPIC_ALIAS_ZERO', 'topic alias 0', at);
      r.fail('INVALID_PROPERTY_VALUE', `${name} is 0`, at + 1, def.section);
    }
    props[name] = value;
  }
  r.end = outerEnd;
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    r.fail('AUTHENTICATION_DATA_WITHOUT_METHOD', 'authentication data without an authentication method', end);
  }
  return props as Properties;
}

function badValue(type: PacketType, name: string, why: string, section: string): never {
  return invalid('INVALID_PROPERTY_VALUE', type, `property ${name} ${why}`, section);
}

function valueLength(def: PropertyDefinition, value: unknown, type: PacketType): number {
  const name = def.name;
  switch (def.kind) {
    case 'flag':
      if (name === 'maximumQoS') {
        if (value !== 0 && value !== 1) badValue(type, name, 'must be 0 or 1', def.section);
      } else if (typeof value !== 'boolean') badValue(type, name, 'must be a boolean', def.section);
      return 2;
    case 'u16':
      if (!isU16(value)) badValue(type, name, 'must be an integer 0..65535', def.section);
      if (value === 0 && def.nonZero) {
        if (name === 'topicAlias') invalid('TOPIC_ALIAS_ZERO', type, 'topic alias 0');
        badValue(type, name, 'must not be 0', def.section);
      }
      return 3;
    case 'u32':
      if (!isU32(value)) badValue(type, name, 'must be an integer 0..4294967295', def.section);
      if (value === 0 && def.nonZero) badValue(type, name, 'must not be 0', def.section);
      return 5;
    case 'vbi': {
      const n = value as number;
      if (!Number.isInteger(n) || n < 1 || n > MAX_VARIABLE_BYTE_INTEGER) {
        badValue(type, name, 'must be an integer 1..268435455', def.section);
      }
      return 1 + vbiSize(n);
    }
    case 'utf8':
      return 3 + utf8Length(value as string, name, type);
    case 'binary':
      return 3 + binaryLength(value as Uint8Array, name, type);
    default: {
      const pair = value as UserProperty;
      if (!Array.isArray(pair) || pair.length !== 2)
        badValue(type, name, 'must be [name, value] pairs', def.section);
      return (
        5 + utf8Length(pair[0], 'user property name', type) + utf8Length(pair[1], 'user property value', type)
      );
    }
  }
}

/**
 * The byte length of the properties' contents (without the Property Length in front), checking each
 * against the allow-list of `ctx` and its range. Properties are written in the object's key order.
 */
export function propertiesLength(props: Properties | undefined, ctx: number, type: PacketType): number {
  if (props === undefined) return 0;
  let len = 0;
  for (const key in props) {
    const value = (props as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const def = BY_NAME.get(key);
    if (def === undefined) invalid('UNKNOWN_PROPERTY', type, `unknown property '${key}'`);
    if ((def.contexts & ctx) === 0) {
      invalid('PROPERTY_NOT_ALLOWED', type, `property ${key} is not allowed in ${contextName(ctx)}`);
    }
    if (def.kind === 'pair' || def === SUBSCRIPTION_IDENTIFIERS) {
      if (!Array.isArray(value)) badValue(type, key, 'must be an array', def.section);
      for (const item of value) len += valueLength(def, item, type);
    } else {
      len += valueLength(def, value, type);
    }
  }
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    invalid(
      'AUTHENTICATION_DATA_WITHOUT_METHOD',
      type,
      'authentication data without an authentication method',
    );
  }
  return len;
}

function writeValue(buf: Buffer, pos: number, def: PropertyDefinition, value: unknown): number {
  buf[pos++] = def.id;
  switch (def.kind) {
    case 'flag':
      buf[pos] = value === true || value === 1 ? 1 : 0;
      return pos + 1;
    case 'u16':
      return writeU16(buf, pos, value as number);
    case 'u32':
      return writeU32(buf, pos, value as number);
    case 'vbi':
      return writeVbi(buf, pos, value as number);
    case 'utf8':
      return writeUtf8(buf, pos, value as string);
    case 'binary':
      return writeBinary(buf, pos, value as Uint8Array);
    default: {
      const pair = value as UserProperty;
      return writeUtf8(buf, writeUtf8(buf, pos, pair[0]), pair[1]);
    }
  }
}

/** Writes Property Length `len` (from {@link propertiesLength}) and the properties; returns the new offset. */
export function writeProperties(
  buf: Buffer,
  pos: number,
  props: Properties | undefined,
  len: number,
): number {
  pos = writeVbi(buf, pos, len);
  if (len === 0 || props === undefined) return pos;
  for (const key in props) {
    const value = (props as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const def = BY_NAME.get(key)!;
    if (def.kind === 'pair' || def === SUBSCRIPTION_IDENTIFIERS) {
      for (const item of value as unknown[]) pos = writeValue(buf, pos, def, item);
    } else {
      pos = writeValue(buf, pos, def, value);
    }
  }
  return pos;
}
