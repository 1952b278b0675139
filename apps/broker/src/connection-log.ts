import type { ClientInfo, Hook, Logger } from '@x/broker';
import type { ConnectPacket } from '@x/packets';

/**
 * One log line per connection event at the default level, as an operator coming from Mosquitto
 * expects: who connected (client id, address, listener, protocol level, keep-alive, clean start,
 * user name), who disconnected and why, whose will was published.
 */
export class ConnectionLogHook implements Hook {
  readonly id = 'connection-log';
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  onSessionEstablished(client: ClientInfo, packet: ConnectPacket): void {
    this.#log.info(
      {
        clientId: client.id,
        remote: client.remoteAddress,
        listener: client.listener,
        protocol: packet.protocolVersion,
        keepalive: client.keepalive,
        clean: packet.clean,
        username: client.username ?? null,
      },
      'client connected',
    );
  }

  onDisconnect(
    client: ClientInfo,
    reasonCode: number,
    error: Error | undefined,
    sessionEnded: boolean,
  ): void {
    this.#log.info(
      {
        clientId: client.id,
        remote: client.remoteAddress,
        reasonCode,
        ...(error ? { reason: error.message } : {}),
        sessionEnded,
      },
      'client disconnected',
    );
  }

  onWillSent(clientId: string, will: { topic: string }): void {
    this.#log.info({ clientId, topic: will.topic }, 'will published');
  }
}
