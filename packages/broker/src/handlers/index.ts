import type { Packet } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';
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
 * `trusted`: the host application injected the packet (`Broker.inject`) or opened the connection
 * (`ConnectionInfo.trusted`), so no ACL applies.
 */
export function dispatch(
  ctx: BrokerContext,
  client: Client,
  packet: Packet,
  trusted: boolean,
): Promise<void> | undefined {
  const hooks = ctx.hooks;
  trusted ||= client.trusted;
  if (hooks.on.onPacketRead.length > 0) {
    for (const h of hooks.on.onPacketRead) packet = h.onPacketRead!(client, packet);
  }
  let pending: Promise<void> | undefined;
  if (client.state !== 'connected') {
    if (packet.type === 'connect') pending = handleConnect(ctx, client, packet);
    else if (packet.type === 'auth' && client.state === 'authenticating')
      pending = handleAuth(ctx, client, packet);
    // [MQTT-3.1.0-1] the first packet must be CONNECT
    else
      client.violation(
        ReasonCode.ProtocolError,
        `${packet.type.toUpperCase()} before CONNECT completed`,
        'MQTT-3.1.0-1',
      );
  } else {
    switch (packet.type) {
      case 'publish':
        handlePublish(ctx, client, packet, trusted);
        break;
      case 'puback':
        handlePuback(ctx, client, packet);
        break;
      case 'pubrec':
        handlePubrec(ctx, client, packet);
        break;
      case 'pubrel':
        handlePubrel(ctx, client, packet);
        break;
      case 'pubcomp':
        handlePubcomp(ctx, client, packet);
        break;
      case 'subscribe':
        handleSubscribe(ctx, client, packet, trusted);
        break;
      case 'unsubscribe':
        handleUnsubscribe(ctx, client, packet);
        break;
      case 'pingreq':
        handlePingreq(ctx, client);
        break;
      case 'disconnect':
        handleDisconnect(ctx, client, packet);
        break;
      case 'auth':
        pending = handleAuth(ctx, client, packet);
        break;
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
        client.violation(ReasonCode.ProtocolError, 'second CONNECT on one connection', 'MQTT-3.1.0-2');
        break;
      default:
        // Server-to-client packets (CONNACK, SUBACK, UNSUBACK, PINGRESP) sent by a client.
        client.violation(ReasonCode.ProtocolError, `${packet.type.toUpperCase()} is not sent by clients`);
    }
  }
  if (hooks.on.onPacketProcessed.length > 0 && pending === undefined) {
    for (const h of hooks.on.onPacketProcessed) h.onPacketProcessed!(client, packet);
  }
  return pending;
}
