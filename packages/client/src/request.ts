import type { Properties, QoS } from '@x/packets';
import { isFailureReasonCode, ReasonCode } from '@x/packets';
import { toText } from './bytes.js';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { Message } from './message.js';
import type { PublishOptions, PublishResult, SubscribeOptions, SubscribeResult } from './options.js';

/** Options of `client.request()`. */
export interface RequestOptions {
  /** QoS of the request and of the response subscription. Default 1. */
  qos?: QoS;
  /** Milliseconds to wait for the response. Default 30 000. */
  timeout?: number;
  /** Extra v5 properties of the request (userProperties, contentType, …). */
  properties?: Properties;
  /**
   * Where responses come back. Default: `{responseInformation or "x-reply"}/{clientId}`, subscribed
   * on first use.
   */
  responseTopic?: string;
}

/** What the tracker needs from the client. */
export interface RequestHost {
  readonly protocolVersion: number;
  readonly clientId: string;
  readonly connack: { properties?: Properties | undefined } | undefined;
  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  subscribe(filters: string, options?: SubscribeOptions): Promise<SubscribeResult[]>;
}

interface Pending {
  responseTopic: string;
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Request/response over MQTT 5 (section 4.10): Response Topic plus Correlation Data. */
export class RequestTracker {
  readonly #host: RequestHost;
  readonly #pending = new Map<string, Pending>();
  readonly #subscribed = new Map<string, Promise<unknown>>();
  #counter = 0;
  readonly #prefix = Math.random().toString(36).slice(2, 10);

  constructor(host: RequestHost) {
    this.#host = host;
  }

  async request(topic: string, payload: string | Uint8Array, options: RequestOptions = {}): Promise<Message> {
    if (this.#host.protocolVersion !== 5) {
      throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, 'request() needs MQTT 5 (Response Topic)');
    }
    const qos = options.qos ?? 1;
    const responseTopic = options.responseTopic ?? this.#defaultTopic();
    let subscribed = this.#subscribed.get(responseTopic);
    if (!subscribed) {
      subscribed = this.#host.subscribe(responseTopic, { qos }).then((results) => {
        const code = results[0]?.reasonCode ?? ReasonCode.UnspecifiedError;
        if (isFailureReasonCode(code)) {
          throw new MqttClientError(
            ClientErrorCode.INVALID_ARGUMENT,
            `cannot subscribe to response topic ${responseTopic}`,
            {
              reasonCode: code,
            },
          );
        }
      });
      subscribed.catch(() => this.#subscribed.delete(responseTopic));
      this.#subscribed.set(responseTopic, subscribed);
    }
    await subscribed;
    const key = `${this.#prefix}:${++this.#counter}`;
    const timeout = options.timeout ?? 30_000;
    const response = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(
          new MqttClientError(
            ClientErrorCode.REQUEST_TIMEOUT,
            `no response on ${responseTopic} within ${timeout} ms`,
          ),
        );
      }, timeout);
      this.#pending.set(key, { responseTopic, resolve, reject, timer });
    });
    const correlationData = new TextEncoder().encode(key);
    this.#host
      .publish(topic, payload, { qos, properties: { ...options.properties, responseTopic, correlationData } })
      .catch((error: Error) => this.#settle(key)?.reject(error));
    return response;
  }

  /** Answers a request message: publishes to its Response Topic with its Correlation Data. */
  respond(request: Message, payload: string | Uint8Array, options?: PublishOptions): Promise<PublishResult> {
    const responseTopic = request.properties?.responseTopic;
    if (!responseTopic) {
      return Promise.reject(
        new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, 'the message has no Response Topic'),
      );
    }
    const correlationData = request.properties?.correlationData;
    return this.#host.publish(responseTopic, payload, {
      ...options,
      properties: { ...options?.properties, ...(correlationData ? { correlationData } : {}) },
    });
  }

  /** Takes a message that answers a pending request; false for any other message. */
  handle(message: Message): boolean {
    if (this.#pending.size === 0) return false;
    const data = message.properties?.correlationData;
    if (!data) return false;
    // Same correlation data on another topic is not the answer: it may be the request itself,
    // when the requester also subscribes to the request topic.
    const key = toText(data);
    if (this.#pending.get(key)?.responseTopic !== message.topic) return false;
    (this.#settle(key) as Pending).resolve(message);
    return true;
  }

  close(error: Error): void {
    for (const key of [...this.#pending.keys()]) this.#settle(key)?.reject(error);
  }

  #settle(key: string): Pending | undefined {
    const pending = this.#pending.get(key);
    if (!pending) return undefined;
    this.#pending.delete(key);
    clearTimeout(pending.timer);
    return pending;
  }

  #defaultTopic(): string {
    const info = this.#host.connack?.properties?.responseInformation;
    const base = info ? info.replace(/\/+$/, '') : 'x-reply';
    return `${base}/${this.#host.clientId.replace(/[+#/]/g, '_')}`;
  }
}
