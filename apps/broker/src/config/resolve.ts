import { existsSync, readFileSync } from 'node:fs';
import { defaultConfig } from './defaults.js';
import { applyFlags, type ConfigFlags } from './flags.js';
import { loadConfigFile } from './load.js';
import type { Config } from './types.js';

/** Where the effective config comes from: an optional file, then the flags over it. */
export function resolveConfig(file: string | undefined, flags: ConfigFlags): Config {
  const config = file === undefined ? defaultConfig() : loadConfigFile(file);
  applyFlags(config, flags);
  return config;
}

/** The HTTP bearer token in effect (inline, from its file, or from MQTT_BROKER_HTTP_TOKEN). */
export function httpToken(config: Config, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!config.http) return undefined;
  if (config.http.token) return config.http.token;
  if (config.http.tokenFile && existsSync(config.http.tokenFile)) {
    return readFileSync(config.http.tokenFile, 'utf8').split(/\r?\n/)[0]?.trim() || undefined;
  }
  return env.MQTT_BROKER_HTTP_TOKEN || undefined;
}
