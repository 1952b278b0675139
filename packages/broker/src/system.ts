import type { Hooks } from './hooks.js';

/** The broker's figures, published under `$SYS/broker/` every `sysInterval`. */
export interface SysInfo {
  version: string;
  /** Epoch ms of `start()`. */
  started: number;
  clientsConnected: number;
  /** Sessions known, online or not. */
  clientsTotal: number;
  /** Highest `clientsConnected` seen. */
  clientsMaximum: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  subscriptions: number;
  retained: number;
  inflight: number;
  /** Messages dropped (slow client, full queue, too large, expired). */
  publishDropped: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** Connections closed at once for a limit: a listener's `maxConnections` or `connectionRate`, the broker's `maxConnections`. */
  connectionsRefused: number;
  /** Times reading from a client was paused for backpressure (its replies, or the broker's output). */
  readPauses: number;
  /**
   * PUBACKs and PUBRECs held back because an online subscriber's queue was full (the message waited
   * in its overflow): each one slowed a publisher instead of losing a message.
   */
  acksHeld: number;
  /** Bytes of messages whose acknowledgement is held, over all publishers. */
  heldBytes: number;
  /** The most bytes one publisher ever had held (bounded by `maxHeldBytes`). */
  heldBytesPeak: number;
  /** Subscribers disconnected because they stayed stalled past `stalledConsumerTimeout`. */
  stalledConsumers: number;
}

export function newSysInfo(version: string): SysInfo {
  return {
    version,
    started: Date.now(),
    clientsConnected: 0,
    clientsTotal: 0,
    clientsMaximum: 0,
    messagesReceived: 0,
    messagesSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    subscriptions: 0,
    retained: 0,
    inflight: 0,
    publishDropped: 0,
    connectionsTotal: 0,
    connectionsRefused: 0,
    readPauses: 0,
    acksHeld: 0,
    heldBytes: 0,
    heldBytesPeak: 0,
    stalledConsumers: 0,
  };
}

/** Topic suffix → figure, as Mosquitto names them where it has a name. */
const topics: Array<[string, (info: SysInfo, now: number) => string | number]> = [
  ['version', (i) => `@x/broker ${i.version}`],
  ['uptime', (i, now) => `${Math.floor((now - i.started) / 1000)} seconds`],
  ['clients/connected', (i) => i.clientsConnected],
  ['clients/total', (i) => i.clientsTotal],
  ['clients/maximum', (i) => i.clientsMaximum],
  ['messages/received', (i) => i.messagesReceived],
  ['messages/sent', (i) => i.messagesSent],
  ['bytes/received', (i) => i.bytesReceived],
  ['bytes/sent', (i) => i.bytesSent],
  ['subscriptions/count', (i) => i.subscriptions],
  ['retained messages/count', (i) => i.retained],
  ['messages/inflight', (i) => i.inflight],
  ['messages/dropped', (i) => i.publishDropped],
  ['connections/total', (i) => i.connectionsTotal],
  ['connections/refused', (i) => i.connectionsRefused],
  ['load/reads paused', (i) => i.readPauses],
  ['load/acks held', (i) => i.acksHeld],
  ['load/bytes held', (i) => i.heldBytes],
  ['clients/stalled', (i) => i.stalledConsumers],
];

/** Refreshes the derived figures and publishes every `$SYS/broker/...` topic as a retained message. */
export function publishSysTopics(
  info: Readonly<SysInfo>,
  publish: (topic: string, payload: string, options: { retain: boolean }) => void,
  hooks: Hooks,
): void {
  const now = Date.now();
  for (const [suffix, value] of topics) {
    publish(`$SYS/broker/${suffix}`, String(value(info, now)), { retain: true });
  }
  for (const h of hooks.on.onSysInfoTick) h.onSysInfoTick!(info);
}
