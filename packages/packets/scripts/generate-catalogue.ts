/**
 * Writes catalogue.json from the catalogue sources. Run `pnpm --filter @x/packets catalogue` after
 * changing an entry; a unit test fails while the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogue, catalogueToJson } from '../src/catalogue/index.js';

/** The exact text of catalogue.json. */
export function catalogueJsonText(): string {
  return `${JSON.stringify(catalogueToJson(catalogue), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = fileURLToPath(new URL('../catalogue.json', import.meta.url));
  writeFileSync(file, catalogueJsonText());
  console.log(`wrote ${catalogue.length} entries to ${file}`);
}
