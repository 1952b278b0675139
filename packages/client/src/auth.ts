import type { AuthPacket, Properties, ProtocolVersion } from '@x/packets';
import { ReasonCode } from '@x/packets';
import type { Connection } from './connection.js';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { AuthHandler, AuthResponse, ClientOptions } from './options.js';

/** What the authentication exchange needs from its client. */
export interface AuthHost {
  readonly protocolVersion: ProtocolVersion;
  /** Ends the connection for a failed exchange: DISCONNECT with `reasonCode` (v5), close, report. */
  fail(connection: Connection, error: MqttClientError, reasonCode: number): void;
}

/**
 * Enhanced authentication (v5, section 4.12) as the client takes part in it: the server's AUTH
 * challenges, during the handshake or later, and re-authentications the application starts.
 */
export class AuthExchange {
  readonly #host: AuthHost;
  // Read on each use, as the rest of the client reads its options.
  readonly #options: ClientOptions;
  #reauth: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(host: AuthHost, options: ClientOptions) {
    this.#host = host;
    this.#options = options;
  }

  /**
   * Starts a re-authentication (AUTH 0x19) on `connection`; resolves when the server answers AUTH
   * Success. One at a time.
   */
  reauthenticate(
    connection: Connection | undefined,
    authenticationData: Uint8Array | undefined,
  ): Promise<void> {
    const method = this.#options.properties?.authenticationMethod;
    if (!connection || this.#host.protocolVersion !== 5 || !method) {
      return Promise.reject(
        new MqttClientError(
          ClientErrorCode.INVALID_ARGUMENT,
          'reauthenticate needs a v5 connection and an authenticationMethod',
        ),
      );
    }
    if (this.#reauth)
      return Promise.reject(
        new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, 're-authentication in progress'),
      );
    return new Promise((resolve, reject) => {
      this.#reauth = { resolve, reject };
      const properties: Properties = { authenticationMethod: method };
      if (authenticationData) properties.authenticationData = authenticationData;
      connection.send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties });
    });
  }

  /** An AUTH from the server, before or after CONNACK. */
  onAuth(connection: Connection, packet: AuthPacket): void {
    const handler = this.#options.onAuth;
    if (packet.reasonCode === ReasonCode.Success) {
      const reauth = this.#reauth;
      this.#reauth = undefined;
      reauth?.resolve();
      return;
    }
    if (packet.reasonCode !== ReasonCode.ContinueAuthentication || !handler) {
      this.#host.fail(
        connection,
        new MqttClientError(
          ClientErrorCode.AUTH_FAILED,
          handler
            ? `unexpected AUTH reason 0x${packet.reasonCode.toString(16)}`
            : 'AUTH received but no onAuth handler',
          {
            reasonCode: ReasonCode.ProtocolError,
          },
        ),
        ReasonCode.ProtocolError,
      );
      return;
    }
    answerAuth(connection, packet, handler, this.#options.properties?.authenticationMethod, (error) =>
      this.#host.fail(connection, error, ReasonCode.UnspecifiedError),
    );
  }

  /** The connection is gone: a re-authentication in progress fails. */
  connectionLost(): void {
    this.#reauth?.reject(
      new MqttClientError(ClientErrorCode.CONNECTION_CLOSED, 'connection lost during re-authentication'),
    );
    this.#reauth = undefined;
  }
}

/**
 * Answers an AUTH 0x18 (Continue authentication) challenge through the application's handler
 * (section 4.12): its answer goes back as AUTH 0x18 with the same method. A handler that throws
 * fails the connection through `fail`.
 */
export function answerAuth(
  connection: Connection,
  packet: AuthPacket,
  handler: AuthHandler,
  method: string | undefined,
  fail: (error: MqttClientError) => void,
): void {
  const props = packet.properties;
  Promise.resolve()
    .then(() =>
      handler({
        reasonCode: packet.reasonCode,
        authenticationMethod: props?.authenticationMethod,
        authenticationData: props?.authenticationData,
        properties: props,
      }),
    )
    .then(
      (answer: AuthResponse) => {
        if (connection.closed) return;
        // [MQTT-4.12.0-5] the same Authentication Method throughout the exchange
        const properties: Properties = { authenticationMethod: props?.authenticationMethod ?? method };
        if (answer.authenticationData) properties.authenticationData = answer.authenticationData;
        if (answer.userProperties) properties.userProperties = answer.userProperties;
        if (answer.reasonString) properties.reasonString = answer.reasonString;
        connection.send({ type: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties });
      },
      (error: unknown) =>
        fail(
          new MqttClientError(
            ClientErrorCode.AUTH_FAILED,
            `onAuth failed: ${(error as Error)?.message ?? error}`,
            {
              cause: error,
            },
          ),
        ),
    );
}
