import { PROPERTY_DEFINITIONS, PropertyContext } from '../properties.js';
import { bad, bin, type CatalogueEntry, frame, ok, PROTOCOL, props, str, u16, u32 } from './entry.js';

/*
 * Two cases per property, built from the property table: the property where its packet may not
 * carry it (a Protocol Error), and a single-valued property given twice (a Protocol Error), each in
 * a packet that is otherwise valid.
 */

type Definition = (typeof PROPERTY_DEFINITIONS)[number];

/** A valid encoded value for the property. */
function value(def: Definition): number[] {
  switch (def.kind) {
    case 'flag':
      return [0x01];
    case 'u16':
      return u16(1);
    case 'u32':
      return u32(1);
    case 'vbi':
      return [0x01];
    case 'utf8':
      return str('x');
    case 'binary':
      return bin([0x01]);
    default:
      return [...str('k'), ...str('v')];
  }
}

/** A v5 packet of context `ctx` carrying the property block `block`, otherwise minimal and valid. */
function host(ctx: number, block: number[]): number[] | undefined {
  const C = PropertyContext;
  switch (ctx) {
    case C.publish:
      return frame(0x30, [...str('t'), ...block]);
    case C.puback:
      return frame(0x40, [...u16(1), 0x00, ...block]);
    case C.subscribe:
      return frame(0x82, [...u16(1), ...block, ...str('a'), 0x00]);
    case C.connack:
      return frame(0x20, [0x00, 0x00, ...block]);
    case C.connect:
      return frame(0x10, [...str('MQTT'), 0x05, 0x02, ...u16(60), ...block, ...str('c')]);
    case C.will:
      return frame(0x10, [
        ...str('MQTT'),
        0x05,
        0x06,
        ...u16(60),
        0x00,
        ...str('c'),
        ...block,
        ...str('w'),
        ...bin([]),
      ]);
    case C.disconnect:
      return frame(0xe0, [0x00, ...block]);
    case C.auth:
      return frame(0xf0, [0x18, ...block]);
    default:
      return undefined;
  }
}

const HOSTS: [number, string][] = [
  [PropertyContext.puback, 'puback'],
  [PropertyContext.publish, 'publish'],
  [PropertyContext.subscribe, 'subscribe'],
  [PropertyContext.connack, 'connack'],
];

const propertyEntries: CatalogueEntry[] = [];

for (const def of PROPERTY_DEFINITIONS) {
  const hex = `0x${def.id.toString(16).padStart(2, '0')}`;
  const misplacedIn = HOSTS.find(([ctx]) => (def.contexts & ctx) === 0);
  if (misplacedIn !== undefined) {
    const [ctx, name] = misplacedIn;
    propertyEntries.push(
      bad(
        `v5-property-${def.name}-in-${name}`,
        5,
        host(ctx, props(def.id, ...value(def)))!,
        ['PROPERTY_NOT_ALLOWED', PROTOCOL, '2.2.2.2'],
        `${def.name} (${hex}) may not appear in a ${name.toUpperCase()}.`,
      ),
    );
  }
  if (def.kind === 'pair') continue;
  // Where the property is allowed, a second copy is refused (Subscription Identifier only in SUBSCRIBE).
  const allowedCtx = [
    PropertyContext.publish,
    PropertyContext.subscribe,
    PropertyContext.connack,
    PropertyContext.connect,
    PropertyContext.will,
    PropertyContext.disconnect,
    PropertyContext.auth,
  ].find((ctx) => (def.contexts & ctx) !== 0);
  if (allowedCtx === undefined) continue;
  const once = [def.id, ...value(def)];
  const needsMethod = def.name === 'authenticationData' ? [0x15, ...str('M')] : [];
  propertyEntries.push(
    bad(
      `v5-property-${def.name}-twice`,
      5,
      host(allowedCtx, props(...needsMethod, ...once, ...once))!,
      ['DUPLICATE_PROPERTY', PROTOCOL, def.section],
      `${def.name} (${hex}) may appear at most once.`,
    ),
  );
}

propertyEntries.push(
  ok(
    'v5-property-user-properties-repeated-order',
    5,
    frame(0x40, [
      ...u16(1),
      0x00,
      ...props(
        0x26,
        ...str('b'),
        ...str('1'), // user property b=1
        0x26,
        ...str('a'),
        ...str('2'), // user property a=2
        0x26,
        ...str('b'),
        ...str('3'), // b again: order and repeats are kept
      ),
    ]),
    {
      type: 'puback',
      packetId: 1,
      reasonCode: 0,
      properties: {
        userProperties: [
          ['b', '1'],
          ['a', '2'],
          ['b', '3'],
        ],
      },
    },
    'MQTT-3.3.2-18',
    'User properties keep their order, with repeated names interleaved.',
  ),
);

export { propertyEntries };
