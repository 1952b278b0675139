import { createServer } from 'node:net';
import {
  type Broker,
  type Listener,
  NetServerListener,
  type PacketTracer,
  TlsListener,
  UnixListener,
  WebSocketListener,
} from '@x/broker';
import type { ApiRoute, HttpListener } from '@x/broker-http';
import { maskedConfig } from './config/print.js';
import type { Config, ListenerConfig } from './config/types.js';

function limitsOf(listener: ListenerConfig) {
  return {
    ...(listener.maxConnections !== undefined ? { maxConnections: listener.maxConnections } : {}),
    ...(listener.connectionRate !== undefined ? { connectionRate: listener.connectionRate } : {}),
    ...(listener.maxPacketSize !== undefined ? { maxPacketSize: listener.maxPacketSize } : {}),
  };
}

function tlsOf(listener: Extract<ListenerConfig, { cert: string }>) {
  return {
    certFile: listener.cert,
    keyFile: listener.key,
    ...(listener.ca ? { caFile: listener.ca } : {}),
    ...(listener.requestCert !== undefined ? { requestCert: listener.requestCert } : {}),
    ...(listener.rejectUnauthorized !== undefined ? { rejectUnauthorized: listener.rejectUnauthorized } : {}),
    ...(listener.cnAsUsername !== undefined ? { cnAsUsername: listener.cnAsUsername } : {}),
  };
}

/** The MQTT listeners of a config, with ids `tcp`, `ws`, … (`tcp-2` for a second TCP listener). */
export function createListeners(config: Config): Listener[] {
  const seen = new Map<string, number>();
  return config.listeners.map((listener) => {
    const n = (seen.get(listener.type) ?? 0) + 1;
    seen.set(listener.type, n);
    const id = n === 1 ? listener.type : `${listener.type}-${n}`;
    const limits = limitsOf(listener);
    switch (listener.type) {
      case 'tcp':
        return new NetServerListener({
          id,
          server: createServer({ noDelay: true }),
          listen: { host: listener.host, port: listener.port },
          ...limits,
        });
      case 'tls':
        return new TlsListener({
          id,
          host: listener.host,
          port: listener.port,
          ...tlsOf(listener),
          ...limits,
        });
      case 'ws':
        return new WebSocketListener({
          id,
          host: listener.host,
          port: listener.port,
          path: listener.path,
          ...(listener.trustProxy !== undefined ? { trustProxy: listener.trustProxy } : {}),
          ...(listener.allowedOrigins !== undefined ? { allowedOrigins: listener.allowedOrigins } : {}),
          ...limits,
        });
      case 'wss':
        return new WebSocketListener({
          id,
          host: listener.host,
          port: listener.port,
          path: listener.path,
          ...(listener.trustProxy !== undefined ? { trustProxy: listener.trustProxy } : {}),
          ...(listener.allowedOrigins !== undefined ? { allowedOrigins: listener.allowedOrigins } : {}),
          tls: tlsOf(listener),
          ...limits,
        });
      default:
        return new UnixListener({ id, path: listener.path, ...limits });
    }
  });
}

/**
 * The HTTP listener of a config, or undefined when it is off. Its packages (the API with
 * prom-client, the dashboard) are loaded only when it is on.
 */
export async function createHttpListener(
  config: Config,
  broker: Broker,
  token: string | undefined,
  tracer?: PacketTracer,
  resources?: Record<string, () => unknown>,
  routes?: Record<string, ApiRoute>,
): Promise<HttpListener | undefined> {
  if (!config.http) return undefined;
  const { HttpListener } = await import('@x/broker-http');
  const dashboard =
    config.http.dashboard === false ? undefined : (await import('@x/broker-dashboard')).dashboardHandler();
  return new HttpListener({
    broker,
    host: config.http.host,
    port: config.http.port,
    ...(token ? { token } : {}),
    ...(dashboard ? { dashboard } : {}),
    // The masked copy itself: the API sends it as JSON, so it needs no YAML round trip.
    config: maskedConfig(config),
    ...(tracer ? { tracer } : {}),
    ...(resources ? { resources } : {}),
    ...(routes ? { routes } : {}),
  });
}
