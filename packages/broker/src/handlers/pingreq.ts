import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';

export function handlePingreq(_ctx: BrokerContext, client: Client): void {
  client.send({ type: 'pingresp' }); // [MQTT-3.12.4-1]
}
