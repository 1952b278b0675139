import type { ConnackPacket, Properties, QoS } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { validateTopicName } from '@x/topics';
import { ClientErrorCode, MqttClientError } from './errors.js';

/**
 * The checks on `publish()` arguments, including those that depend on what the server announced in
 * its CONNACK (Maximum QoS, Retain Available). A publish that breaks one fails on the caller's side
 * instead of making the server close the connection.
 */
export class PublishGate {
  // Until a CONNACK says otherwise: absent properties mean QoS 2 and retain are allowed.
  #maximumQoS: QoS = 2;
  #retainAvailable = true;
  /** The last topic that passed validation: publishing to one topic repeatedly checks it once. */
  #validTopic = '';

  /** Takes the limits of a new connection from its CONNACK. */
  connected(connack: ConnackPacket): void {
    this.#maximumQoS = connack.properties?.maximumQoS ?? 2;
    this.#retainAvailable = connack.properties?.retainAvailable ?? true;
  }

  /**
   * Throws when a publish with these arguments may not be sent.
   * @throws MqttClientError INVALID_ARGUMENT (with reason 0x9B or 0x9A when the server's limits forbid it).
   */
  check(topic: string, qos: QoS, retain: boolean, properties: Properties | undefined): void {
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, `qos must be 0, 1 or 2, not ${qos}`);
    }
    if (topic !== '' || properties?.topicAlias === undefined) {
      // [MQTT-3.3.2-2] no wildcards; [MQTT-4.7.3-1] at least one character
      if (topic !== this.#validTopic) {
        validateTopicName(topic);
        this.#validTopic = topic;
      }
    }
    if (qos > this.#maximumQoS) {
      // [MQTT-3.2.2-11]
      throw new MqttClientError(
        ClientErrorCode.INVALID_ARGUMENT,
        `the server accepts QoS ${this.#maximumQoS} at most`,
        {
          reasonCode: ReasonCode.QoSNotSupported,
          clause: 'MQTT-3.2.2-11',
        },
      );
    }
    if (retain && !this.#retainAvailable) {
      // [MQTT-3.2.2-14]
      throw new MqttClientError(
        ClientErrorCode.INVALID_ARGUMENT,
        'the server does not support retained messages',
        {
          reasonCode: ReasonCode.RetainNotSupported,
          clause: 'MQTT-3.2.2-14',
        },
      );
    }
  }
}
