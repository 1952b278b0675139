import { isIP } from 'node:net';
import type { Config, ListenerConfig } from './types.js';

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Whether clients on other machines can reach this listener. */
export function isExposed(listener: ListenerConfig): boolean {
  return listener.type !== 'unix' && !isLoopback(listener.host);
}

export function describeListener(listener: ListenerConfig): string {
  if (listener.type === 'unix') return `unix:${listener.path}`;
  const host = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
  const path = listener.type === 'ws' || listener.type === 'wss' ? listener.path : '';
  return `${listener.type}://${host}:${listener.port}${path}`;
}

/**
 * Anonymous access in effect: as configured, or, when not configured, only while every listener is
 * on loopback (Mosquitto 2's rule).
 */
export function anonymousAllowed(config: Config): boolean {
  return config.auth.allowAnonymous ?? !config.listeners.some(isExposed);
}

/**
 * Refuses a configuration that would let anyone on the network in: a listener on a non-loopback
 * interface with no auth rules and no explicit `allowAnonymous: true`. Returns the reason, or
 * undefined when the config is safe to start.
 */
export function unsafeExposure(config: Config, hasAuthRules: boolean): string | undefined {
  const http = config.http;
  if (http && !isLoopback(http.host) && !http.token && !http.tokenFile) {
    // /stats, /metrics and the dashboard would be open to the network.
    return (
      `refusing to start: the HTTP listener ${http.host}:${http.port} is reachable from other machines ` +
      'without a token. Set http.token (or --http-token / MQTT_BROKER_HTTP_TOKEN), or bind it to 127.0.0.1.'
    );
  }
  if (hasAuthRules || config.auth.allowAnonymous === true) return undefined;
  const exposed = config.listeners.filter(isExposed);
  if (exposed.length === 0) return undefined;
  return (
    `refusing to start: ${exposed.map(describeListener).join(', ')} ` +
    `${exposed.length === 1 ? 'is' : 'are'} reachable from other machines, but no auth rule is configured. ` +
    'Add auth rules (auth.rules or auth.file in the config file), or allow anonymous clients explicitly ' +
    'with --allow-anonymous (auth.allowAnonymous: true), or bind to 127.0.0.1.'
  );
}
