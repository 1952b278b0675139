import type { Packet } from '@x/packets';
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';
import { RC } from '../codes.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePingreq } from './pingreq.js';
import { handlePuback } from './puback.js';
import { handlePubcomp } from './pubcomp.js';
import { handlePublish } from './publish.js';
import { handlePubrec } from './pubrec.js';
import { handlePubrel } from './pubrel.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

/**
 * Hands one decoded packet to its handler. Returns a promise only while an asynchronous step
 * (authentication) is pending; the client then holds its next packets until it settles.
 */
export function dispatch(broker: Broker, client: Client, packet: Packet): Promise<void> | undefined {
  const hooks = broker.hooks;
  if (hooks.on.onPacketRead.length > 0) {
    for (const h of hooks.on.onPacketRead) packet = h.onPacketRead!(client, packet);
  }
  let pending: Promise<void> | undefined;
  if (client.state !== 'connected') {
    if (packet.type === 'connect') pending = handleConnect(broker, client, packet);
    else if (packet.type === 'auth' && client.state === 'authenticating')
      pending = handleAuth(broker, client, packet);
    // [MQTT-3.1.0-1] the first packet must be CONNECT
    else
      client.violation(
        RC.PROTOCOL_ERROR,
        `${packet.type.toUpperCase()} before CONNECT completed`,
        'MQTT-3.1.0-1',
      );
  } else {
    switch (packet.type) {
      case 'publish':
        handlePublish(broker, client, packet);
        break;
      case 'puback':
        handlePuback(broker, client, packet);
        break;
      case 'pubrec':
        handlePubrec(broker, client, packet);
        break;
      case 'pubrel':
        handlePubrel(broker, client, packet);
        break;
      case 'pubcomp':
        handlePubcomp(broker, client, packet);
        break;
      case 'subscribe':
        handleSubscribe(broker, client, packet);
        break;
      case 'unsubscribe':
        handleUnsubscribe(broker, client, packet);
        break;
      case 'pingreq':
        handlePingreq(broker, client);
        break;
      case 'disconnect':
        handleDisconnect(broker, client, packet);
        break;
      case 'auth':
        pending = handleAuth(broker, client, packet);
        break;
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
        client.violation(RC.PROTOCOL_ERROR, 'second CONNECT on one connection', 'MQTT-3.1.0-2');
        break;
      default:
        // Server-to-client packets (CONNACK, SUBACK, UNSUBACK, PINGRESP) sent by a client.
        client.violation(RC.PROTOCOL_ERROR, `${packet.type.toUpperCase()} is not sent by clients`);
    }
  }
  if (hooks.on.onPacketProcessed.length > 0 && pending === undefined) {
    for (const h of hooks.on.onPacketProcessed) h.onPacketProcessed!(client, packet);
  }
  return pending;
}
