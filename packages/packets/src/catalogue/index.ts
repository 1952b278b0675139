/**
 * The test packet catalogue: raw MQTT packets, annotated byte by byte in the sources, with the packet
 * they decode to or the error they must raise, the spec clause each one exercises and what it is for.
 * Import it from `@x/packets/catalogue`; `catalogue.json` in the package holds the same data for any
 * language.
 */
import { ackEntries } from './acks.js';
import { connackEntries, connectEntries } from './connect.js';
import type { CatalogueEntry } from './entry.js';
import { miscEntries } from './misc.js';
import { propertyEntries } from './properties.js';
import { publishEntries } from './publish.js';
import { subscribeEntries } from './subscribe.js';

export type { CatalogueEntry, CatalogueError } from './entry.js';
export { catalogueToJson, type JsonCatalogueEntry } from './json.js';

/** Every entry, valid and invalid, in a stable order. */
export const catalogue: readonly CatalogueEntry[] = [
  ...connectEntries,
  ...connackEntries,
  ...publishEntries,
  ...ackEntries,
  ...subscribeEntries,
  ...miscEntries,
  ...propertyEntries,
];

/** The entries that decode to a packet. */
export const validEntries: readonly CatalogueEntry[] = catalogue.filter((e) => e.packet !== undefined);

/** The entries that must raise an error. */
export const invalidEntries: readonly CatalogueEntry[] = catalogue.filter((e) => e.error !== undefined);
