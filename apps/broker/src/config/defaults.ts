import type { Config } from './types.js';

/**
 * The configuration with no file and no flags: as Mosquitto 2, only loopback, so anonymous clients
 * are safe to allow.
 */
export function defaultConfig(): Config {
  return {
    listeners: [
      { type: 'tcp', host: '127.0.0.1', port: 1883 },
      { type: 'ws', host: '127.0.0.1', port: 1882, path: '/mqtt' },
    ],
    http: { host: '127.0.0.1', port: 8080 },
    auth: {},
    broker: {},
    storage: { type: 'embedded', dataDir: './data' },
    log: { level: 'info', format: 'auto' },
    shutdownTimeout: 5000,
  };
}

/** Default ports per listener type, used when a config or flag leaves the port out. */
export const DEFAULT_PORTS = { tcp: 1883, tls: 8883, ws: 1882, wss: 8884, http: 8080 } as const;
