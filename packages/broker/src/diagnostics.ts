import { channel } from 'node:diagnostics_channel';

/**
 * Observation without hooks, through `node:diagnostics_channel` (APM tools, tests). Messages are
 * published only when a channel has subscribers, so an unobserved broker pays one property read.
 *
 * - `x-broker:client:connect` — `{ client }` once CONNACK (success) is sent
 * - `x-broker:client:disconnect` — `{ client, reasonCode, error }` when an established connection closes
 * - `x-broker:publish:dropped` — `{ clientId, topic, reason }` when a message is not delivered to a client
 * - `x-broker:protocol:violation` — `{ clientId, remoteAddress, reasonCode, clause, message }`
 */
export const diagnostics = {
  clientConnect: channel('x-broker:client:connect'),
  clientDisconnect: channel('x-broker:client:disconnect'),
  publishDropped: channel('x-broker:publish:dropped'),
  protocolViolation: channel('x-broker:protocol:violation'),
} as const;
