import type { AuthPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';
import { authenticated, pendingConnect } from './connect.js';

/**
 * AUTH: continues an enhanced authentication started by CONNECT, or re-authenticates a connected
 * client (reason 0x19). The exchange itself belongs to the `onAuthPacket` hooks.
 */
export function handleAuth(
  ctx: BrokerContext,
  client: Client,
  packet: AuthPacket,
): Promise<void> | undefined {
  const method = packet.properties?.authenticationMethod;
  if (client.authenticationMethod === undefined || method !== client.authenticationMethod) {
    // Section 4.12: AUTH without (or with a different) method than CONNECT is a protocol error
    client.violation(
      ReasonCode.ProtocolError,
      'AUTH with an authentication method other than CONNECT’s',
      '4.12',
    );
    return undefined;
  }
  const connecting = client.state === 'authenticating';
  const pending = connecting ? pendingConnect(client) : undefined;
  if (connecting && pending === undefined) {
    client.violation(ReasonCode.ProtocolError, 'AUTH before the server asked for it');
    return undefined;
  }
  const outcome = ctx.hooks.authPacket(client, packet);
  const apply = (result: Awaited<typeof outcome>): Promise<void> | undefined => {
    if (client.state === 'closed') return;
    if (connecting) return authenticated(ctx, client, pending!.packet, result, pending!.assigned);
    if (
      result === undefined ||
      result === false ||
      (typeof result === 'object' && 'ok' in result && !result.ok)
    ) {
      const code =
        typeof result === 'object' && result.reasonCode !== undefined
          ? result.reasonCode
          : ReasonCode.NotAuthorized;
      client.disconnect(code, 're-authentication failed');
      return;
    }
    const data = typeof result === 'object' && 'continue' in result ? result.authenticationData : undefined;
    client.send({
      type: 'auth',
      reasonCode:
        typeof result === 'object' && 'continue' in result
          ? ReasonCode.ContinueAuthentication
          : ReasonCode.Success,
      properties: {
        authenticationMethod: client.authenticationMethod!,
        ...(data ? { authenticationData: data } : {}),
      },
    });
  };
  if (outcome instanceof Promise) return outcome.then(apply);
  return apply(outcome);
}
