import { yamlLibrary } from '@x/broker-auth';
import { maskAuthBackends } from './auth-backends.js';
import { maskBridges } from './bridges.js';
import type { Config } from './types.js';

/** A copy of the effective config with secrets (tokens, passwords) masked. */
export function maskedConfig(config: Config): Config {
  const copy = structuredClone(config) as Config;
  if (copy.http && copy.http.token !== undefined) copy.http.token = '***';
  for (const rule of copy.auth.rules ?? []) if (rule.password !== undefined) rule.password = '***';
  maskAuthBackends(copy.auth);
  maskBridges(copy.bridges);
  if (copy.storage.type === 'redis') copy.storage.url = copy.storage.url.replace(/\/\/([^@/]*)@/, '//***@');
  if (copy.cluster)
    copy.cluster = { ...copy.cluster, url: copy.cluster.url.replace(/\/\/([^@/]*)@/, '//***@') };
  return copy;
}

/** The effective config as YAML, with secrets (tokens, passwords) masked. */
export function printableConfig(config: Config): string {
  return yamlLibrary().stringify(maskedConfig(config));
}
