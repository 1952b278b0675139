import type { Broker } from '../broker.js';
import type { Client } from '../client.js';

export function handlePingreq(_broker: Broker, client: Client): void {
  client.send({ type: 'pingresp' }); // [MQTT-3.12.4-1]
}
