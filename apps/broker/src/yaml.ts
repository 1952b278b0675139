import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

/**
 * The YAML library, loaded by the first config printed or converted (synchronously: it is
 * CommonJS), so a broker that starts without `--print-config` never loads it.
 */
export function yaml(): Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as Yaml;
  return loaded;
}
