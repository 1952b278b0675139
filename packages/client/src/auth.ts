import type { AuthPacket, Properties } from '@x/packets';
import type { Connection } from './connection.js';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { AuthHandler, AuthResponse } from './options.js';

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
        connection.send({ type: 'auth', reasonCode: 0x18, properties });
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
