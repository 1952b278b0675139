import { createRequire } from 'node:module';
import type { Broker, SysInfo } from '@x/broker';
import type { Registry } from 'prom-client';

type Figure = Exclude<keyof SysInfo, 'version' | 'started'>;

/** The `$SYS` figures as Prometheus metrics: counters for running totals, gauges for levels. */
const COUNTERS: [Figure, string, string][] = [
  ['messagesReceived', 'mqtt_messages_received_total', 'PUBLISH packets received from clients'],
  ['messagesSent', 'mqtt_messages_sent_total', 'PUBLISH packets sent to clients'],
  ['bytesReceived', 'mqtt_bytes_received_total', 'bytes received from clients'],
  ['bytesSent', 'mqtt_bytes_sent_total', 'bytes sent to clients'],
  [
    'publishDropped',
    'mqtt_messages_dropped_total',
    'messages not delivered (slow client, full queue, too large, expired)',
  ],
  ['connectionsTotal', 'mqtt_connections_total', 'connections accepted since start'],
  [
    'connectionsRefused',
    'mqtt_connections_refused_total',
    "connections closed at once for a limit (a listener's maxConnections or connectionRate, the broker's maxConnections)",
  ],
  ['readPauses', 'mqtt_read_pauses_total', 'times reading from a client was paused for backpressure'],
  [
    'acksHeld',
    'mqtt_acks_held_total',
    'PUBACK/PUBREC held back because a subscriber queue was full (a publisher slowed, no message lost)',
  ],
  [
    'stalledConsumers',
    'mqtt_stalled_consumers_total',
    'subscribers disconnected for staying stalled past stalledConsumerTimeout',
  ],
];
const GAUGES: [Figure, string, string][] = [
  ['clientsConnected', 'mqtt_clients_connected', 'clients connected now'],
  ['clientsTotal', 'mqtt_sessions', 'sessions known, online or not'],
  ['clientsMaximum', 'mqtt_clients_maximum', 'highest number of clients connected at once'],
  ['subscriptions', 'mqtt_subscriptions', 'subscriptions'],
  ['retained', 'mqtt_retained_messages', 'retained messages'],
  ['inflight', 'mqtt_inflight_messages', 'outbound QoS 1/2 messages awaiting acknowledgement'],
  ['heldBytes', 'mqtt_held_bytes', 'bytes of messages whose acknowledgement is held now'],
  [
    'heldBytesPeak',
    'mqtt_held_bytes_peak',
    'the most bytes one publisher ever had held (bounded by maxHeldBytes)',
  ],
];

/**
 * A Prometheus registry of one broker's figures (plus the process's default metrics), read from the
 * broker at scrape time, so nothing is counted twice and nothing runs between scrapes.
 */
export function brokerMetrics(broker: Broker, options: { processMetrics?: boolean } = {}): Registry {
  // prom-client (CommonJS) is loaded by the first registry made, not by importing this package.
  const { Counter, collectDefaultMetrics, Gauge, Registry } = createRequire(import.meta.url)(
    'prom-client',
  ) as typeof import('prom-client');
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  let snapshot: SysInfo | undefined;
  let snapshotAt = 0;
  // One refresh per scrape, shared by every metric's collect().
  const stats = (): SysInfo => {
    const now = Date.now();
    if (!snapshot || now - snapshotAt > 100) {
      snapshot = broker.refreshStats();
      snapshotAt = now;
    }
    return snapshot;
  };
  for (const [figure, name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats()[figure]);
      },
    });
  }
  for (const [figure, name, help] of GAUGES) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(stats()[figure]);
      },
    });
  }
  new Gauge({
    name: 'mqtt_uptime_seconds',
    help: 'seconds since the broker started',
    registers: [registry],
    collect() {
      this.set(Math.floor((Date.now() - stats().started) / 1000));
    },
  });
  return registry;
}
