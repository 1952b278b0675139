import type { ConnectPacket, Properties, ProtocolVersion } from '@x/packets';
import { toBytes } from './bytes.js';
import type { ClientOptions } from './options.js';

/** `x-` and 16 hex digits: 18 characters, inside v3's limit of 23 [MQTT-3.1.3-5]. */
export function randomClientId(): string {
  let id = 'x-';
  for (let i = 0; i < 16; i++) id += Math.floor(Math.random() * 16).toString(16);
  return id;
}

/**
 * The CONNECT packet for the options. `resume` is true for reconnects of a session that outlives its
 * connection: they ask for the session back (Clean Start 0) instead of a new one.
 */
export function connectPacket(
  options: ClientOptions,
  v: ProtocolVersion,
  clientId: string,
  resume: boolean,
): ConnectPacket {
  const clean = options.cleanStart ?? options.clean ?? true;
  const packet: ConnectPacket = {
    type: 'connect',
    protocolVersion: v,
    clientId,
    // After the first connection a resumable session is resumed, not started over.
    clean: resume ? false : clean,
    keepalive: options.keepalive ?? 60,
  };
  if (options.username !== undefined) packet.username = options.username;
  if (options.password !== undefined) packet.password = toBytes(options.password);
  if (options.will) {
    const will = options.will;
    packet.will = {
      topic: will.topic,
      payload: toBytes(will.payload),
      qos: will.qos ?? 0,
      retain: will.retain ?? false,
      ...(v === 5 && will.properties ? { properties: will.properties } : {}),
    };
  }
  if (v === 5) {
    const properties: Properties = { ...options.properties };
    const expiry = options.sessionExpiryInterval ?? options.properties?.sessionExpiryInterval ?? 0;
    if (expiry > 0) properties.sessionExpiryInterval = expiry;
    if (Object.keys(properties).length > 0) packet.properties = properties;
  }
  return packet;
}
